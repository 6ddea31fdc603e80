// mpcwallet._cbmpc: nanobind bindings for cb-mpc's public C++ API.
//
// Bound calls (all from cb-mpc's include/cbmpc/api/):
//   coinbase::api::ecdsa_2p::{dkg, refresh, sign, get_public_key_compressed}
//   coinbase::api::ecdsa_2p::{detach_private_scalar, attach_private_scalar}
//   coinbase::api::hd_keyset_ecdsa_2p::{dkg, refresh, derive_ecdsa_2p_keys,
//                                       extract_root_public_key_compressed}
//
// Threading: every protocol call runs with the GIL released (nb::gil_scoped_release). The
// transport (coinbase::api::data_transport_i) calls the Python object's ``send(bytes)`` and
// ``receive() -> bytes`` with the GIL re-acquired. A Python exception raised inside those
// callbacks makes the transport return E_NET_GENERAL to cb-mpc (so the protocol aborts) and is
// re-raised unchanged to the Python caller once the protocol call has returned.
//
// Errors: a non-zero cb-mpc error_t becomes ``mpcwallet._cbmpc.Error(code, op, detail)``;
// mpcwallet/engine/cbmpc.py maps it onto mpcwallet.errors. C++ exceptions (cb_assert throws
// coinbase::assertion_failed_t) never cross into Python as SystemError: they become Error with
// code EXCEPTION_CODE.
//
// Logging: cb-mpc writes error text to stderr unless coinbase::out_log_fun is set. We set it to
// a hook that keeps the text in a bounded thread-local buffer; after each call the binding
// hands it to the Python logger "mpcwallet.engine.cbmpc" at DEBUG. cb-mpc's error texts are
// static strings from its source (no key material, no protocol payloads).

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cxxabi.h>

#include <climits>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <cbmpc/api/curve.h>
#include <cbmpc/api/ecdsa_2p.h>
#include <cbmpc/api/hd_keyset_ecdsa_2p.h>
#include <cbmpc/core/buf.h>
#include <cbmpc/core/error.h>
#include <cbmpc/core/job.h>

namespace nb = nanobind;
using namespace nb::literals;

using coinbase::buf_t;
using coinbase::error_t;
using coinbase::mem_t;
namespace api = coinbase::api;

namespace {

// cb-mpc's crypto-category codes live in an internal header
// (include-internal/cbmpc/internal/crypto/base.h); the public C API header
// (include/cbmpc/c_api/common.h) repeats them as CBMPC_E_CRYPTO / CBMPC_E_ECDSA_2P_BIT_LEAK.
constexpr error_t kECrypto = error_t(ERRCODE(ECATEGORY_CRYPTO, 0x0001));
constexpr error_t kEEcdsa2pBitLeak = error_t(ERRCODE(ECATEGORY_CRYPTO, 0x0002));
// Not a cb-mpc code: a C++ exception escaped a cb-mpc call (e.g. a failed cb_assert).
constexpr error_t kExceptionCode = error_t(ERRCODE(ECATEGORY_GENERIC, 0x00fe));

// Largest message or blob we hand to cb-mpc (its own bound for opaque blobs is 1 MiB; mem_t
// sizes are int).
constexpr size_t kMaxInput = size_t(64) << 20;

PyObject* g_error_type = nullptr;

// ---- log hook ---------------------------------------------------------------------------------

constexpr size_t kMaxLog = 2048;
thread_local std::string t_log;

void log_hook(int /*mode*/, const char* text) {
  if (text == nullptr || t_log.size() >= kMaxLog) return;
  t_log.append(text, strnlen(text, kMaxLog - t_log.size()));
}

void flush_log(const char* op) {
  if (t_log.empty()) return;
  std::string text;
  text.swap(t_log);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  try {
    nb::object logger = nb::module_::import_("logging").attr("getLogger")("mpcwallet.engine.cbmpc");
    logger.attr("debug")("cb-mpc %s: %s", op, text);
  } catch (nb::python_error&) {
    PyErr_Clear();  // logging must never turn a result into an error
  }
}

// ---- errors -----------------------------------------------------------------------------------

[[noreturn]] void raise_error(error_t rv, const char* op, const char* detail) {
  nb::object args = nb::make_tuple(int(rv), op, detail);
  PyErr_SetObject(g_error_type, args.ptr());
  throw nb::python_error();
}

mem_t as_mem(const nb::bytes& b, const char* what) {
  if (b.size() > kMaxInput) {
    std::string msg = std::string(what) + " is too large";
    throw nb::value_error(msg.c_str());
  }
  return mem_t(reinterpret_cast<const uint8_t*>(b.c_str()), int(b.size()));
}

nb::bytes to_bytes(const buf_t& b) { return nb::bytes(reinterpret_cast<const char*>(b.data()), size_t(b.size())); }

// ---- transport --------------------------------------------------------------------------------

class PyTransport final : public api::data_transport_i {
 public:
  // Constructed and destroyed with the GIL held.
  explicit PyTransport(nb::handle obj) : send_(obj.attr("send")), receive_(obj.attr("receive")) {}

  error_t send(api::party_idx_t /*receiver*/, mem_t msg) override {
    nb::gil_scoped_acquire gil;
    if (pending_.is_valid()) return E_NET_GENERAL;
    try {
      send_(nb::bytes(reinterpret_cast<const char*>(msg.data), size_t(msg.size)));
      return SUCCESS;
    } catch (nb::python_error& e) {
      keep(e);
    } catch (const std::exception&) {
      keep_type_error("transport.send failed");
    }
    return E_NET_GENERAL;
  }

  error_t receive(api::party_idx_t /*sender*/, buf_t& msg) override {
    nb::gil_scoped_acquire gil;
    if (pending_.is_valid()) return E_NET_GENERAL;
    try {
      nb::object got = receive_();
      if (!nb::isinstance<nb::bytes>(got)) {
        keep_type_error("transport.receive() must return bytes");
        return E_NET_GENERAL;
      }
      nb::bytes b = nb::borrow<nb::bytes>(got);
      if (b.size() > kMaxInput) {
        keep_type_error("transport.receive() returned an oversized message");
        return E_NET_GENERAL;
      }
      msg = buf_t(reinterpret_cast<const uint8_t*>(b.c_str()), int(b.size()));
      return SUCCESS;
    } catch (nb::python_error& e) {
      keep(e);
    } catch (const std::exception&) {
      keep_type_error("transport.receive failed");
    }
    return E_NET_GENERAL;
  }

  error_t receive_all(const std::vector<api::party_idx_t>& senders, std::vector<buf_t>& msgs) override {
    msgs.clear();
    msgs.resize(senders.size());
    for (size_t i = 0; i < senders.size(); i++) {
      if (error_t rv = receive(senders[i], msgs[i])) return rv;
    }
    return SUCCESS;
  }

  // With the GIL held: re-raise the exception a callback raised, if any.
  void rethrow_pending() {
    if (!pending_.is_valid()) return;
    nb::object exc = std::move(pending_);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    throw nb::python_error();
  }

 private:
  void keep(nb::python_error& e) {
    if (!pending_.is_valid()) pending_ = nb::borrow(e.value());
  }
  void keep_type_error(const char* text) {
    if (pending_.is_valid()) return;
    pending_ = nb::steal(PyObject_CallFunction(PyExc_TypeError, "s", text));
    if (!pending_.is_valid()) PyErr_Clear();
  }

  nb::object send_;
  nb::object receive_;
  nb::object pending_;  // the first exception a callback raised
};

// ---- running a call ---------------------------------------------------------------------------

api::party_2p_t party_of(int role) {
  // Our Role enum: 1 = P1 (client), 2 = P2 (co-signer); cb-mpc: p1 = 0, p2 = 1.
  if (role == 1) return api::party_2p_t::p1;
  if (role == 2) return api::party_2p_t::p2;
  throw nb::value_error("role must be 1 (P1) or 2 (P2)");
}

// Runs fn() with the GIL released and C++ exceptions contained, then (GIL held) flushes the
// log, re-raises a transport callback's exception, or raises Error for a non-zero code.
template <typename F>
void run(const char* op, PyTransport* transport, F&& fn) {
  error_t rv = SUCCESS;
  bool threw = false;
  t_log.clear();
  {
    nb::gil_scoped_release release;
    try {
      rv = fn();
    } catch (abi::__forced_unwind&) {
      // Thread cancellation (CPython ends a daemon thread that asks for the GIL while the
      // interpreter finalizes): must propagate, or the runtime aborts the process.
      throw;
    } catch (...) {
      threw = true;
    }
  }
  flush_log(op);
  if (transport != nullptr) transport->rethrow_pending();
  if (threw) raise_error(kExceptionCode, op, "cb-mpc raised an internal exception");
  if (rv != SUCCESS) raise_error(rv, op, "cb-mpc returned an error");
}

struct Names {
  std::string p1, p2;
};

api::bip32_path_t to_path(const std::vector<uint32_t>& v) { return api::bip32_path_t{v}; }

// ---- ecdsa_2p ---------------------------------------------------------------------------------

nb::bytes ecdsa_2p_dkg(int role, std::string p1, std::string p2, nb::handle transport) {
  PyTransport t(transport);
  const api::job_2p_t job{party_of(role), p1, p2, t};
  buf_t out;
  run("ecdsa_2p.dkg", &t, [&] { return api::ecdsa_2p::dkg(job, api::curve_id::secp256k1, out); });
  return to_bytes(out);
}

nb::bytes ecdsa_2p_refresh(int role, std::string p1, std::string p2, nb::handle transport, nb::bytes key_blob) {
  PyTransport t(transport);
  const api::job_2p_t job{party_of(role), p1, p2, t};
  const mem_t key = as_mem(key_blob, "key_blob");
  buf_t out;
  run("ecdsa_2p.refresh", &t, [&] { return api::ecdsa_2p::refresh(job, key, out); });
  return to_bytes(out);
}

nb::tuple ecdsa_2p_sign(int role, std::string p1, std::string p2, nb::handle transport, nb::bytes key_blob,
                        nb::bytes msg_hash, nb::bytes sid) {
  PyTransport t(transport);
  const api::job_2p_t job{party_of(role), p1, p2, t};
  const mem_t key = as_mem(key_blob, "key_blob");
  const mem_t hash = as_mem(msg_hash, "msg_hash");
  const mem_t sid_in = as_mem(sid, "sid");
  buf_t sid_buf(sid_in.data, sid_in.size);
  buf_t sig;
  run("ecdsa_2p.sign", &t, [&] { return api::ecdsa_2p::sign(job, key, hash, sid_buf, sig); });
  return nb::make_tuple(to_bytes(sid_buf), to_bytes(sig));
}

nb::bytes ecdsa_2p_public_key(nb::bytes key_blob) {
  const mem_t key = as_mem(key_blob, "key_blob");
  buf_t out;
  run("ecdsa_2p.get_public_key_compressed", nullptr,
      [&] { return api::ecdsa_2p::get_public_key_compressed(key, out); });
  return to_bytes(out);
}

nb::tuple ecdsa_2p_detach(nb::bytes key_blob) {
  const mem_t key = as_mem(key_blob, "key_blob");
  buf_t detached, scalar;
  run("ecdsa_2p.detach_private_scalar", nullptr,
      [&] { return api::ecdsa_2p::detach_private_scalar(key, detached, scalar); });
  return nb::make_tuple(to_bytes(detached), to_bytes(scalar));
}

nb::bytes ecdsa_2p_attach(nb::bytes detached_blob, nb::bytes private_scalar, nb::bytes public_share) {
  const mem_t detached = as_mem(detached_blob, "scalar_detached_key_blob");
  const mem_t scalar = as_mem(private_scalar, "private_scalar");
  const mem_t share = as_mem(public_share, "public_share_compressed");
  buf_t out;
  run("ecdsa_2p.attach_private_scalar", nullptr,
      [&] { return api::ecdsa_2p::attach_private_scalar(detached, scalar, share, out); });
  return to_bytes(out);
}

// ---- hd_keyset_ecdsa_2p -----------------------------------------------------------------------

nb::bytes hd_dkg(int role, std::string p1, std::string p2, nb::handle transport) {
  PyTransport t(transport);
  const api::job_2p_t job{party_of(role), p1, p2, t};
  buf_t out;
  run("hd_keyset_ecdsa_2p.dkg", &t,
      [&] { return api::hd_keyset_ecdsa_2p::dkg(job, api::curve_id::secp256k1, out); });
  return to_bytes(out);
}

nb::bytes hd_refresh(int role, std::string p1, std::string p2, nb::handle transport, nb::bytes keyset_blob) {
  PyTransport t(transport);
  const api::job_2p_t job{party_of(role), p1, p2, t};
  const mem_t keyset = as_mem(keyset_blob, "keyset_blob");
  buf_t out;
  run("hd_keyset_ecdsa_2p.refresh", &t, [&] { return api::hd_keyset_ecdsa_2p::refresh(job, keyset, out); });
  return to_bytes(out);
}

nb::tuple hd_derive(int role, std::string p1, std::string p2, nb::handle transport, nb::bytes keyset_blob,
                    std::vector<uint32_t> hardened_path, std::vector<std::vector<uint32_t>> non_hardened_paths,
                    nb::bytes sid) {
  PyTransport t(transport);
  const api::job_2p_t job{party_of(role), p1, p2, t};
  const mem_t keyset = as_mem(keyset_blob, "keyset_blob");
  const mem_t sid_in = as_mem(sid, "sid");
  buf_t sid_buf(sid_in.data, sid_in.size);
  const api::bip32_path_t hardened = to_path(hardened_path);
  std::vector<api::bip32_path_t> paths;
  paths.reserve(non_hardened_paths.size());
  for (const auto& p : non_hardened_paths) paths.push_back(to_path(p));
  std::vector<buf_t> blobs;
  run("hd_keyset_ecdsa_2p.derive_ecdsa_2p_keys", &t, [&] {
    return api::hd_keyset_ecdsa_2p::derive_ecdsa_2p_keys(job, keyset, hardened, paths, sid_buf, blobs);
  });
  nb::list out;
  for (const auto& b : blobs) out.append(to_bytes(b));
  return nb::make_tuple(to_bytes(sid_buf), out);
}

nb::bytes hd_root_public_key(nb::bytes keyset_blob) {
  const mem_t keyset = as_mem(keyset_blob, "keyset_blob");
  buf_t out;
  run("hd_keyset_ecdsa_2p.extract_root_public_key_compressed", nullptr,
      [&] { return api::hd_keyset_ecdsa_2p::extract_root_public_key_compressed(keyset, out); });
  return to_bytes(out);
}

}  // namespace

NB_MODULE(_cbmpc, m) {
  m.doc() = "Bindings for cb-mpc's public ECDSA-2PC API (coinbase::api::ecdsa_2p, hd_keyset_ecdsa_2p).";

  // Route cb-mpc's error text away from stderr (see log_hook).
  coinbase::out_log_fun = &log_hook;

  g_error_type = PyErr_NewExceptionWithDoc(
      "mpcwallet._cbmpc.Error", "A cb-mpc call failed. args: (code: int, op: str, detail: str).",
      PyExc_Exception, nullptr);
  if (g_error_type == nullptr) throw nb::python_error();
  m.attr("Error") = nb::handle(g_error_type);

  m.attr("SUCCESS") = int(SUCCESS);
  m.attr("E_GENERAL") = int(E_GENERAL);
  m.attr("E_BADARG") = int(E_BADARG);
  m.attr("E_FORMAT") = int(E_FORMAT);
  m.attr("E_NOT_SUPPORTED") = int(E_NOT_SUPPORTED);
  m.attr("E_NOT_FOUND") = int(E_NOT_FOUND);
  m.attr("E_INSUFFICIENT") = int(E_INSUFFICIENT);
  m.attr("E_RANGE") = int(E_RANGE);
  m.attr("E_NET_GENERAL") = int(E_NET_GENERAL);
  m.attr("E_CRYPTO") = int(kECrypto);
  m.attr("E_ECDSA_2P_BIT_LEAK") = int(kEEcdsa2pBitLeak);
  m.attr("EXCEPTION_CODE") = int(kExceptionCode);
  m.attr("ECATEGORY_GENERIC") = int(ECATEGORY_GENERIC);
  m.attr("ECATEGORY_NETWORK") = int(ECATEGORY_NETWORK);
  m.attr("ECATEGORY_CRYPTO") = int(ECATEGORY_CRYPTO);
  m.attr("ECATEGORY_OPENSSL") = int(ECATEGORY_OPENSSL);

  m.def("ecdsa_2p_dkg", &ecdsa_2p_dkg, "role"_a, "p1_name"_a, "p2_name"_a, "transport"_a,
        "Two-party key generation on secp256k1; returns this party's cb-mpc key blob.");
  m.def("ecdsa_2p_refresh", &ecdsa_2p_refresh, "role"_a, "p1_name"_a, "p2_name"_a, "transport"_a, "key_blob"_a,
        "Refresh this party's share (same public key); returns the new key blob.");
  m.def("ecdsa_2p_sign", &ecdsa_2p_sign, "role"_a, "p1_name"_a, "p2_name"_a, "transport"_a, "key_blob"_a,
        "msg_hash"_a, "sid"_a = nb::bytes(""),
        "Sign a digest. Returns (sid, der); der is empty on P2. An empty sid lets the protocol derive one.");
  m.def("ecdsa_2p_public_key", &ecdsa_2p_public_key, "key_blob"_a,
        "SEC1-compressed public key of a key blob.");
  m.def("ecdsa_2p_detach_private_scalar", &ecdsa_2p_detach, "key_blob"_a,
        "Split a key blob into (scalar-detached blob, big-endian private scalar share).");
  m.def("ecdsa_2p_attach_private_scalar", &ecdsa_2p_attach, "scalar_detached_key_blob"_a, "private_scalar"_a,
        "public_share_compressed"_a,
        "Attach a private scalar share (checked against its public share point) to a detached blob.");
  m.def("hd_keyset_ecdsa_2p_dkg", &hd_dkg, "role"_a, "p1_name"_a, "p2_name"_a, "transport"_a,
        "Two-party HD keyset generation on secp256k1; returns this party's keyset blob.");
  m.def("hd_keyset_ecdsa_2p_refresh", &hd_refresh, "role"_a, "p1_name"_a, "p2_name"_a, "transport"_a,
        "keyset_blob"_a, "Refresh this party's HD keyset share; returns the new keyset blob.");
  m.def("hd_keyset_ecdsa_2p_derive", &hd_derive, "role"_a, "p1_name"_a, "p2_name"_a, "transport"_a,
        "keyset_blob"_a, "hardened_path"_a, "non_hardened_paths"_a, "sid"_a = nb::bytes(""),
        "Derive ecdsa_2p key blobs; returns (sid, [key_blob per non-hardened path]).");
  m.def("hd_keyset_ecdsa_2p_root_public_key", &hd_root_public_key, "keyset_blob"_a,
        "SEC1-compressed root public key of a keyset blob.");
}
