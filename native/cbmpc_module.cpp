// mpcwallet._cbmpc: nanobind bindings for cb-mpc's public C++ API.
//
// Bound calls (all from cb-mpc's include/cbmpc/api/), one source file per header group:
//   ecdsa_2p.cpp  coinbase::api::ecdsa_2p::{dkg, refresh, sign, get_public_key_compressed,
//                 detach_private_scalar, attach_private_scalar}
//                 coinbase::api::hd_keyset_ecdsa_2p::{dkg, refresh, derive_ecdsa_2p_keys,
//                 extract_root_public_key_compressed}
//   ecdsa_mp.cpp  coinbase::api::ecdsa_mp::{dkg_additive, dkg_ac, refresh_additive, refresh_ac,
//                 sign_additive, sign_ac, get_public_key_compressed, get_public_share_compressed,
//                 detach_private_scalar, attach_private_scalar}
//   pve.cpp       coinbase::api::pve (pve_base_pke.h, pve_batch_single_recipient.h, pve_batch_ac.h):
//                 base key generation, encrypt/verify/decrypt, their batch and access-structure
//                 forms, partial_decrypt_ac_attempt, combine_ac
// Shared parts (errors, log hook, transports, access structures, run()) are in common.{h,cpp}.
//
// Threading: every protocol call runs with the GIL released (nb::gil_scoped_release). The
// transports (coinbase::api::data_transport_i) call the Python object's ``send(bytes)`` and
// ``receive() -> bytes`` (two-party), or ``send(to, bytes)``, ``receive(sender) -> bytes`` and
// ``receive_all(senders) -> list[bytes]`` (multi-party, each message size-bounded), with the GIL
// re-acquired for the call only. A Python exception raised inside those callbacks makes the
// transport return E_NET_GENERAL to cb-mpc (so the protocol aborts; every later callback fails
// at once) and is re-raised unchanged to the Python caller once the protocol call has returned.
// Timeouts and cancellation belong to the Python transport: its receive raises (PeerTimeout,
// or PeerUnreachable once the session is cancelled), and that ends the call as above.
//
// Errors: a non-zero cb-mpc error_t becomes ``mpcwallet._cbmpc.Error(code, op, detail)``;
// mpcwallet/engine/cbmpc.py (map_error) maps it onto mpcwallet.errors. C++ exceptions (cb_assert throws
// coinbase::assertion_failed_t) never cross into Python as SystemError: they become Error with
// code EXCEPTION_CODE.
//
// Logging: cb-mpc writes error text to stderr unless coinbase::out_log_fun is set. We set it to
// a hook that keeps the text in a bounded thread-local buffer; after each call the binding
// hands it to the Python logger "mpcwallet.engine.cbmpc" at DEBUG. cb-mpc's error texts are
// static strings from its source (no key material, no protocol payloads).

#include <nanobind/nanobind.h>

#include "common.h"

using namespace mpcw;

NB_MODULE(_cbmpc, m) {
  m.doc() = "Bindings for cb-mpc's public API: ecdsa_2p, hd_keyset_ecdsa_2p, ecdsa_mp, pve.";

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
  m.attr("MAX_MESSAGE") = kMaxMessage;

  bind_ecdsa_2p(m);
  bind_ecdsa_mp(m);
  bind_pve(m);
}
