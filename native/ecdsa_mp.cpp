// Multi-party bindings: coinbase::api::ecdsa_mp (include/cbmpc/api/ecdsa_mp.h) on secp256k1.
//
// A job is (self, party_names, transport): ``self`` indexes ``party_names``, the transport
// addresses parties by the same indices. For dkg/refresh the list names every party of the key
// (all must take part); for sign it names the signing parties only (cb-mpc sign_ac derives
// additive shares for exactly that set), so indices are positions in that list.
// ``sid`` is cb-mpc's in/out session id: empty lets the protocol agree one among the parties.

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include <cbmpc/api/ecdsa_mp.h>

#include "common.h"

namespace mpcw {

using namespace nb::literals;

namespace {

constexpr api::curve_id kCurve = api::curve_id::secp256k1;
namespace mp = api::ecdsa_mp;

// What every protocol call needs: the names (owned), the transport, and cb-mpc's job view.
struct Call {
  Call(int self, std::vector<std::string> party_names, nb::handle transport, size_t max_message)
      : names(std::move(party_names)), t(transport, max_message), job{api::party_idx_t(self), names.views, t} {}
  Names names;
  PyMpTransport t;
  api::job_mp_t job;
};

nb::tuple dkg_additive(int self, std::vector<std::string> party_names, nb::handle transport, size_t max_message) {
  Call c(self, std::move(party_names), transport, max_message);
  buf_t sid, out;
  run("ecdsa_mp.dkg_additive", &c.t, [&] { return mp::dkg_additive(c.job, kCurve, out, sid); });
  return nb::make_tuple(to_bytes(sid), to_bytes(out));
}

nb::tuple dkg_ac(int self, std::vector<std::string> party_names, nb::handle transport, nb::handle access,
                 std::vector<std::string> quorum, nb::bytes sid, size_t max_message) {
  AccessTree ac(access);
  Names q(std::move(quorum));
  const mem_t sid_in = as_mem(sid, "sid");
  Call c(self, std::move(party_names), transport, max_message);
  buf_t sid_buf(sid_in.data, sid_in.size), out;
  run("ecdsa_mp.dkg_ac", &c.t, [&] { return mp::dkg_ac(c.job, kCurve, sid_buf, ac.root, q.views, out); });
  return nb::make_tuple(to_bytes(sid_buf), to_bytes(out));
}

nb::tuple refresh_additive(int self, std::vector<std::string> party_names, nb::handle transport, nb::bytes key_blob,
                           nb::bytes sid, size_t max_message) {
  const mem_t key = as_mem(key_blob, "key_blob");
  const mem_t sid_in = as_mem(sid, "sid");
  Call c(self, std::move(party_names), transport, max_message);
  buf_t sid_buf(sid_in.data, sid_in.size), out;
  run("ecdsa_mp.refresh_additive", &c.t, [&] { return mp::refresh_additive(c.job, sid_buf, key, out); });
  return nb::make_tuple(to_bytes(sid_buf), to_bytes(out));
}

nb::tuple refresh_ac(int self, std::vector<std::string> party_names, nb::handle transport, nb::bytes key_blob,
                     nb::handle access, std::vector<std::string> quorum, nb::bytes sid, size_t max_message) {
  AccessTree ac(access);
  Names q(std::move(quorum));
  const mem_t key = as_mem(key_blob, "key_blob");
  const mem_t sid_in = as_mem(sid, "sid");
  Call c(self, std::move(party_names), transport, max_message);
  buf_t sid_buf(sid_in.data, sid_in.size), out;
  run("ecdsa_mp.refresh_ac", &c.t, [&] { return mp::refresh_ac(c.job, sid_buf, key, ac.root, q.views, out); });
  return nb::make_tuple(to_bytes(sid_buf), to_bytes(out));
}

nb::bytes sign_additive(int self, std::vector<std::string> party_names, nb::handle transport, nb::bytes key_blob,
                        nb::bytes msg_hash, int sig_receiver, size_t max_message) {
  const mem_t key = as_mem(key_blob, "key_blob");
  const mem_t hash = as_mem(msg_hash, "msg_hash");
  Call c(self, std::move(party_names), transport, max_message);
  buf_t sig;
  run("ecdsa_mp.sign_additive", &c.t, [&] { return mp::sign_additive(c.job, key, hash, sig_receiver, sig); });
  return to_bytes(sig);
}

nb::bytes sign_ac(int self, std::vector<std::string> party_names, nb::handle transport, nb::bytes key_blob,
                  nb::handle access, nb::bytes msg_hash, int sig_receiver, size_t max_message) {
  AccessTree ac(access);
  const mem_t key = as_mem(key_blob, "key_blob");
  const mem_t hash = as_mem(msg_hash, "msg_hash");
  Call c(self, std::move(party_names), transport, max_message);
  buf_t sig;
  run("ecdsa_mp.sign_ac", &c.t, [&] { return mp::sign_ac(c.job, key, ac.root, hash, sig_receiver, sig); });
  return to_bytes(sig);
}

nb::bytes public_key(nb::bytes key_blob) {
  const mem_t key = as_mem(key_blob, "key_blob");
  buf_t out;
  run("ecdsa_mp.get_public_key_compressed", nullptr, [&] { return mp::get_public_key_compressed(key, out); });
  return to_bytes(out);
}

nb::bytes public_share(nb::bytes key_blob) {
  const mem_t key = as_mem(key_blob, "key_blob");
  buf_t out;
  run("ecdsa_mp.get_public_share_compressed", nullptr, [&] { return mp::get_public_share_compressed(key, out); });
  return to_bytes(out);
}

nb::tuple detach(nb::bytes key_blob) {
  const mem_t key = as_mem(key_blob, "key_blob");
  buf_t detached, scalar;
  run("ecdsa_mp.detach_private_scalar", nullptr, [&] { return mp::detach_private_scalar(key, detached, scalar); });
  return nb::make_tuple(to_bytes(detached), to_bytes(scalar));
}

nb::bytes attach(nb::bytes public_key_blob, nb::bytes private_scalar, nb::bytes public_share) {
  const mem_t detached = as_mem(public_key_blob, "public_key_blob");
  const mem_t scalar = as_mem(private_scalar, "private_scalar");
  const mem_t share = as_mem(public_share, "public_share_compressed");
  buf_t out;
  run("ecdsa_mp.attach_private_scalar", nullptr,
      [&] { return mp::attach_private_scalar(detached, scalar, share, out); });
  return to_bytes(out);
}

}  // namespace

void bind_ecdsa_mp(nb::module_& m) {
  const size_t mm = kMaxMessage;
  m.def("ecdsa_mp_dkg_additive", &dkg_additive, "self_index"_a, "party_names"_a, "transport"_a,
        "max_message"_a = mm, "n-of-n key generation (additive shares); returns (sid, key_blob).");
  m.def("ecdsa_mp_dkg_ac", &dkg_ac, "self_index"_a, "party_names"_a, "transport"_a, "access"_a, "quorum"_a,
        "sid"_a = nb::bytes(""), "max_message"_a = mm,
        "Key generation under an access structure; every party takes part, the quorum contributes. "
        "Returns (sid, key_blob).");
  m.def("ecdsa_mp_refresh_additive", &refresh_additive, "self_index"_a, "party_names"_a, "transport"_a,
        "key_blob"_a, "sid"_a = nb::bytes(""), "max_message"_a = mm,
        "Refresh an additive key share (same public key); returns (sid, key_blob).");
  m.def("ecdsa_mp_refresh_ac", &refresh_ac, "self_index"_a, "party_names"_a, "transport"_a, "key_blob"_a,
        "access"_a, "quorum"_a, "sid"_a = nb::bytes(""), "max_message"_a = mm,
        "Refresh an access-structure key share (same public key); returns (sid, key_blob).");
  m.def("ecdsa_mp_sign_additive", &sign_additive, "self_index"_a, "party_names"_a, "transport"_a, "key_blob"_a,
        "msg_hash"_a, "sig_receiver"_a, "max_message"_a = mm,
        "Sign a digest with every party; DER on sig_receiver, empty bytes elsewhere.");
  m.def("ecdsa_mp_sign_ac", &sign_ac, "self_index"_a, "party_names"_a, "transport"_a, "key_blob"_a, "access"_a,
        "msg_hash"_a, "sig_receiver"_a, "max_message"_a = mm,
        "Sign a digest with the quorum named by party_names; DER on sig_receiver, empty bytes elsewhere.");
  m.def("ecdsa_mp_public_key", &public_key, "key_blob"_a, "SEC1-compressed public key of a key blob.");
  m.def("ecdsa_mp_public_share", &public_share, "key_blob"_a,
        "SEC1-compressed public point of this party's share (Qi_self).");
  m.def("ecdsa_mp_detach_private_scalar", &detach, "key_blob"_a,
        "Split a key blob into (public key blob, 32-byte big-endian private scalar share).");
  m.def("ecdsa_mp_attach_private_scalar", &attach, "public_key_blob"_a, "private_scalar"_a,
        "public_share_compressed"_a,
        "Restore a key blob from a detached one and its scalar (checked against Qi_self).");
}

}  // namespace mpcw
