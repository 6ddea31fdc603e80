"""`mpc serve` end to end: a real `mpc serve` process, a real co-signer daemon and a real anvil
node, driven with a plain HTTP client (http.client). Every answer is validated against the
served OpenAPI document with openapi-core, and the document itself with
openapi-spec-validator.

One server for the module (keygen once): every endpoint; the refusals (token, Host, Origin,
size, JSON) with their status and code and no signing session at the co-signer; 20 concurrent
/tx/sign on 20 accounts; Idempotency-Key replays; no passphrase or token in the log or in any
answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSPHRASE, subprocess_env
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from support.anvil import Anvil, running_anvil
from support.api import Api, running_api
from support.cosigner import Cosigner, running_cosigner
from support.proc import error_of, ok_data, run_mpc

CHAIN_ID = 11155111
RECIPIENT = "0x" + "66" * 20
ALLOWED_ORIGIN = "http://localhost:3000"


def offline_tx(nonce: int = 0, value: int = 1000) -> dict[str, Any]:
    return {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "to": RECIPIENT,
        "value": value,
        "gas": 21000,
        "maxFeePerGas": 30 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }


@dataclass
class World:
    api: Api
    cs: Cosigner
    node: Anvil
    spec: Any  # openapi_core.OpenAPI
    document: dict[str, Any]
    before_api: set[str]  # co-signer sessions made before the server started (the CLI keygen)

    def check(self, method: str, path: str, status: int, body: Any, sent: Any = None) -> None:
        """The answer conforms to the served OpenAPI document (openapi-core)."""
        from openapi_core.testing import MockRequest, MockResponse

        request = MockRequest(
            self.document["servers"][0]["url"],
            method.lower(),
            path,
            data=json.dumps(sent).encode() if sent is not None else None,
            headers={"Authorization": "Bearer x"},
        )
        response = MockResponse(json.dumps(body).encode(), status_code=status)
        self.spec.validate_response(request, response)

    def post(self, path: str, obj: Any, **headers: str) -> tuple[int, Any, dict[str, str]]:
        status, body, got = self.api.call("POST", path, obj, headers=headers)
        self.check("POST", path, status, body, obj)
        return status, body, got

    def sessions(self) -> int:
        return len(cosigner_sessions(self.cs))


def cosigner_sessions(cs: Cosigner) -> list[dict[str, Any]]:
    data = ok_data(run_mpc(["--json", "cosigner", "sessions", "--limit", "1000"], cs.env))
    sessions = data["sessions"]
    assert isinstance(sessions, list)
    return sessions


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from openapi_core import OpenAPI

    env = subprocess_env(tmp_path_factory.mktemp("api") / "home")
    with running_anvil() as node, running_cosigner(env) as cs:
        ok_data(run_mpc(["--json", "keygen"], cs.env))
        before = {row["session"] for row in cosigner_sessions(cs)}
        with running_api(cs.env, extra_args=("--allow-origin", ALLOWED_ORIGIN)) as api:
            status, document, _ = api.call("GET", "/openapi.json")
            assert status == 200
            yield World(api, cs, node, OpenAPI.from_dict(document), document, before)


def test_the_served_document_is_valid_openapi_3_1_and_what_print_openapi_prints(
    world: World,
) -> None:
    from openapi_spec_validator import validate

    validate(world.document)
    assert world.document["openapi"] == "3.1.0"
    # --print-openapi needs no passphrase and unlocks nothing
    env = {k: v for k, v in world.cs.env.items() if k != "MPC_PASSPHRASE"}
    printed = ok_data(run_mpc(["--json", "serve", "--print-openapi"], env))
    assert printed["servers"] == [{"url": "http://127.0.0.1:7448"}]  # the default port
    assert world.document["servers"] == [{"url": f"http://127.0.0.1:{world.api.port}"}]
    assert {**printed, "servers": None} == {**world.document, "servers": None}
    for path in ("/keygen/init", "/keygen/complete", "/address", "/tx/prepare", "/tx/sign"):
        assert path in world.document["paths"]


@pytest.mark.anvil
def test_every_endpoint_answers_as_documented(world: World) -> None:
    status, health, _ = world.api.call("GET", "/healthz")
    world.check("GET", "/healthz", status, health)
    assert (status, health["status"], health["keys"]) == (200, "ok", 1), health
    assert health["cosigner"]["state"] == "ok" and health["cosigner"]["reason"] is None

    status, addr, _ = world.post("/address", {})
    assert status == 200 and addr["account"] == 0
    status, acc, _ = world.post("/accounts", {"start": 0, "count": 3})
    assert status == 200 and [a["account"] for a in acc["addresses"]] == [0, 1, 2]
    assert acc["addresses"][0]["address"] == addr["address"]
    sender = addr["address"]

    # prepare: the node fills nonce, gas and fees; tx_hash is the signing hash
    partial = {"chainId": CHAIN_ID, "to": RECIPIENT, "value": 10**15}
    status, prep, _ = world.post("/tx/prepare", {"tx": partial, "rpc_url": world.node.url})
    assert status == 200, prep
    assert prep["from"] == sender and {"nonce", "gas"} <= set(prep["filled"])

    # sign offline: the raw tx recovers to the wallet's address
    status, sig, _ = world.post("/tx/sign", {"tx": offline_tx()})
    assert status == 200, sig
    assert Account.recover_transaction(sig["raw_tx"]) == sender
    assert sig["from"] == sender and {"r", "s", "v", "raw_tx"} <= set(sig)

    # sign the prepared tx: same signing hash as /tx/prepare said
    status, sig2, _ = world.post("/tx/sign", {"tx": prep["tx"]})
    assert status == 200 and sig2["signing_hash"] == prep["tx_hash"]

    status, msg, _ = world.post("/message/sign", {"message": "hello from the API"})
    assert status == 200, msg
    assert (
        Account.recover_message(
            encode_defunct(text="hello from the API"), signature=msg["signature"]
        )
        == sender
    )

    document = permit(sender)
    status, typed, _ = world.post("/typed-data/sign", {"document": document})
    assert status == 200, typed
    assert (
        Account.recover_message(
            encode_typed_data(full_message=document), signature=typed["signature"]
        )
        == sender
    )

    # send: funded, broadcast, mined
    world.node.fund(sender, 10**18)
    before = world.node.balance(RECIPIENT)
    status, sent, _ = world.post(
        "/tx/send",
        {"tx": {"chainId": CHAIN_ID, "to": RECIPIENT, "value": 12345}, "rpc_url": world.node.url},
    )
    assert status == 200, sent
    assert sent["receipt"]["status"] == 1
    assert world.node.balance(RECIPIENT) == before + 12345

    # keygen through the API: a second key, unlocked for signing at once
    status, init, _ = world.post("/keygen/init", {"name": "api-key"})
    assert status == 200, init
    status, made, _ = world.post("/keygen/complete", {"session_id": init["session_id"]})
    assert status == 200, made
    status, again, _ = world.post("/keygen/complete", {"session_id": init["session_id"]})
    assert status == 404 and again["error"]["code"] == "not_found"
    status, addr2, _ = world.post("/address", {"key": "api-key"})
    assert addr2["address"] == made["address"] != sender
    status, sig3, _ = world.post("/tx/sign", {"key": "api-key", "tx": offline_tx()})
    assert status == 200 and Account.recover_transaction(sig3["raw_tx"]) == made["address"]

    # refresh rewrites the share; the server decrypts it again and signs with it
    status, refreshed, _ = world.post("/refresh", {"key": "api-key"})
    assert status == 200, refreshed
    assert refreshed["generation"] == refreshed["previous_generation"] + 1
    assert refreshed["address"] == made["address"]
    status, sig4, _ = world.post("/tx/sign", {"key": "api-key", "tx": offline_tx(1)})
    assert status == 200 and Account.recover_transaction(sig4["raw_tx"]) == made["address"]
    assert any(
        line["event"] == "share_reloaded" and line["share"] == "api-key.enc"
        for line in world.api.log_lines()
    )

    # a value the wallet refuses: the code and field of the CLI
    status, bad, _ = world.post("/tx/sign", {"tx": {**offline_tx(), "to": "0x1234"}})
    assert status == 422 and bad["error"]["code"] == "bad_input"
    assert bad["error"]["field"] == "to"
    status, missing, _ = world.post("/address", {"key": "nope"})
    assert status == 404 and missing["error"]["code"] == "not_found"


def permit(owner: str) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "value", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": "Test Token", "chainId": CHAIN_ID},
        "message": {"owner": owner, "value": 5},
    }


def test_refusals_have_their_status_and_code_and_sign_nothing(world: World) -> None:
    api = world.api
    body = json.dumps({"tx": offline_tx(7)}).encode()
    good = {
        "Authorization": f"Bearer {api.token}",
        "Host": api.host,
        "Content-Type": "application/json",
    }
    before = world.sessions()
    cases: list[tuple[str, dict[str, str], bytes, int, str]] = [
        (
            "no token",
            {k: v for k, v in good.items() if k != "Authorization"},
            body,
            401,
            "unauthorized",
        ),
        ("wrong token", {**good, "Authorization": "Bearer " + "A" * 43}, body, 401, "unauthorized"),
        ("not bearer", {**good, "Authorization": f"Basic {api.token}"}, body, 401, "unauthorized"),
        ("foreign Host", {**good, "Host": f"evil.example:{api.port}"}, body, 421, "host_refused"),
        ("Host without port", {**good, "Host": "localhost"}, body, 421, "host_refused"),
        ("browser Origin", {**good, "Origin": "https://evil.example"}, body, 403, "origin_refused"),
        ("oversized body", good, b'{"tx": "' + b"x" * (300 * 1024) + b'"}', 413, "body_too_large"),
        ("malformed JSON", good, b'{"tx": {"to": ', 400, "malformed_json"),
        ("duplicate keys", good, b'{"tx": {}, "tx": {}}', 400, "malformed_json"),
        ("too deep", good, b'{"tx": ' + b"[" * 100 + b"]" * 100 + b"}", 400, "malformed_json"),
        ("not an object", good, b"[1, 2]", 422, "invalid_request"),
        ("unknown field", good, b'{"tx": {}, "sign_anyway": true}', 422, "invalid_request"),
        ("wrong type", good, b'{"tx": {}, "account": "1"}', 422, "invalid_request"),
    ]
    for name, headers, data, status, code in cases:
        got, raw, hdrs = api.raw("POST", "/tx/sign", data, headers)
        answer = json.loads(raw)
        assert (got, answer["error"]["code"]) == (status, code), (name, answer)
        assert set(answer["error"]) == {"code", "message", "kind", "field"}, name
        world.check("POST", "/tx/sign", got, answer)
        assert hdrs.get("access-control-allow-origin") is None, name
    got, raw, _ = api.raw("GET", "/nowhere", None, good)
    assert got == 404 and json.loads(raw)["error"]["code"] == "no_such_route"
    got, raw, _ = api.raw("GET", "/tx/sign", None, good)
    assert got == 405 and json.loads(raw)["error"]["code"] == "method_not_allowed"
    assert world.sessions() == before  # nothing reached the co-signer

    # the configured origin: CORS preflight and answers carry its headers
    got, _, hdrs = api.raw(
        "OPTIONS", "/tx/sign", None, {"Host": api.host, "Origin": ALLOWED_ORIGIN}
    )
    assert got == 204 and hdrs["access-control-allow-origin"] == ALLOWED_ORIGIN
    status, _, hdrs = api.call("POST", "/address", {}, headers={"Origin": ALLOWED_ORIGIN})
    assert status == 200 and hdrs["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_twenty_concurrent_signs_on_twenty_accounts_all_succeed(world: World) -> None:
    status, listed, _ = world.post("/accounts", {"start": 0, "count": 20})
    addresses = [a["address"] for a in listed["addresses"]]
    start = threading.Barrier(20)

    def sign(account: int) -> tuple[int, Any]:
        start.wait(timeout=30)
        status, body, _ = world.api.call(
            "POST", "/tx/sign", {"account": account, "tx": offline_tx(3)}, timeout=300
        )
        return status, body

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(sign, range(20)))
    for account, (status, body) in enumerate(results):
        assert status == 200, (account, body)
        world.check("POST", "/tx/sign", status, body, {"account": account, "tx": offline_tx(3)})
        assert Account.recover_transaction(body["raw_tx"]) == addresses[account]
        assert body["account"] == account


def test_a_retried_idempotency_key_returns_the_same_signature_and_signs_once(
    world: World,
) -> None:
    before = world.sessions()
    request = {"tx": offline_tx(42)}
    key = {"Idempotency-Key": "order-42"}
    barrier = threading.Barrier(3)

    def send() -> tuple[int, Any, dict[str, str]]:
        barrier.wait(timeout=30)
        return world.api.call("POST", "/tx/sign", request, headers=key)

    with ThreadPoolExecutor(3) as pool:
        first = list(pool.map(lambda _: send(), range(3)))
    later = world.post("/tx/sign", request, **key)
    answers = [*first, later]
    assert all(status == 200 for status, _, _ in answers)
    assert len({json.dumps(body, sort_keys=True) for _, body, _ in answers}) == 1
    assert sum(1 for _, _, h in answers if h.get("idempotency-replayed") == "true") == 3
    assert world.sessions() == before + 1  # one signature, four answers

    status, conflict, _ = world.post("/tx/sign", {"tx": offline_tx(43)}, **key)
    assert status == 409 and conflict["error"]["code"] == "idempotency_conflict"
    status, other_route, _ = world.post("/message/sign", {"message": "x"}, **key)
    assert status == 409 and other_route["error"]["code"] == "idempotency_conflict"
    assert world.sessions() == before + 1


def test_a_wrong_passphrase_or_a_busy_port_stops_serve_before_it_listens(world: World) -> None:
    wrong = {**world.cs.env, "MPC_PASSPHRASE": "not the passphrase"}
    error_of(run_mpc(["--json", "serve", "--port", "0"], wrong), 3, "wrong_passphrase")
    busy = run_mpc(["--json", "serve", "--port", str(world.api.port)], world.cs.env)
    error_of(busy, 12, "port_in_use")
    assert not (world.api.home / "api.json").exists()  # --port 0 and a failed start: not kept


def test_no_passphrase_or_token_in_the_log_or_any_answer(world: World) -> None:
    lines = world.api.log_lines()
    assert lines, "the server logged nothing"
    requests = [line for line in lines if line["event"] == "request"]
    assert requests and all(len(line["request_id"]) >= 8 for line in requests)
    assert any(line["event"] == "step" and "request_id" in line for line in lines)
    # each signing request names its co-signer session, as the co-signer records it
    sessions = cosigner_sessions(world.cs)
    logged = {line["session_id"] for line in lines if line["event"] == "cosigner_session"}
    through_api = [row for row in sessions if row["session"] not in world.before_api]
    assert len(through_api) > 20  # every signing test above, keygen and refresh
    assert {row["session"] for row in through_api} <= logged
    text = world.api.log_file.read_bytes()
    for secret in (TEST_PASSPHRASE.encode(), world.api.token.encode()):
        assert secret not in text
        for seen in world.api.seen:
            assert secret not in seen
    token_file = world.api.home / "api.token"
    assert token_file.stat().st_mode & 0o777 == 0o600


# --- issue 26: the API as a script writer meets it --------------------------------------------


def test_healthz_is_degraded_with_the_reason_while_the_cosigner_is_stopped(
    tmp_path: Path,
) -> None:
    """A server whose co-signer does not answer cannot sign: /healthz says so (the world's
    server, with its co-signer up, answers ok in test_every_endpoint_answers_as_documented)."""
    from support.inproc import closed_port_url

    env = dict(subprocess_env(tmp_path / "home"), MPC_COSIGNER_URL=closed_port_url())
    with running_api(env) as api:
        status, health, _ = api.call("GET", "/healthz")
    assert status == 200, health
    assert health["status"] == "degraded" and health["cosigner"]["state"] == "unreachable"
    assert health["cosigner"]["endpoint"] == env["MPC_COSIGNER_URL"]
    assert health["cosigner"]["reason"], health


@pytest.mark.anvil
def test_amounts_in_answers_are_decimal_strings(world: World) -> None:
    big = 2**53 + 1  # a JavaScript number cannot hold it
    status, prep, _ = world.post(
        "/tx/prepare",
        {"tx": {"chainId": CHAIN_ID, "to": RECIPIENT, "value": big, "maxFeePerGas": "30 gwei",
                "maxPriorityFeePerGas": "1 gwei"}, "rpc_url": world.node.url},
    )  # fmt: skip
    assert status == 200, prep
    assert prep["tx"]["value"] == str(big)
    assert prep["tx"]["maxFeePerGas"] == str(30 * 10**9)
    assert all(not isinstance(v, int) for k, v in prep["filled"].items() if "Fee" in k)
    world.node.fund(prep["from"], 10**18)
    status, sent, _ = world.post(
        "/tx/send",
        {"tx": {"chainId": CHAIN_ID, "to": RECIPIENT, "value": "0.001 ETH"},
         "rpc_url": world.node.url},
    )  # fmt: skip
    assert status == 200, sent
    assert sent["value"] == str(10**15)
    assert isinstance(sent["receipt"]["effective_gas_price"], str)
    for key in ("value_wei", "max_cost_wei", "balance_wei"):
        assert isinstance(sent["preview"][key], str), key


def test_the_document_describes_tx_field_by_field_with_examples(world: World) -> None:
    """Each example of the served `tx` schema validates against it, and is a transaction the
    wallet's parser accepts."""
    from jsonschema import Draft202012Validator

    from mpcwallet.evm.txjson import parse_tx

    tx = world.document["components"]["schemas"]["TxRequest"]["properties"]["tx"]
    for name in ("chainId", "to", "value", "data", "nonce", "gas", "maxFeePerGas",
                 "maxPriorityFeePerGas", "gasPrice", "accessList", "type", "from"):  # fmt: skip
        field = tx["properties"][name]
        assert field["description"] and field["examples"], name
    assert "0.01 ETH" in tx["properties"]["value"]["examples"]
    validator = Draft202012Validator(tx)
    for example in tx["examples"]:
        validator.validate(example)
        parse_tx(example)
    assert not validator.is_valid({"chainId": 1, "sign_anyway": True})


def test_errors_speak_in_api_fields_not_cli_flags(world: World) -> None:
    status, answer, _ = world.post(
        "/tx/sign", {"tx": {"chainId": CHAIN_ID, "to": RECIPIENT, "value": "1 wei"}}
    )
    assert status == 422, answer
    message = answer["error"]["message"]
    assert "--" not in message and '"rpc_url"' in message, message
    mail = permit(RECIPIENT)
    mail["domain"]["chainId"] = 1
    status, answer, _ = world.post("/typed-data/sign", {"document": mail})
    assert (status, answer["error"]["code"]) == (422, "chain_id_mismatch"), answer
    assert "--" not in answer["error"]["message"]
    assert 'give "chain_id": 1' in answer["error"]["message"]


def test_sigterm_stops_the_server_cleanly(world: World) -> None:
    """Last in the module: the server stops on SIGTERM with exit 0 and removes its state."""
    assert (world.api.home / "api.state.json").exists()
    assert world.api.stop() == 0
    assert not (world.api.home / "api.state.json").exists()
    assert world.api.log_lines()[-1]["event"] == "stopped"
