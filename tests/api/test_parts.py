"""The server's parts in-process: the one error-to-status map, the idempotency store, the
in-memory keyring (decrypts once, again after the file changes), the token file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mpcwallet import errors
from mpcwallet.api.idempotency import IdempotencyStore
from mpcwallet.api.ports import MemoryKeyring
from mpcwallet.api.status import error_body, http_status
from mpcwallet.api.token import load_or_create, matches
from mpcwallet.storage.body import ShareBody
from mpcwallet.storage.envelope import KDF_FLOOR
from mpcwallet.storage.store import save_share


def _tree(cls: type[errors.MpcError]) -> list[type[errors.MpcError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_tree(sub))
    return out


def test_every_error_of_the_tree_has_an_http_status_and_the_cli_body() -> None:
    for cls in _tree(errors.MpcError):
        err = cls("what went wrong", field="f")
        assert 400 <= http_status(err) <= 599, cls
        assert error_body(err) == {
            "error": {
                "code": cls.code,
                "message": "what went wrong",
                "kind": cls.kind,
                "field": "f",
            }
        }
    expected = {
        errors.Unauthorized: 401,
        errors.OriginRefused: 403,
        errors.PolicyRefused: 403,
        errors.HostRefused: 421,
        errors.BodyTooLarge: 413,
        errors.MalformedBody: 400,
        errors.InvalidRequest: 422,
        errors.BadInput: 422,
        errors.NotFound: 404,
        errors.IdempotencyConflict: 409,
        errors.IdempotencyUnknown: 409,
        errors.Busy: 409,
        errors.PeerUnreachable: 503,
        errors.PeerTimeout: 504,
        errors.ProtocolViolation: 502,
        errors.InternalError: 500,
    }
    for cls, status in expected.items():
        assert http_status(cls("x")) == status, cls


def test_idempotency_runs_once_for_concurrent_and_later_duplicates(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = IdempotencyStore(tmp_path / "idem.db")
        runs = 0
        gate = asyncio.Event()

        async def handler() -> tuple[int, bytes]:
            nonlocal runs
            runs += 1
            await gate.wait()
            return 200, b'{"sig": %d}' % runs

        first = [
            asyncio.ensure_future(store.run("k", "/tx/sign", b"{}", handler, keep=lambda a: True))
            for _ in range(3)
        ]
        # one loop iteration: asyncio runs the three ready tasks in order, each up to its wait
        await asyncio.sleep(0)
        gate.set()
        answers = await asyncio.gather(*first)
        later = await store.run("k", "/tx/sign", b"{}", handler, keep=lambda a: True)
        assert runs == 1
        assert {a for a, _ in [*answers, later]} == {(200, b'{"sig": 1}')}
        assert [replayed for _, replayed in [*answers, later]].count(False) == 1
        with pytest.raises(errors.IdempotencyConflict):
            await store.run("k", "/tx/sign", b'{"other": 1}', handler, keep=lambda a: True)
        with pytest.raises(errors.IdempotencyConflict):
            await store.run("k", "/tx/send", b"{}", handler, keep=lambda a: True)

    asyncio.run(scenario())


def test_an_answer_keep_refuses_is_forgotten_so_a_retry_runs_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = IdempotencyStore(tmp_path / "idem.db")
        answers = iter([(503, b"unreachable"), (200, b"signed")])

        async def handler() -> tuple[int, bytes]:
            return next(answers)

        keep = lambda a: a[0] != 503  # noqa: E731
        assert (await store.run("k", "/r", b"", handler, keep=keep))[0] == (503, b"unreachable")
        assert (await store.run("k", "/r", b"", handler, keep=keep))[0] == (200, b"signed")
        assert (await store.run("k", "/r", b"", handler, keep=keep)) == ((200, b"signed"), True)

    asyncio.run(scenario())


def test_idempotency_rows_outlive_the_store_and_a_cut_off_request_becomes_unknown(
    tmp_path: Path,
) -> None:
    path = tmp_path / "idem.db"

    async def signed() -> tuple[int, bytes]:
        return 200, b'{"sig": 1}'

    async def first_life() -> None:
        store = IdempotencyStore(path)
        await store.run("done", "/tx/sign", b"{}", signed, keep=lambda a: True)
        hold = asyncio.Event()

        async def never() -> tuple[int, bytes]:
            await hold.wait()
            return 200, b"late"

        cut = asyncio.ensure_future(store.run("cut", "/tx/send", b"{}", never, keep=lambda a: True))
        await asyncio.sleep(0)  # the row is committed before the handler runs
        assert store.state("cut") == "running"
        store.close()  # as a crash: the request never answered
        cut.cancel()

    asyncio.run(first_life())
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    async def second_life() -> None:
        store = IdempotencyStore(path)
        assert store.state("cut") == "unknown"
        runs = 0

        async def handler() -> tuple[int, bytes]:
            nonlocal runs
            runs += 1
            return 200, b"again"

        again = await store.run("done", "/tx/sign", b"{}", handler, keep=lambda a: True)
        assert again == ((200, b'{"sig": 1}'), True)
        with pytest.raises(errors.IdempotencyUnknown) as refused:
            await store.run("cut", "/tx/send", b"{}", handler, keep=lambda a: True)
        assert "restart" in refused.value.message and "new key" in refused.value.message
        assert http_status(refused.value) == 409
        with pytest.raises(errors.IdempotencyConflict):
            await store.run("cut", "/tx/send", b"{1}", handler, keep=lambda a: True)
        assert runs == 0
        store.close()

    asyncio.run(second_life())


def test_idempotency_rows_expire_and_the_store_is_bounded(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = IdempotencyStore(tmp_path / "idem.db", ttl=3600, max_entries=3)
        runs = 0

        async def handler() -> tuple[int, bytes]:
            nonlocal runs
            runs += 1
            return 200, b"%d" % runs

        for key in ("a", "b", "c", "d"):
            await store.run(key, "/r", b"", handler, keep=lambda a: True)
        assert [store.state(k) for k in "abcd"] == [None, "done", "done", "done"]
        store._db.execute("UPDATE entries SET created = created - 7200 WHERE key = 'b'")
        assert (await store.run("b", "/r", b"", handler, keep=lambda a: True)) == (
            (200, b"5"),
            False,
        )  # expired, so it ran again
        store.close()

    asyncio.run(scenario())


def test_the_keyring_decrypts_once_and_again_after_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mpcwallet.storage import store

    path = tmp_path / "k.enc"
    header = {"key_id": "k", "role": "P1", "engine": "portable", "address": "0x00"}
    save_share(path, ShareBody(b"blob-1", b"A" * 32), header, "pw", params=KDF_FLOOR)
    decrypts = 0
    real = store.load_share

    def counting(p: Path, passphrase: str | bytes, **kw: object) -> object:
        nonlocal decrypts
        decrypts += 1
        return real(p, passphrase)

    monkeypatch.setattr(store, "load_share", counting)
    keys = MemoryKeyring("pw")
    keys.unlock(path)
    assert keys.passphrase(path, verify=True) == "pw"
    assert keys.open(path, "pw")[1].key_blob == b"blob-1"
    assert decrypts == 1
    save_share(path, ShareBody(b"blob-2", b"B" * 32), header, "pw", params=KDF_FLOOR, force=True)
    assert keys.open(path, "pw")[1].key_blob == b"blob-2"
    assert keys.open(path, "pw")[1].key_blob == b"blob-2"
    assert decrypts == 2
    assert "pw" not in repr(keys)
    with pytest.raises(errors.WrongPassphrase):
        keys.open(path, "another")


def test_the_token_file_is_made_once_0600_and_compared_exactly(tmp_path: Path) -> None:
    path = tmp_path / "api.token"
    token, created = load_or_create(path)
    assert created and path.stat().st_mode & 0o777 == 0o600 and len(token) >= 43
    assert load_or_create(path) == (token, False)
    assert matches(token, token) and not matches(token[:-1], token) and not matches(None, token)
    path.write_text("short\n")
    with pytest.raises(errors.FileFormatError):
        load_or_create(path)


def test_the_api_imports_no_cli_module() -> None:
    """DESIGN.md: `cli, api -> wallet`; the server never reaches into the other front end."""
    import ast

    import mpcwallet.api

    found = []
    for path in sorted(Path(mpcwallet.api.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("mpcwallet.cli") or n.split(".")[0] in ("typer", "rich")
            ]
    assert found == []
