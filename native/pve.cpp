// Publicly verifiable encryption: coinbase::api::pve with the built-in base PKE
// (base_pke_default(): RSA-OAEP 2048 or ECIES P-256 keys), outer curve secp256k1.
//   pve_base_pke.h                 generate_base_pke_{rsa,ecies_p256}_keypair, encrypt, verify,
//                                  decrypt, get_public_key_compressed, get_Label
//   pve_batch_single_recipient.h   encrypt_batch, verify_batch, decrypt_batch
//   pve_batch_ac.h                 encrypt_ac, verify_ac, partial_decrypt_ac_attempt, combine_ac,
//                                  get_public_keys_compressed_ac
// cb-mpc's decrypt/combine do not verify: mpcwallet.engine.pve calls them only after verify.

#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <map>
#include <string>
#include <vector>

#include <cbmpc/api/pve_base_pke.h>
#include <cbmpc/api/pve_batch_ac.h>
#include <cbmpc/api/pve_batch_single_recipient.h>

#include "common.h"

namespace mpcw {

using namespace nb::literals;

namespace {

constexpr api::curve_id kCurve = api::curve_id::secp256k1;
namespace pve = api::pve;

// leaf name -> bytes, as cb-mpc's string_view/mem_t maps; the nb::bytes keep the data alive.
struct LeafMap {
  LeafMap(const std::map<std::string, nb::bytes>& in, const char* what) : src(in) {
    for (const auto& [name, b] : src) map.emplace(std::string_view(name), as_mem(b, what));
  }
  std::map<std::string, nb::bytes> src;
  std::map<std::string_view, mem_t> map;
};

nb::tuple keypair(const char* op, error_t (*gen)(buf_t&, buf_t&)) {
  buf_t ek, dk;
  run(op, nullptr, [&] { return gen(ek, dk); });
  return nb::make_tuple(to_bytes(ek), to_bytes(dk));
}

nb::tuple generate_rsa() { return keypair("pve.generate_base_pke_rsa_keypair", &pve::generate_base_pke_rsa_keypair); }

nb::tuple generate_ecies() {
  return keypair("pve.generate_base_pke_ecies_p256_keypair", &pve::generate_base_pke_ecies_p256_keypair);
}

// ---- single ----------------------------------------------------------------------------------

nb::bytes encrypt(nb::bytes ek, nb::bytes label, nb::bytes x) {
  const mem_t e = as_mem(ek, "ek"), l = as_mem(label, "label"), s = as_mem(x, "x");
  buf_t out;
  run("pve.encrypt", nullptr, [&] { return pve::encrypt(kCurve, e, l, s, out); });
  return to_bytes(out);
}

void verify(nb::bytes ek, nb::bytes ciphertext, nb::bytes q, nb::bytes label) {
  const mem_t e = as_mem(ek, "ek"), c = as_mem(ciphertext, "ciphertext");
  const mem_t p = as_mem(q, "Q_compressed"), l = as_mem(label, "label");
  run("pve.verify", nullptr, [&] { return pve::verify(kCurve, e, c, p, l); });
}

nb::bytes decrypt(nb::bytes dk, nb::bytes ek, nb::bytes ciphertext, nb::bytes label) {
  const mem_t d = as_mem(dk, "dk"), e = as_mem(ek, "ek");
  const mem_t c = as_mem(ciphertext, "ciphertext"), l = as_mem(label, "label");
  buf_t out;
  run("pve.decrypt", nullptr, [&] { return pve::decrypt(kCurve, d, e, c, l, out); });
  return to_bytes(out);
}

nb::bytes public_key(nb::bytes ciphertext) {
  const mem_t c = as_mem(ciphertext, "ciphertext");
  buf_t out;
  run("pve.get_public_key_compressed", nullptr, [&] { return pve::get_public_key_compressed(c, out); });
  return to_bytes(out);
}

nb::bytes label_of(nb::bytes ciphertext) {
  const mem_t c = as_mem(ciphertext, "ciphertext");
  buf_t out;
  run("pve.get_Label", nullptr, [&] { return pve::get_Label(c, out); });
  return to_bytes(out);
}

// ---- batch -----------------------------------------------------------------------------------

nb::bytes encrypt_batch(nb::bytes ek, nb::bytes label, std::vector<nb::bytes> xs) {
  const mem_t e = as_mem(ek, "ek"), l = as_mem(label, "label");
  const std::vector<mem_t> s = as_mems(xs, "xs");
  buf_t out;
  run("pve.encrypt_batch", nullptr, [&] { return pve::encrypt_batch(kCurve, e, l, s, out); });
  return to_bytes(out);
}

void verify_batch(nb::bytes ek, nb::bytes ciphertext, std::vector<nb::bytes> qs, nb::bytes label) {
  const mem_t e = as_mem(ek, "ek"), c = as_mem(ciphertext, "ciphertext"), l = as_mem(label, "label");
  const std::vector<mem_t> p = as_mems(qs, "Qs_compressed");
  run("pve.verify_batch", nullptr, [&] { return pve::verify_batch(kCurve, e, c, p, l); });
}

nb::list decrypt_batch(nb::bytes dk, nb::bytes ek, nb::bytes ciphertext, nb::bytes label) {
  const mem_t d = as_mem(dk, "dk"), e = as_mem(ek, "ek");
  const mem_t c = as_mem(ciphertext, "ciphertext"), l = as_mem(label, "label");
  std::vector<buf_t> out;
  run("pve.decrypt_batch", nullptr, [&] { return pve::decrypt_batch(kCurve, d, e, c, l, out); });
  return to_list(out);
}

nb::list public_keys_batch(nb::bytes ciphertext) {
  const mem_t c = as_mem(ciphertext, "ciphertext");
  std::vector<buf_t> out;
  run("pve.get_public_keys_compressed_batch", nullptr,
      [&] { return pve::get_public_keys_compressed_batch(c, out); });
  return to_list(out);
}

// ---- access structure (quorum) ----------------------------------------------------------------

nb::bytes encrypt_ac(nb::handle access, std::map<std::string, nb::bytes> eks, nb::bytes label,
                     std::vector<nb::bytes> xs) {
  AccessTree ac(access);
  const LeafMap keys(eks, "leaf_eks");
  const mem_t l = as_mem(label, "label");
  const std::vector<mem_t> s = as_mems(xs, "xs");
  buf_t out;
  run("pve.encrypt_ac", nullptr, [&] { return pve::encrypt_ac(kCurve, ac.root, keys.map, l, s, out); });
  return to_bytes(out);
}

void verify_ac(nb::handle access, std::map<std::string, nb::bytes> eks, nb::bytes ciphertext,
               std::vector<nb::bytes> qs, nb::bytes label) {
  AccessTree ac(access);
  const LeafMap keys(eks, "leaf_eks");
  const mem_t c = as_mem(ciphertext, "ciphertext"), l = as_mem(label, "label");
  const std::vector<mem_t> p = as_mems(qs, "Qs_compressed");
  run("pve.verify_ac", nullptr, [&] { return pve::verify_ac(kCurve, ac.root, keys.map, c, p, l); });
}

nb::bytes partial_decrypt_ac(nb::handle access, nb::bytes ciphertext, int attempt, std::string leaf_name,
                             nb::bytes dk, nb::bytes label) {
  AccessTree ac(access);
  const mem_t c = as_mem(ciphertext, "ciphertext"), d = as_mem(dk, "dk"), l = as_mem(label, "label");
  buf_t out;
  run("pve.partial_decrypt_ac_attempt", nullptr,
      [&] { return pve::partial_decrypt_ac_attempt(kCurve, ac.root, c, attempt, leaf_name, d, l, out); });
  return to_bytes(out);
}

nb::list combine_ac(nb::handle access, nb::bytes ciphertext, int attempt, nb::bytes label,
                    std::map<std::string, nb::bytes> shares) {
  AccessTree ac(access);
  const LeafMap quorum(shares, "quorum_shares");
  const mem_t c = as_mem(ciphertext, "ciphertext"), l = as_mem(label, "label");
  std::vector<buf_t> out;
  run("pve.combine_ac", nullptr, [&] { return pve::combine_ac(kCurve, ac.root, c, attempt, l, quorum.map, out); });
  return to_list(out);
}

nb::list public_keys_ac(nb::bytes ciphertext) {
  const mem_t c = as_mem(ciphertext, "ciphertext");
  std::vector<buf_t> out;
  run("pve.get_public_keys_compressed_ac", nullptr, [&] { return pve::get_public_keys_compressed_ac(c, out); });
  return to_list(out);
}

}  // namespace

void bind_pve(nb::module_& m) {
  m.def("pve_generate_rsa_keypair", &generate_rsa, "Built-in RSA-OAEP 2048 base key pair: (ek, dk).");
  m.def("pve_generate_ecies_p256_keypair", &generate_ecies, "Built-in ECIES P-256 base key pair: (ek, dk).");
  m.def("pve_encrypt", &encrypt, "ek"_a, "label"_a, "x"_a, "PVE-encrypt a secp256k1 scalar under ek.");
  m.def("pve_verify", &verify, "ek"_a, "ciphertext"_a, "Q_compressed"_a, "label"_a,
        "Raise Error unless the ciphertext encrypts the discrete log of Q under ek and label.");
  m.def("pve_decrypt", &decrypt, "dk"_a, "ek"_a, "ciphertext"_a, "label"_a,
        "Recover the scalar (32 bytes). Does not verify: call pve_verify first.");
  m.def("pve_public_key", &public_key, "ciphertext"_a, "The Q a ciphertext claims to encrypt (not verified).");
  m.def("pve_label", &label_of, "ciphertext"_a, "The label a ciphertext carries (not verified).");
  m.def("pve_encrypt_batch", &encrypt_batch, "ek"_a, "label"_a, "xs"_a, "PVE-encrypt several scalars.");
  m.def("pve_verify_batch", &verify_batch, "ek"_a, "ciphertext"_a, "Qs_compressed"_a, "label"_a,
        "Raise Error unless the batch ciphertext encrypts the discrete logs of Qs.");
  m.def("pve_decrypt_batch", &decrypt_batch, "dk"_a, "ek"_a, "ciphertext"_a, "label"_a,
        "Recover the scalars. Does not verify: call pve_verify_batch first.");
  m.def("pve_public_keys_batch", &public_keys_batch, "ciphertext"_a, "The Qs a batch ciphertext claims.");
  m.def("pve_encrypt_ac", &encrypt_ac, "access"_a, "leaf_eks"_a, "label"_a, "xs"_a,
        "PVE-encrypt scalars so that a quorum of the access structure's leaves can decrypt.");
  m.def("pve_verify_ac", &verify_ac, "access"_a, "leaf_eks"_a, "ciphertext"_a, "Qs_compressed"_a, "label"_a,
        "Raise Error unless the quorum ciphertext encrypts the discrete logs of Qs.");
  m.def("pve_partial_decrypt_ac", &partial_decrypt_ac, "access"_a, "ciphertext"_a, "attempt"_a, "leaf_name"_a,
        "dk"_a, "label"_a, "One leaf's decryption share for an attempt. Does not verify.");
  m.def("pve_combine_ac", &combine_ac, "access"_a, "ciphertext"_a, "attempt"_a, "label"_a, "shares"_a,
        "Recover the scalars from a quorum's shares. Does not verify: call pve_verify_ac first.");
  m.def("pve_public_keys_ac", &public_keys_ac, "ciphertext"_a, "The Qs a quorum ciphertext claims.");
}

}  // namespace mpcw
