// Shared pieces of the mpcwallet._cbmpc binding: errors, the log hook, byte conversions, the
// Python transports, access structures, and run() (every cb-mpc call goes through it).
// The module's overview (threading, errors, logging) is at the top of cbmpc_module.cpp.

#pragma once

#include <nanobind/nanobind.h>

#include <cxxabi.h>

#include <cstddef>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include <cbmpc/api/curve.h>
#include <cbmpc/core/access_structure.h>
#include <cbmpc/core/buf.h>
#include <cbmpc/core/error.h>
#include <cbmpc/core/job.h>

namespace mpcw {

namespace nb = nanobind;
namespace api = coinbase::api;
using coinbase::buf_t;
using coinbase::error_t;
using coinbase::mem_t;

// cb-mpc's crypto-category codes live in an internal header
// (include-internal/cbmpc/internal/crypto/base.h); the public C API header
// (include/cbmpc/c_api/common.h) repeats them as CBMPC_E_CRYPTO / CBMPC_E_ECDSA_2P_BIT_LEAK.
constexpr error_t kECrypto = error_t(ERRCODE(ECATEGORY_CRYPTO, 0x0001));
constexpr error_t kEEcdsa2pBitLeak = error_t(ERRCODE(ECATEGORY_CRYPTO, 0x0002));
// Not a cb-mpc code: a C++ exception escaped a cb-mpc call (e.g. a failed cb_assert).
constexpr error_t kExceptionCode = error_t(ERRCODE(ECATEGORY_GENERIC, 0x00fe));

// Largest blob we hand to cb-mpc (its own bound for opaque blobs is 1 MiB; mem_t sizes are int).
constexpr size_t kMaxInput = size_t(64) << 20;
// Default bound on one protocol message crossing a multi-party transport, either way
// (mpcwallet.engine.base.MAX_MESSAGE_BYTES; a call may pass its own).
constexpr size_t kMaxMessage = size_t(1) << 20;

extern PyObject* g_error_type;  // mpcwallet._cbmpc.Error

void log_hook(int mode, const char* text);

[[noreturn]] void raise_error(error_t rv, const char* op, const char* detail);

mem_t as_mem(const nb::bytes& b, const char* what);
std::vector<mem_t> as_mems(const std::vector<nb::bytes>& v, const char* what);
inline nb::bytes to_bytes(const buf_t& b) {
  return nb::bytes(reinterpret_cast<const char*>(b.data()), size_t(b.size()));
}
nb::list to_list(const std::vector<buf_t>& v);

// ---- transports -------------------------------------------------------------------------------

// Keeps the first Python exception a callback raised, to re-raise it once cb-mpc returned.
// Every method is called with the GIL held.
class Callbacks {
 public:
  virtual ~Callbacks() = default;
  void rethrow_pending();
  bool failed() const { return pending_.is_valid(); }

 protected:
  void keep(nb::python_error& e);
  void keep_error(PyObject* type, const char* text);
  // One transport callback, ``body`` (returns an error_t), under the GIL: E_NET_GENERAL at once
  // when an earlier callback failed; a Python exception it raises (or a TypeError saying
  // ``failure`` for any other) is kept for rethrow_pending() and cb-mpc sees E_NET_GENERAL.
  template <typename F>
  error_t guarded(const char* failure, F&& body) {
    nb::gil_scoped_acquire gil;
    if (failed()) return E_NET_GENERAL;
    try {
      return body();
    } catch (nb::python_error& e) {
      keep(e);
    } catch (const std::exception&) {
      keep_error(PyExc_TypeError, failure);
    }
    return E_NET_GENERAL;
  }
  nb::object pending_;
};

// coinbase::api::data_transport_i over a Python object with send(bytes) / receive() -> bytes
// (the two-party mpcwallet.engine.base.Transport; the peer is implied).
class PyTransport final : public api::data_transport_i, public Callbacks {
 public:
  explicit PyTransport(nb::handle obj);  // GIL held
  error_t send(api::party_idx_t receiver, mem_t msg) override;
  error_t receive(api::party_idx_t sender, buf_t& msg) override;
  error_t receive_all(const std::vector<api::party_idx_t>& senders, std::vector<buf_t>& msgs) override;

 private:
  nb::object send_, receive_;
};

// coinbase::api::data_transport_i over a Python object with send(to, bytes), receive(sender)
// -> bytes and receive_all(senders) -> list[bytes] (mpcwallet.engine.base_mp.MpTransport).
// Indices are positions in the job's party list. Each message, either way, is at most
// ``max_message`` bytes; a callback that raised makes every later call fail at once.
class PyMpTransport final : public api::data_transport_i, public Callbacks {
 public:
  PyMpTransport(nb::handle obj, size_t max_message);  // GIL held
  error_t send(api::party_idx_t receiver, mem_t msg) override;
  error_t receive(api::party_idx_t sender, buf_t& msg) override;
  error_t receive_all(const std::vector<api::party_idx_t>& senders, std::vector<buf_t>& msgs) override;

 private:
  bool take(nb::handle got, buf_t& out, const char* what);
  nb::object send_, receive_, receive_all_;
  size_t max_;
};

// ---- names and access structures --------------------------------------------------------------

// Party names as cb-mpc's string_view vectors; owns the characters for the duration of a call.
struct Names {
  explicit Names(std::vector<std::string> v);
  std::vector<std::string> owned;
  std::vector<std::string_view> views;
};

// An access structure from its Python form (mpcwallet.engine.base_mp.AccessStructure.native()):
// a leaf is a str, an inner node a tuple (kind, k, children) with kind "and", "or" or
// "threshold". Owns the leaf names cb-mpc's view type points into.
struct AccessTree {
  explicit AccessTree(nb::handle obj);  // GIL held; TypeError/ValueError on a bad shape
  std::deque<std::string> leaves;
  api::access_structure_t root;

 private:
  api::access_structure_t node(nb::handle obj, int depth, int& nodes);
};

// ---- running a call ---------------------------------------------------------------------------

void clear_log();
void flush_log(const char* op);

// Runs fn() with the GIL released and C++ exceptions contained, then (GIL held) flushes the
// log, re-raises a transport callback's exception, or raises Error for a non-zero code.
template <typename F>
void run(const char* op, Callbacks* transport, F&& fn) {
  error_t rv = SUCCESS;
  bool threw = false;
  clear_log();
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

void bind_ecdsa_2p(nb::module_& m);
void bind_ecdsa_mp(nb::module_& m);
void bind_pve(nb::module_& m);

}  // namespace mpcw
