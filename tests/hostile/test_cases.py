"""Issue 11's numbered cases, each through the real `mpc` entry point (in process).

Each test fails without its fix: before, these ended in exit 1 (internal), a hang, or a signed
transaction the file's reader did not intend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support.inproc import check_clean, run_inproc, snapshot
from support.offline import CHAIN_ID, DEV_TO, VALID_TX, Home, signed_raw

SPACED = "0x" + "ab" * 9 + "  " + "cd" * 10  # 42 characters, bytes.fromhex skips the spaces


def tx(**fields: Any) -> dict[str, Any]:
    """A complete EIP-1559 tx.json (so nothing needs an RPC endpoint), with changes."""
    return {**VALID_TX, **fields}


def error_of(home: Home, args: list[str], code: int, extra_env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Run ``mpc --json ARGS``: exit ``code``, the clean-failure contract, nothing changed."""
    before = snapshot(home.dirs())
    result = run_inproc(["--json", *args], {**home.env, **(extra_env or {})})
    obj = check_clean(result)
    assert result.code == code, result
    assert obj is not None and obj["ok"] is False
    assert snapshot(home.dirs()) == before
    return obj["error"]


def sign_file(home: Home, text: str | bytes, code: int = 2) -> dict[str, Any]:
    path = home.work / "tx.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return error_of(home, ["sign", "--tx", str(path)], code)


# --- 1: deep nesting ---------------------------------------------------------------------------


def test_1_deeply_nested_tx_json_is_bad_file(home: Home) -> None:
    err = sign_file(home, "[" * 100_000 + "]" * 100_000)
    assert err["code"] == "bad_file" and "nested deeper" in err["message"]
    assert "tx.json" in err["message"]
    deep_list = "[" * 5000 + "]" * 5000
    text = json.dumps(tx(accessList=[])).replace('"accessList": []', f'"accessList": {deep_list}')
    err = sign_file(home, text)
    assert err["code"] == "bad_file" and "nested deeper" in err["message"]


def test_1_deeply_nested_sig_file_is_bad_file(home: Home) -> None:
    sig = home.work / "sig.json"
    sig.write_text('{"raw_tx": ' + "[" * 50_000 + "]" * 50_000 + "}")
    err = error_of(home, ["broadcast", "--sig", str(sig)], 2)
    assert err["code"] == "bad_file" and err["field"] == "sig" and "sig.json" in err["message"]
    assert "nested deeper" in err["message"]


# --- 2: huge numbers ---------------------------------------------------------------------------


def test_2_huge_json_number_names_the_field(home: Home) -> None:
    text = json.dumps(tx(value=0)).replace('"value": 0', '"value": 1' + "0" * 5000)
    err = sign_file(home, text)
    assert err["field"] == "value" and "5001 digits" in err["message"]
    err = sign_file(home, json.dumps(tx(value="1" + "0" * 5000)))
    assert err["code"] == "bad_input" and err["field"] == "value"


def test_2_huge_amount_option_names_the_option(home: Home) -> None:
    args = ["tx", "erc20-transfer", "--token", DEV_TO, "--to", DEV_TO]
    err = error_of(home, [*args, "--amount", "9" * 5000, "--out", str(home.work / "t.json")], 2)
    assert err["code"] == "bad_input" and err["field"] == "amount"


# --- 3: deep RLP -------------------------------------------------------------------------------


def test_3_deeply_nested_rlp_is_bad_input(home: Home) -> None:
    payload = b"\xc0"
    for _ in range(20_000):
        n = len(payload)
        prefix = bytes([0xC0 + n]) if n < 56 else bytes([0xF7 + (n.bit_length() + 7) // 8])
        prefix += n.to_bytes((n.bit_length() + 7) // 8, "big") if n >= 56 else b""
        payload = prefix + payload
    err = error_of(home, ["broadcast", "--raw", "0x02" + payload.hex()], 2)
    assert err["code"] == "bad_input" and err["field"] == "raw"
    err = error_of(home, ["broadcast", "--raw", "0x" + "c1" * 100_000], 2)
    assert err["code"] == "bad_input" and err["field"] == "raw"


# --- 4: unbounded reads ------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom"])
def test_4_tx_json_symlink_to_a_device_is_refused_unread(home: Home, target: str) -> None:
    link = home.work / "tx.json"
    link.symlink_to(target)
    err = error_of(home, ["sign", "--tx", str(link)], 2)
    assert err["code"] == "bad_file" and "not a regular file" in err["message"]


def test_4_fifo_and_huge_files_are_refused(home: Home) -> None:
    fifo = home.work / "fifo.json"
    os.mkfifo(fifo)  # opening it for reading would block forever without O_NONBLOCK
    err = error_of(home, ["sign", "--tx", str(fifo)], 2)
    assert "not a regular file" in err["message"]
    err = error_of(home, ["broadcast", "--sig", str(fifo)], 2)
    assert "not a regular file" in err["message"]
    err = error_of(home, ["sign", "--tx", str(home.work / "fifo.json"), "--share", str(fifo)], 2)
    assert "not a regular file" in err["message"]
    big = home.work / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: huge, costs no disk
    err = error_of(home, ["sign", "--tx", str(big)], 2)
    assert "larger than" in err["message"]


# --- 5: addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"to": SPACED}, "to"),
        ({"from": SPACED}, "from"),
        ({"accessList": [{"address": SPACED, "storageKeys": []}]}, "accessList[0].address"),
        ({"to": " " + DEV_TO[:-1]}, "to"),
        ({"to": "0X" + DEV_TO[2:]}, "to"),
        ({"to": DEV_TO + "\n"}, "to"),
    ],
)
def test_5_addresses_are_exactly_0x_and_40_hex_digits(
    home: Home, fields: dict[str, Any], field: str
) -> None:
    err = sign_file(home, json.dumps(tx(**fields)))
    assert err["code"] == "bad_input" and field in err["message"]


def test_5_option_addresses_too(home: Home) -> None:
    out = str(home.work / "t.json")
    for flag in ("--token", "--to"):
        args = ["tx", "erc20-transfer", "--token", DEV_TO, "--to", DEV_TO, "--amount", "1"]
        args[args.index(flag) + 1] = SPACED
        err = error_of(home, [*args, "--out", out], 2)
        assert err["field"] == flag.lstrip("-")


# --- 6: duplicate keys -------------------------------------------------------------------------


def test_6_duplicate_keys_are_refused_naming_the_key(home: Home) -> None:
    other = "0x" + "22" * 20
    text = json.dumps(tx())[:-1] + f', "to": "{other}"}}'
    err = sign_file(home, text)
    assert (
        err["code"] == "bad_file"
        and err["field"] == "to"
        and "'to' appears twice" in (err["message"])
    )


# --- 7: wrong types ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", False, 0, {}, "0x"])
def test_7_access_list_of_the_wrong_type_is_refused(home: Home, value: Any) -> None:
    err = sign_file(home, json.dumps(tx(accessList=value)))
    assert err["code"] == "bad_input" and err["field"] == "accessList"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"data": ""}, "data"),
        ({"data": False}, "data"),
        ({"value": False}, "value"),
        ({"from": False}, "from"),
        ({"from": ""}, "from"),
        ({"type": ""}, "type"),
        ({"accessList": [{"address": DEV_TO, "storageKeys": ""}]}, "accessList"),
    ],
)
def test_7_other_empty_or_false_values_are_refused(
    home: Home, fields: dict[str, Any], field: str
) -> None:
    err = sign_file(home, json.dumps(tx(**fields)))
    assert err["field"] == field


# --- 8: numbers that are not finite or out of range --------------------------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--timeout", "nan"], "timeout"),
        (["--timeout", "inf"], "timeout"),
        (["--timeout", "-1"], "timeout"),
        (["--receipt-timeout", "nan"], "receipt_timeout"),
        (["--receipt-timeout", "0"], "receipt_timeout"),
        (["--confirmations", "-1"], "confirmations"),
        (["--confirmations", "100000000"], "confirmations"),
    ],
)
def test_8_broadcast_numeric_options(home: Home, args: list[str], field: str) -> None:
    raw = signed_raw()
    err = error_of(home, ["broadcast", "--raw", raw, "--rpc-url", "http://127.0.0.1:9", *args], 2)
    assert err["code"] == "bad_input" and err["field"] == field


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e999", "-nan", "soon", "9" * 5000])
def test_8_retry_seconds_variable(home: Home, value: str) -> None:
    raw = signed_raw()
    err = error_of(
        home,
        ["broadcast", "--raw", raw, "--rpc-url", "http://127.0.0.1:9"],
        2,
        {"MPC_RPC_RETRY_SECONDS": value},
    )
    assert err["field"] == "MPC_RPC_RETRY_SECONDS"


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-5", "3601"])
def test_8_round_timeout_variable(home: Home, value: str) -> None:
    err = error_of(home, ["keygen", "--name", "other"], 2, {"MPC_ROUND_TIMEOUT": value})
    assert err["field"] == "MPC_ROUND_TIMEOUT"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["tx", "erc20-transfer", "--decimals", "78"], "decimals"),
        (["tx", "erc20-transfer", "--decimals", "-1"], "decimals"),
        (["tx", "erc20-transfer", "--chain-id", "0"], "chain_id"),
        (["tx", "erc20-transfer", "--nonce", "-1"], "nonce"),
        (["tx", "erc20-transfer", "--gas", str(2**64)], "gas"),
        (["bench", "--rounds", "0"], "rounds"),
        (["cosigner", "start", "--port", "70000"], "port"),
        (["cosigner", "start", "--port", "-1"], "port"),
    ],
)
def test_8_other_numeric_options(home: Home, args: list[str], field: str) -> None:
    if args[0] == "tx":
        args = [*args, "--token", DEV_TO, "--to", DEV_TO, "--amount", "1"]
        args += ["--out", str(home.work / "t.json")]
    err = error_of(home, args, 2)
    assert err["code"] == "bad_input" and err["field"] == field


def test_valid_inputs_still_work(home: Home) -> None:
    """The strictness refuses only what it should: a good tx.json reaches the co-signer."""
    path = home.work / "tx.json"
    path.write_text(json.dumps(tx(accessList=[{"address": DEV_TO, "storageKeys": []}])))
    result = run_inproc(["--json", "sign", "--tx", str(path)], home.env)
    obj = check_clean(result)
    assert obj is not None
    # Past every input check: refused only at the fixture's stand-in key blob (exit 11) or the
    # closed co-signer port (exit 10).
    assert obj["ok"] is False and obj["error"]["code"] not in ("bad_input", "bad_file"), obj
    assert result.code in (10, 11), obj
    out = home.work / "t.json"
    args = ["tx", "erc20-transfer", "--token", DEV_TO, "--to", DEV_TO, "--amount", "1.5"]
    result = run_inproc(["--json", *args, "--out", str(out), "--decimals", "6"], home.env)
    obj = check_clean(result)
    assert obj is not None and obj["ok"] is True and result.code == 0
    assert json.loads(out.read_text())["data"].endswith(hex(1_500_000)[2:].rjust(64, "0"))
    assert Path(out).stat().st_mode & 0o777 == 0o600


# --- found by the 10 000-example run: typed data type names and values -------------------------


@pytest.mark.parametrize(
    ("ftype", "value"),
    [
        ("bytes" + "1" * 5000 + "[]", []),  # int() of the size: ValueError before the fix
        ("uint256[" + "9" * 5000 + "]", []),
        ("uint" + "\u0662\u0665\u0666", 1),  # Arabic-Indic 256: \\d took it as uint256
        ("uint256\n", 1),  # $ matched before the newline
        ("uint256", "1" + "0" * 5000),
    ],
)
def test_typed_data_sizes_and_values_are_bounded(home: Home, ftype: str, value: Any) -> None:
    doc = {
        "types": {
            "EIP712Domain": [{"name": "chainId", "type": "uint256"}],
            "M": [{"name": "x", "type": ftype}],
        },
        "primaryType": "M",
        "domain": {"chainId": CHAIN_ID},
        "message": {"x": value},
    }
    path = home.work / "typed.json"
    path.write_text(json.dumps(doc))
    err = error_of(home, ["sign-typed-data", "--data", str(path)], 2)
    assert err["code"] == "bad_typed_data", err
