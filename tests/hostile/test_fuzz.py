"""Property and fuzz tests: every input surface, hostile input, the clean-failure contract.

For each example: a documented exit code (never 1), exactly one JSON object with --json, no
traceback on stdout or stderr, the input files unchanged and no new file anywhere (MPC_HOME and
the work directory). In process, so an example costs milliseconds; 60 examples per test in CI,
10 000 with HYPOTHESIS_PROFILE=thorough.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from support.inproc import check_clean, fuzz_settings, run_inproc, snapshot
from support.offline import CHAIN_ID, DEV_TO, VALID_TX, Home, signed_raw

from mpcwallet import numeric
from mpcwallet.errors import BadInput, MpcError
from mpcwallet.evm import rlp
from mpcwallet.evm.txjson import KNOWN_FIELDS
from mpcwallet.session import wire

VALID_TX_TEXT = json.dumps(VALID_TX)

# --- strategies ---------------------------------------------------------------------------------

hexish = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["0x", "0X", "", " 0x", "0x "]),
    st.text(alphabet="0123456789abcdefABCDEF xg\n\t", max_size=70),
)
big_ints = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=2**255, max_value=2**300),
    st.builds(lambda n: 10**n, st.integers(min_value=70, max_value=200)),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    big_ints,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    hexish,
    st.sampled_from([DEV_TO, DEV_TO.lower(), DEV_TO.upper().replace("0X", "0x"), ""]),
)
json_values = st.recursive(
    leaves,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.sampled_from(["address", "storageKeys", "x", ""]), kids, max_size=3)
    ),
    max_leaves=12,
)
tx_changes = st.dictionaries(
    st.sampled_from(sorted(KNOWN_FIELDS | {"colour"})), json_values, max_size=6
)

# Fragments a hostile editor splices into a valid file.
splices = st.one_of(
    st.sampled_from(
        [
            "[" * 200,
            "{" * 200,
            '"' + "[" * 100,
            "NaN",
            "Infinity",
            "-Infinity",
            "1" + "0" * 5000,
            "1e999",
            '"to": "0x0000000000000000000000000000000000000000", ',
            '"\\ud800"',
            "\x00",
            "\ufeff",
            ",",
            "}",
            "]",
        ]
    ),
    st.text(max_size=20),
)


@st.composite
def spliced(draw: st.DrawFn, base: str) -> str:
    text = base
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        cut = draw(st.integers(min_value=0, max_value=5))
        text = text[:at] + draw(splices) + text[at + cut :]
    return text


file_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    spliced(VALID_TX_TEXT).map(lambda t: t.encode("utf-8", "surrogatepass")),
    tx_changes.map(lambda c: json.dumps({**VALID_TX, **c}).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
)


def run_clean(home: Home, args: list[str]) -> dict[str, Any]:
    """``mpc --json ARGS``: the clean contract, and nothing changed or created."""
    before = snapshot(home.dirs())
    result = run_inproc(["--json", *args], home.env)
    obj = check_clean(result)
    assert obj is not None
    assert snapshot(home.dirs()) == before, args
    return obj


# --- tx.json ------------------------------------------------------------------------------------


@fuzz_settings()
@given(data=file_bytes)
@example(data=b"[" * 100_000)
@example(data=json.dumps({**VALID_TX, "accessList": ""}).encode())
def test_fuzz_tx_json(home: Home, data: bytes) -> None:
    path = home.work / "tx.json"
    path.write_bytes(data)
    obj = run_clean(home, ["sign", "--tx", str(path)])
    # Never signed: the co-signer is unreachable, so a valid tx ends as transient (exit 10).
    assert obj["ok"] is False


@fuzz_settings()
@given(changes=tx_changes)
def test_fuzz_tx_json_fields_name_the_field(home: Home, changes: dict[str, Any]) -> None:
    path = home.work / "tx.json"
    path.write_text(json.dumps({**VALID_TX, **changes}))
    obj = run_clean(home, ["sign", "--tx", str(path)])
    err = obj["error"]
    if err["code"] in ("bad_input", "bad_file"):
        field = str(err.get("field") or "")
        assert field, err
        # the message names the field at fault (or, for file-level refusals, the file)
        assert field.split(".")[0].split("[")[0] in err["message"] or "tx.json" in err["message"]


# --- share and backup files ---------------------------------------------------------------------


@st.composite
def mutated_share(draw: st.DrawFn, original: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "splice", "truncate", "json"]))
    data = bytearray(original)
    if kind == "flip":
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            i = draw(st.integers(min_value=0, max_value=len(data) - 1))
            data[i] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        return bytes(data)
    if kind == "truncate":
        return bytes(data[: draw(st.integers(min_value=0, max_value=len(data)))])
    if kind == "json":
        obj = json.loads(original)
        key = draw(st.sampled_from(sorted(obj)))
        obj[key] = draw(json_values)
        return json.dumps(obj).encode()
    return draw(spliced(original.decode("ascii"))).encode("utf-8", "surrogatepass")


@fuzz_settings()
@given(data=st.data())
def test_fuzz_share_file(home: Home, data: st.DataObject) -> None:
    original = home.share.read_bytes()
    hostile = home.work / "share.enc"
    hostile.write_bytes(data.draw(st.one_of(mutated_share(original), file_bytes)))
    run_clean(home, ["address", "--share", str(hostile)])
    obj = run_clean(home, ["backup", "import", "--in", str(hostile), "--out", str(home.work / "o")])
    assert obj["ok"] is False


# --- --raw and --sig ----------------------------------------------------------------------------

rlp_items = st.recursive(
    st.binary(max_size=40), lambda kids: st.lists(kids, max_size=13), max_leaves=30
)
raw_texts = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="0123456789abcdefABCDEF x", max_size=300).map(lambda t: "0x" + t),
    rlp_items.map(lambda i: "0x02" + rlp.encode(i).hex()),
    rlp_items.map(lambda i: "0x" + rlp.encode(i).hex()),
    st.builds(
        lambda raw, at, b: raw[:at] + b + raw[at + 2 :],
        st.just(signed_raw()),
        st.integers(min_value=2, max_value=200),
        st.text(alphabet="0123456789abcdef", min_size=2, max_size=2),
    ),
)
NO_RPC = ["--rpc-url", "http://127.0.0.1:9", "--timeout", "0"]


@fuzz_settings()
@given(raw=raw_texts)
@example(raw="0x" + "c1" * 50_000)
def test_fuzz_raw(home: Home, raw: str) -> None:
    if raw.startswith("@"):
        raw = " " + raw  # not a file reference: that surface is the --sig/@file test's
    run_clean(home, ["broadcast", "--raw", raw, *NO_RPC])


@fuzz_settings()
@given(
    content=st.one_of(
        file_bytes,
        raw_texts.map(lambda r: json.dumps({"raw_tx": r}).encode()),
        json_values.map(lambda v: json.dumps({"raw_tx": v}).encode()),
    ),
    as_sig=st.booleans(),
)
def test_fuzz_sig_and_raw_file(home: Home, content: bytes, as_sig: bool) -> None:
    path = home.work / "sig.json"
    path.write_bytes(content)
    source = ["--sig", str(path)] if as_sig else ["--raw", f"@{path}"]
    run_clean(home, ["broadcast", *source, *NO_RPC])


# --- numeric options and variables -------------------------------------------------------------

number_texts = st.one_of(
    st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "1e999", "-0", "0x10", "1_0", ""]),
    st.floats().map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet="0123456789.-+eE_ x", max_size=30),
    st.just("9" * 5000),
)


@fuzz_settings()
@given(
    option=st.sampled_from(["--timeout", "--receipt-timeout", "--confirmations"]),
    value=number_texts,
)
def test_fuzz_broadcast_numeric_options(home: Home, option: str, value: str) -> None:
    # A raw tx that never decodes: a valid number gets past the option to the raw's refusal.
    obj = run_clean(home, ["broadcast", "--raw", "0x00", option, value, "--rpc-url", "http://x"])
    err = obj["error"]
    assert err["code"] in ("bad_input", "usage")
    if err.get("field") != "raw":  # refused for the number: then it was not a finite in-range one
        accepted = _accepts(option, value)
        assert not accepted, (option, value, err)


def _accepts(name: str, text: str) -> bool:
    try:
        numeric.parse(text, name)
    except BadInput:
        return False
    return True


@fuzz_settings()
@given(
    option=st.sampled_from(
        ["--decimals", "--chain-id", "--nonce", "--gas", "--max-fee-per-gas", "--amount"]
    ),
    value=number_texts,
)
def test_fuzz_tx_numeric_options(home: Home, option: str, value: str) -> None:
    out = home.work / "t.json"
    args = ["tx", "erc20-transfer", "--token", DEV_TO, "--to", DEV_TO, "--amount", "1"]
    args += ["--out", str(out)]
    if option == "--amount":
        args[args.index("--amount") + 1] = value
    else:
        args += [option, value]
    before = snapshot(home.dirs())
    result = run_inproc(["--json", *args], home.env)
    obj = check_clean(result)
    assert obj is not None
    if obj["ok"]:
        out.unlink()  # the one file a success may write
    else:
        assert obj["error"]["code"] in ("bad_input", "usage")
    assert snapshot(home.dirs()) == before


@fuzz_settings(200)
@given(
    name=st.sampled_from(sorted(numeric.RANGES)),
    value=st.one_of(number_texts, st.floats(), st.integers(min_value=-(2**300), max_value=2**300)),
)
def test_fuzz_numeric_validator(name: str, value: Any) -> None:
    """Numbers from options and variables (MPC_RPC_RETRY_SECONDS, MPC_ROUND_TIMEOUT...):
    accepted only finite and in range; refused only as BadInput naming them."""
    rng = numeric.RANGES[name]
    try:
        got = numeric.parse(value, name) if isinstance(value, str) else numeric.check(value, name)
    except BadInput as exc:
        assert exc.exit_code == 2 and name in exc.message
        assert exc.field == name.lstrip("-").replace("-", "_")
        return
    assert math.isfinite(got) and rng.minimum <= got <= rng.maximum
    assert not (rng.above and got == rng.minimum)
    assert not rng.integer or isinstance(got, int)


# --- the co-signer's control messages -----------------------------------------------------------


@fuzz_settings(200)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        spliced('{"type": "ready", "session": "abc", "round": 1}').map(
            lambda t: t.encode("utf-8", "surrogatepass")
        ),
    )
)
@example(body=b'{"a":' * 5000 + b"1" + b"}" * 5000)
@example(body=b"[" * 100_000)
def test_fuzz_control_messages(body: bytes) -> None:
    """A peer's control frame is a dict or a violation-class error, never a crash."""
    try:
        obj = wire.parse_control(body)
    except MpcError as exc:
        assert exc.kind == "violation"
        return
    assert isinstance(obj, dict)


# --- typed data (EIP-712) and messages ----------------------------------------------------------

PERMIT: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Permit": [
            {"name": "owner", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "tags", "type": "bytes32[]"},
        ],
    },
    "primaryType": "Permit",
    "domain": {"name": "T", "chainId": CHAIN_ID, "verifyingContract": DEV_TO},
    "message": {"owner": DEV_TO, "value": "1", "tags": ["0x" + "00" * 32]},
}


@st.composite
def typed_documents(draw: st.DrawFn) -> bytes:
    doc = json.loads(json.dumps(PERMIT))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        section = draw(st.sampled_from(["types", "primaryType", "domain", "message", "extra"]))
        part = doc.get(section)
        if section in ("domain", "message") and isinstance(part, dict) and draw(st.booleans()):
            key = draw(st.sampled_from([*sorted(part), "new"]))
            part[key] = draw(json_values)
        elif section == "types" and isinstance(part, dict) and "Permit" in part:
            part["Permit"].append(
                {"name": draw(st.text(max_size=8)), "type": draw(st.sampled_from(_TYPES))}
            )
        else:
            doc[section] = draw(json_values)
    return json.dumps(doc).encode()


_TYPES = ["uint8", "int256", "bytes", "bytes33", "address", "Permit", "Permit[]", "string[2]", "x"]


@fuzz_settings()
@given(
    content=st.one_of(
        typed_documents(),
        spliced(json.dumps(PERMIT)).map(lambda t: t.encode("utf-8", "surrogatepass")),
        file_bytes,
    )
)
@example(content=json.dumps({**PERMIT, "types": {"Permit": [{"name": "p", "type": "Permit"}]}}))
def test_fuzz_typed_data(home: Home, content: bytes | str) -> None:
    path = home.work / "typed.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    obj = run_clean(home, ["sign-typed-data", "--data", str(path), "--chain-id", str(CHAIN_ID)])
    assert obj["ok"] is False  # never signed: the co-signer port is closed


@fuzz_settings(30)
@given(text=st.one_of(hexish, st.text(max_size=100)))
@example(text="0x" + "ab" * 9 + "  " + "cd" * 10)
def test_fuzz_message_hex(home: Home, text: str) -> None:
    """(A valid --hex costs a share decryption, about 0.2 s: kept to few examples.)"""
    obj = run_clean(home, ["sign-message", "--hex", text])
    assert obj["ok"] is False
