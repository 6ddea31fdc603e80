// Shared pieces of the binding (see common.h).

#include "common.h"

#include <nanobind/stl/string.h>

#include <cstring>
#include <string_view>

#include <cbmpc/core/access_structure_limits.h>

namespace mpcw {

PyObject* g_error_type = nullptr;

// ---- log hook ---------------------------------------------------------------------------------
// cb-mpc writes error text to stderr unless coinbase::out_log_fun is set. The hook keeps it in a
// bounded thread-local buffer; after each call it goes to the Python logger
// "mpcwallet.engine.cbmpc" at DEBUG. cb-mpc's error texts are static strings from its source.

namespace {
constexpr size_t kMaxLog = 2048;
thread_local std::string t_log;
}  // namespace

void log_hook(int /*mode*/, const char* text) {
  if (text == nullptr || t_log.size() >= kMaxLog) return;
  t_log.append(text, strnlen(text, kMaxLog - t_log.size()));
}

void clear_log() { t_log.clear(); }

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

// ---- errors and bytes -------------------------------------------------------------------------

void raise_error(error_t rv, const char* op, const char* detail) {
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

std::vector<mem_t> as_mems(const std::vector<nb::bytes>& v, const char* what) {
  std::vector<mem_t> out;
  out.reserve(v.size());
  for (const auto& b : v) out.push_back(as_mem(b, what));
  return out;
}

nb::list to_list(const std::vector<buf_t>& v) {
  nb::list out;
  for (const auto& b : v) out.append(to_bytes(b));
  return out;
}

// ---- callbacks --------------------------------------------------------------------------------

void Callbacks::rethrow_pending() {
  if (!pending_.is_valid()) return;
  nb::object exc = std::move(pending_);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw nb::python_error();
}

void Callbacks::keep(nb::python_error& e) {
  if (!pending_.is_valid()) pending_ = nb::borrow(e.value());
}

void Callbacks::keep_error(PyObject* type, const char* text) {
  if (pending_.is_valid()) return;
  pending_ = nb::steal(PyObject_CallFunction(type, "s", text));
  if (!pending_.is_valid()) PyErr_Clear();
}

// ---- two-party transport ----------------------------------------------------------------------

PyTransport::PyTransport(nb::handle obj) : send_(obj.attr("send")), receive_(obj.attr("receive")) {}

error_t PyTransport::send(api::party_idx_t /*receiver*/, mem_t msg) {
  return guarded("transport.send failed", [&]() -> error_t {
    send_(nb::bytes(reinterpret_cast<const char*>(msg.data), size_t(msg.size)));
    return SUCCESS;
  });
}

error_t PyTransport::receive(api::party_idx_t /*sender*/, buf_t& msg) {
  return guarded("transport.receive failed", [&]() -> error_t {
    nb::object got = receive_();
    if (!nb::isinstance<nb::bytes>(got)) {
      keep_error(PyExc_TypeError, "transport.receive() must return bytes");
      return E_NET_GENERAL;
    }
    nb::bytes b = nb::borrow<nb::bytes>(got);
    if (b.size() > kMaxInput) {
      keep_error(PyExc_TypeError, "transport.receive() returned an oversized message");
      return E_NET_GENERAL;
    }
    msg = buf_t(reinterpret_cast<const uint8_t*>(b.c_str()), int(b.size()));
    return SUCCESS;
  });
}

error_t PyTransport::receive_all(const std::vector<api::party_idx_t>& senders, std::vector<buf_t>& msgs) {
  msgs.clear();
  msgs.resize(senders.size());
  for (size_t i = 0; i < senders.size(); i++) {
    if (error_t rv = receive(senders[i], msgs[i])) return rv;
  }
  return SUCCESS;
}

// ---- multi-party transport --------------------------------------------------------------------

PyMpTransport::PyMpTransport(nb::handle obj, size_t max_message)
    : send_(obj.attr("send")),
      receive_(obj.attr("receive")),
      receive_all_(obj.attr("receive_all")),
      max_(max_message < kMaxInput ? max_message : kMaxInput) {}

bool PyMpTransport::take(nb::handle got, buf_t& out, const char* what) {
  if (!nb::isinstance<nb::bytes>(got)) {
    std::string text = std::string("transport.") + what + " must return bytes";
    keep_error(PyExc_TypeError, text.c_str());
    return false;
  }
  nb::bytes b = nb::borrow<nb::bytes>(got);
  if (b.size() > max_) {
    std::string text = std::string("transport.") + what + " returned a message over the size bound";
    keep_error(PyExc_ValueError, text.c_str());
    return false;
  }
  out = buf_t(reinterpret_cast<const uint8_t*>(b.c_str()), int(b.size()));
  return true;
}

error_t PyMpTransport::send(api::party_idx_t receiver, mem_t msg) {
  return guarded("transport.send failed", [&]() -> error_t {
    if (size_t(msg.size) > max_) {
      keep_error(PyExc_ValueError, "cb-mpc produced a message over the size bound");
      return E_NET_GENERAL;
    }
    send_(int(receiver), nb::bytes(reinterpret_cast<const char*>(msg.data), size_t(msg.size)));
    return SUCCESS;
  });
}

error_t PyMpTransport::receive(api::party_idx_t sender, buf_t& msg) {
  return guarded("transport.receive failed",
                 [&]() -> error_t { return take(receive_(int(sender)), msg, "receive()") ? SUCCESS : E_NET_GENERAL; });
}

error_t PyMpTransport::receive_all(const std::vector<api::party_idx_t>& senders, std::vector<buf_t>& msgs) {
  msgs.clear();
  return guarded("transport.receive_all failed", [&]() -> error_t {
    nb::list from;
    for (auto s : senders) from.append(int(s));
    nb::object got = receive_all_(from);
    if (!nb::isinstance<nb::list>(got) && !nb::isinstance<nb::tuple>(got)) {
      keep_error(PyExc_TypeError, "transport.receive_all() must return a list of bytes");
      return E_NET_GENERAL;
    }
    if (nb::len(got) != senders.size()) {
      keep_error(PyExc_ValueError, "transport.receive_all() must return one message per sender");
      return E_NET_GENERAL;
    }
    msgs.resize(senders.size());
    for (size_t i = 0; i < senders.size(); i++) {
      if (!take(got[i], msgs[i], "receive_all()")) return E_NET_GENERAL;
    }
    return SUCCESS;
  });
}

// ---- names and access structures --------------------------------------------------------------

Names::Names(std::vector<std::string> v) : owned(std::move(v)) {
  views.reserve(owned.size());
  for (const auto& s : owned) views.emplace_back(s);
}

AccessTree::AccessTree(nb::handle obj) {
  int nodes = 0;
  root = node(obj, 0, nodes);
}

api::access_structure_t AccessTree::node(nb::handle obj, int depth, int& nodes) {
  using as_t = api::access_structure_t;
  // cb-mpc checks the same bounds (access_structure_util.h); ours keep this recursion bounded.
  if (depth > CBMPC_ACCESS_STRUCTURE_MAX_DEPTH) throw nb::value_error("access structure is too deep");
  if (++nodes > CBMPC_ACCESS_STRUCTURE_MAX_NODES) throw nb::value_error("access structure has too many nodes");
  if (nb::isinstance<nb::str>(obj)) {
    leaves.emplace_back(nb::cast<std::string>(obj));
    return as_t::leaf(leaves.back());
  }
  if (!nb::isinstance<nb::tuple>(obj) || nb::len(obj) != 3)
    throw nb::type_error("access structure node must be a str or a (kind, k, children) tuple");
  nb::object kind_obj = obj[0], k_obj = obj[1];
  if (!nb::isinstance<nb::str>(kind_obj) || !nb::isinstance<nb::int_>(k_obj))
    throw nb::type_error("access structure node must be (kind: str, k: int, children)");
  const std::string kind = nb::cast<std::string>(kind_obj);
  int k = 0;
  if (!nb::try_cast<int>(k_obj, k)) throw nb::value_error("access structure threshold is out of range");
  std::vector<as_t> children;
  for (nb::handle child : obj[2]) children.push_back(node(child, depth + 1, nodes));
  if (kind == "and") return as_t::And(std::move(children));
  if (kind == "or") return as_t::Or(std::move(children));
  if (kind == "threshold") return as_t::Threshold(k, std::move(children));
  throw nb::value_error("access structure kind must be 'and', 'or' or 'threshold'");
}

}  // namespace mpcw
