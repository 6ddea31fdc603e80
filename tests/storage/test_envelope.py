"""mpcwallet.storage.envelope: round trips, tampering, wrong passphrase, KDF bounds, secrecy."""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpcwallet.errors import (
    BadInput,
    FileFormatError,
    KdfParamsMismatch,
    MpcError,
    TamperedFile,
    WeakKdfParams,
    WrongPassphrase,
)
from mpcwallet.storage import envelope
from mpcwallet.storage.envelope import (
    BACKUP_KDF,
    KDF_CEILING,
    KDF_FLOOR,
    SHARE_KDF,
    KdfParams,
    decrypt_share,
    decrypt_share_with_key,
    derive_key,
    encrypt_share,
    encrypt_share_with_key,
    read_header,
    read_kdf_params,
)

PW = "correct horse battery staple 1"
OTHER_PW = "correct horse battery staple 2"
BODY = b"\x00secret key blob bytes\xff" * 3
HEADER = {
    "key_id": "k-1",
    "role": "P1",
    "engine": "portable",
    "public_key": "02" + "ab" * 32,
    "address": "0x" + "cd" * 20,
    "created_at": "2026-01-01T00:00:00+00:00",
}


@pytest.fixture(scope="module")
def key() -> envelope.DerivedKey:
    return derive_key(PW, KdfParams.fresh(KDF_FLOOR))


@pytest.fixture(scope="module")
def sealed() -> bytes:
    return encrypt_share(BODY, HEADER, PW, params=KDF_FLOOR)


def _obj(data: bytes) -> dict[str, Any]:
    obj = json.loads(data)
    assert isinstance(obj, dict)
    return obj


def _dump(obj: dict[str, Any], *, redigest: bool) -> bytes:
    """Re-serialise canonically; ``redigest`` recomputes the unkeyed digest (a deliberate edit)."""
    if redigest:
        rest = {k: v for k, v in obj.items() if k != "sha256"}
        obj = {**obj, "sha256": hashlib.sha256(envelope._canonical(rest)).hexdigest()}
    return envelope._canonical(obj) + b"\n"


def _flip_b64(value: str, index: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[index % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# --- round trips -------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=4096), header=st.dictionaries(st.text(max_size=20), json_scalars))
def test_round_trip_any_body_any_header(
    key: envelope.DerivedKey, body: bytes, header: dict[str, Any]
) -> None:
    data = encrypt_share_with_key(body, header, key)
    got_header, got_body = decrypt_share_with_key(data, key)
    assert got_body == body
    assert got_header == header
    assert read_header(data) == header


@settings(max_examples=8, deadline=None)
@given(body=st.binary(max_size=256), passphrase=st.text(min_size=1, max_size=30))
def test_round_trip_with_passphrase(body: bytes, passphrase: str) -> None:
    data = encrypt_share(body, HEADER, passphrase, params=KDF_FLOOR)
    assert decrypt_share(data, passphrase) == (HEADER, body)


def test_encrypt_uses_fresh_salt_and_nonce() -> None:
    a = _obj(encrypt_share(BODY, HEADER, PW, params=KDF_FLOOR))
    b = _obj(encrypt_share(BODY, HEADER, PW, params=KDF_FLOOR))
    assert a["kdf_params"]["salt"] != b["kdf_params"]["salt"]
    assert a["nonce"] != b["nonce"]
    assert a["ciphertext"] != b["ciphertext"]


def test_key_reuse_gives_fresh_nonce_and_same_salt(key: envelope.DerivedKey) -> None:
    a = _obj(encrypt_share_with_key(BODY, HEADER, key))
    b = _obj(encrypt_share_with_key(BODY, HEADER, key))
    assert a["kdf_params"] == b["kdf_params"]
    assert a["nonce"] != b["nonce"]


def test_file_records_params_and_format(sealed: bytes) -> None:
    obj = _obj(sealed)
    assert sealed.endswith(b"\n") and sealed.count(b"\n") == 1
    assert obj["version"] == 1
    assert obj["kdf"] == "argon2id"
    assert obj["cipher"] == "chacha20-poly1305"
    assert {k: obj["kdf_params"][k] for k in "mtp"} == {
        "m": KDF_FLOOR.m_kib,
        "t": KDF_FLOOR.t,
        "p": KDF_FLOOR.p,
    }
    assert len(base64.b64decode(obj["kdf_params"]["salt"])) == 16
    assert len(base64.b64decode(obj["nonce"])) == 12
    assert obj["header"] == HEADER
    assert read_kdf_params(sealed).same_cost(KDF_FLOOR)


def test_default_profiles() -> None:
    assert (SHARE_KDF.m_kib, SHARE_KDF.t, SHARE_KDF.p) == (64 * 1024, 3, 4)
    assert BACKUP_KDF.m_kib > SHARE_KDF.m_kib and BACKUP_KDF.t >= SHARE_KDF.t
    assert KdfParams.fresh("backup").same_cost(BACKUP_KDF)
    assert KdfParams.fresh("share").salt != KdfParams.fresh("share").salt


def test_params_are_read_from_the_file() -> None:
    # Encrypted at a cost other than the default: decryption must use the file's params.
    odd = KdfParams(m_kib=KDF_FLOOR.m_kib + 1024, t=3, p=2)
    data = encrypt_share(BODY, HEADER, PW, params=odd)
    assert read_kdf_params(data).same_cost(odd)
    assert decrypt_share(data, PW) == (HEADER, BODY)


def test_unicode_passphrase_is_normalised() -> None:
    composed = "caf\u00e9 passphrase"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    data = encrypt_share(BODY, HEADER, composed, params=KDF_FLOOR)
    assert decrypt_share(data, decomposed)[1] == BODY


# --- wrong passphrase vs tampering -------------------------------------------------------------


def test_wrong_passphrase(sealed: bytes) -> None:
    with pytest.raises(WrongPassphrase) as info:
        decrypt_share(sealed, OTHER_PW)
    assert type(info.value) is WrongPassphrase
    assert info.value.exit_code == 3


def test_empty_passphrase_refused(sealed: bytes) -> None:
    with pytest.raises(BadInput):
        decrypt_share(sealed, "")
    with pytest.raises(BadInput):
        encrypt_share(BODY, HEADER, b"", params=KDF_FLOOR)


def _edit_header(obj: dict[str, Any]) -> None:
    obj["header"]["address"] = "0x" + "ee" * 20


def _add_header_field(obj: dict[str, Any]) -> None:
    obj["header"]["extra"] = 1


def _drop_header_field(obj: dict[str, Any]) -> None:
    del obj["header"]["created_at"]


def _flip_nonce(obj: dict[str, Any]) -> None:
    obj["nonce"] = _flip_b64(obj["nonce"], 5)


def _flip_ciphertext_first(obj: dict[str, Any]) -> None:
    obj["ciphertext"] = _flip_b64(obj["ciphertext"], 0)


def _flip_ciphertext_tag(obj: dict[str, Any]) -> None:
    obj["ciphertext"] = _flip_b64(obj["ciphertext"], -1)


def _truncate_ciphertext(obj: dict[str, Any]) -> None:
    raw = base64.b64decode(obj["ciphertext"])
    obj["ciphertext"] = base64.b64encode(raw[:-1]).decode()


def _flip_salt(obj: dict[str, Any]) -> None:
    obj["kdf_params"]["salt"] = _flip_b64(obj["kdf_params"]["salt"], 3)


def _flip_check(obj: dict[str, Any]) -> None:
    obj["check"] = _flip_b64(obj["check"], 7)


def _raise_t(obj: dict[str, Any]) -> None:
    obj["kdf_params"]["t"] += 1


def _raise_m(obj: dict[str, Any]) -> None:
    obj["kdf_params"]["m"] += 8


# Edits of what the AEAD authenticates under a key that still derives correctly.
AEAD_EDITS = [
    _edit_header,
    _add_header_field,
    _drop_header_field,
    _flip_nonce,
    _flip_ciphertext_first,
    _flip_ciphertext_tag,
    _truncate_ciphertext,
]
# Edits of what the key itself depends on.
KEY_EDITS = [_flip_salt, _flip_check, _raise_t, _raise_m]


@pytest.mark.parametrize("edit", AEAD_EDITS + KEY_EDITS, ids=lambda f: f.__name__)
def test_naive_edit_is_tampered(sealed: bytes, edit: Any) -> None:
    """Any field edited without recomputing the digest: TamperedFile, before any Argon2 run."""
    obj = _obj(sealed)
    edit(obj)
    data = _dump(obj, redigest=False)
    with pytest.raises(TamperedFile) as info:
        decrypt_share(data, PW)
    assert type(info.value) is TamperedFile
    with pytest.raises(TamperedFile):
        read_header(data)


@pytest.mark.parametrize("edit", AEAD_EDITS, ids=lambda f: f.__name__)
def test_deliberate_edit_fails_aead(sealed: bytes, edit: Any) -> None:
    """Digest recomputed too: the AEAD (header = associated data) still rejects it as tampered."""
    obj = _obj(sealed)
    edit(obj)
    data = _dump(obj, redigest=True)
    read_header(data)  # the unkeyed digest no longer notices
    with pytest.raises(TamperedFile) as info:
        decrypt_share(data, PW)
    assert type(info.value) is TamperedFile


@pytest.mark.parametrize("edit", KEY_EDITS, ids=lambda f: f.__name__)
def test_deliberate_key_edit_is_rejected(sealed: bytes, edit: Any) -> None:
    """A re-made salt/params/check is indistinguishable from another passphrase: rejected."""
    obj = _obj(sealed)
    edit(obj)
    with pytest.raises(WrongPassphrase):
        decrypt_share(_dump(obj, redigest=True), PW)


def test_every_single_byte_flip_is_rejected(sealed: bytes) -> None:
    for i in range(len(sealed)):
        for mask in (0x01, 0x20):
            data = bytearray(sealed)
            data[i] ^= mask
            with pytest.raises((FileFormatError, TamperedFile)):
                decrypt_share(bytes(data), PW)


def _value_span(data: bytes, marker: bytes) -> range:
    start = data.index(marker) + len(marker)
    return range(start, data.index(b'"', start))


@pytest.mark.parametrize(
    "marker",
    [b'"salt":"', b'"nonce":"', b'"check":"', b'"ciphertext":"', b'"address":"', b'"sha256":"'],
)
def test_every_flip_inside_a_value_is_tampered(sealed: bytes, marker: bytes) -> None:
    """Bytes of salt, nonce, check, ciphertext, a header value or the digest: always tampered."""
    span = _value_span(sealed, marker)
    assert len(span) >= 8
    for i in span:
        data = bytearray(sealed)
        data[i] ^= 0x01
        with pytest.raises(TamperedFile):
            decrypt_share(bytes(data), PW)


@settings(max_examples=300, deadline=None)
@given(pos=st.integers(min_value=0), mask=st.integers(min_value=1, max_value=255))
def test_any_byte_change_is_rejected(sealed: bytes, pos: int, mask: int) -> None:
    data = bytearray(sealed)
    data[pos % len(data)] ^= mask
    with pytest.raises((FileFormatError, TamperedFile)):
        decrypt_share(bytes(data), PW)


def test_non_canonical_rewrite_is_tampered(sealed: bytes) -> None:
    pretty = json.dumps(_obj(sealed), indent=2).encode()
    with pytest.raises(TamperedFile):
        decrypt_share(pretty, PW)


# --- structure and KDF bounds ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[]", b'"x"', b"\xff\xfe", b'{"version": 1}', b"{" * 5000],
)
def test_not_an_envelope(data: bytes) -> None:
    with pytest.raises(FileFormatError):
        decrypt_share(data, PW)
    with pytest.raises(FileFormatError):
        read_header(data)


def test_unknown_version_named(sealed: bytes) -> None:
    obj = _obj(sealed)
    obj["version"] = 2
    with pytest.raises(FileFormatError) as info:
        read_header(_dump(obj, redigest=True))
    assert info.value.field == "version"
    assert "version 2" in info.value.message


@pytest.mark.parametrize("field", ["kdf", "cipher", "nonce", "check", "ciphertext", "header"])
def test_missing_field_named(sealed: bytes, field: str) -> None:
    obj = _obj(sealed)
    del obj[field]
    with pytest.raises(FileFormatError) as info:
        decrypt_share(_dump(obj, redigest=True), PW)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("field", "value"),
    [("kdf", "scrypt"), ("cipher", "aes-256-gcm"), ("header", []), ("nonce", "AAAA")],
)
def test_bad_field_value(sealed: bytes, field: str, value: Any) -> None:
    obj = _obj(sealed)
    obj[field] = value
    with pytest.raises(FileFormatError) as info:
        decrypt_share(_dump(obj, redigest=True), PW)
    assert info.value.field == field


def _with_params(sealed: bytes, **changes: Any) -> bytes:
    obj = _obj(sealed)
    obj["kdf_params"].update(changes)
    return _dump(obj, redigest=True)


@pytest.mark.parametrize(
    "changes", [{"t": 1}, {"m": 8}, {"m": 8, "t": 1}, {"p": 0}], ids=["t1", "m8", "m8t1", "p0"]
)
def test_weak_params_in_a_file_refused(sealed: bytes, changes: dict[str, int]) -> None:
    with pytest.raises(WeakKdfParams) as info:
        decrypt_share(_with_params(sealed, **changes), PW)
    assert info.value.exit_code == 2
    assert info.value.code == "kdf_params_too_weak"


@pytest.mark.parametrize(
    "changes",
    [{"m": 100 * 1024 * 1024 * 1024}, {"t": 10**6}, {"p": 1 << 20}],
    ids=["m100TiB", "t1e6", "p1M"],
)
def test_huge_params_refused_without_running_the_kdf(
    sealed: bytes, changes: dict[str, int]
) -> None:
    with pytest.raises(FileFormatError) as info:
        decrypt_share(_with_params(sealed, **changes), PW)
    assert not isinstance(info.value, WeakKdfParams)
    assert "ceiling" in info.value.message


@pytest.mark.parametrize("value", [True, 3.0, "3", None, -5])
def test_params_must_be_integers(sealed: bytes, value: Any) -> None:
    with pytest.raises(FileFormatError):
        decrypt_share(_with_params(sealed, t=value), PW)


def test_short_salt_refused(sealed: bytes) -> None:
    data = _with_params(sealed, salt=base64.b64encode(b"12345678").decode())
    with pytest.raises(FileFormatError):
        decrypt_share(data, PW)


def test_weak_params_refused_on_write() -> None:
    with pytest.raises(WeakKdfParams):
        encrypt_share(BODY, HEADER, PW, params=KdfParams(m_kib=8, t=1, p=1))
    with pytest.raises(FileFormatError):
        derive_key(PW, KdfParams(m_kib=KDF_CEILING.m_kib * 2, t=2, p=1, salt=b"s" * 16))


@pytest.mark.parametrize(
    "header",
    [{"x": b"bytes"}, {"x": float("nan")}, {1: "non-str key"}, {"x": (1, 2)}],
    ids=["bytes", "nan", "intkey", "tuple"],
)
def test_header_must_be_json(key: envelope.DerivedKey, header: dict[Any, Any]) -> None:
    with pytest.raises(BadInput) as info:
        encrypt_share_with_key(BODY, header, key)
    assert info.value.field == "header"


# --- derived keys ------------------------------------------------------------------------------


def test_key_from_other_salt_is_a_params_mismatch(sealed: bytes, key: envelope.DerivedKey) -> None:
    with pytest.raises(KdfParamsMismatch):
        decrypt_share_with_key(sealed, key)


def test_key_with_same_params_other_passphrase(key: envelope.DerivedKey) -> None:
    data = encrypt_share_with_key(BODY, HEADER, key)
    other = derive_key(OTHER_PW, key.params)
    with pytest.raises(WrongPassphrase) as info:
        decrypt_share_with_key(data, other)
    assert type(info.value) is WrongPassphrase
    # a file written with a derived key opens with the passphrase alone
    assert decrypt_share(data, PW) == (HEADER, BODY)


def test_derived_key_shows_no_secret(key: envelope.DerivedKey) -> None:
    text = repr(key) + str(key)
    assert key._aead_key.hex() not in text
    assert key._check.hex() not in text
    assert PW not in text
    with pytest.raises(TypeError):
        pickle.dumps(key)


def test_errors_carry_no_secrets(sealed: bytes) -> None:
    obj = _obj(sealed)
    _edit_header(obj)
    cases = [
        lambda: decrypt_share(sealed, OTHER_PW),
        lambda: decrypt_share(_dump(obj, redigest=True), PW),
        lambda: decrypt_share(_with_params(sealed, t=1), PW),
    ]
    for case in cases:
        with pytest.raises(MpcError) as info:
            case()
        err = info.value
        text = " ".join([str(err), repr(err), json.dumps(err.to_dict())])
        for secret in (PW, OTHER_PW, BODY.hex(), "secret key blob"):
            assert secret not in text
        assert err.__cause__ is None
        assert err.__context__ is None or err.__suppress_context__
