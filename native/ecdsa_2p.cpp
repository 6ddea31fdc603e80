// Two-party bindings: coinbase::api::ecdsa_2p and coinbase::api::hd_keyset_ecdsa_2p.

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <string>
#include <vector>

#include <cbmpc/api/ecdsa_2p.h>
#include <cbmpc/api/hd_keyset_ecdsa_2p.h>

#include "common.h"

namespace mpcw {

using namespace nb::literals;

namespace {

api::party_2p_t party_of(int role) {
  // Our Role enum: 1 = P1 (client), 2 = P2 (co-signer); cb-mpc: p1 = 0, p2 = 1.
  if (role == 1) return api::party_2p_t::p1;
  if (role == 2) return api::party_2p_t::p2;
  throw nb::value_error("role must be 1 (P1) or 2 (P2)");
}

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

void bind_ecdsa_2p(nb::module_& m) {
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

}  // namespace mpcw
