"""The bounded, strict JSON loader: every refusal is bad_file/bad_input naming what and where."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from mpcwallet import jsonio
from mpcwallet.errors import BadInput, FileFormatError, NotFound


def test_accepts_ordinary_json() -> None:
    text = '{"a": [1, -2, 3.5, "x", true, null], "b": {"c": "0x12"}}'
    assert jsonio.loads(text, what="t") == {
        "a": [1, -2, 3.5, "x", True, None],
        "b": {"c": "0x12"},
    }
    assert jsonio.loads(b"\xef\xbb\xbf[1]", what="t") == [1]


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_deep_nesting_is_refused_before_parsing(n: int) -> None:
    for text in ("[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, "[" * n):
        with pytest.raises(FileFormatError, match=r"tx\.json: nested deeper than 64"):
            jsonio.loads(text, what="tx.json")


def test_depth_limit_is_exact_and_ignores_brackets_in_strings() -> None:
    assert jsonio.loads("[" * 64 + "]" * 64, what="t") is not None
    with pytest.raises(FileFormatError):
        jsonio.loads("[" * 65 + "]" * 65, what="t")
    text = '["' + "[" * 1000 + '\\"' + "{" * 1000 + '"]'
    assert jsonio.loads(text, what="t") == ["[" * 1000 + '"' + "{" * 1000]


def test_huge_integer_is_refused_naming_its_path() -> None:
    text = '{"value": 1' + "0" * 5000 + "}"
    with pytest.raises(FileFormatError, match=r"the number at value has 5001 digits") as exc:
        jsonio.loads(text, what="tx.json")
    assert exc.value.field == "value"
    with pytest.raises(FileFormatError, match=r"accessList\[0\]\.x"):
        jsonio.loads('{"accessList": [{"x": -' + "9" * 100 + "}]}", what="tx.json")
    assert jsonio.loads("[" + "9" * 80 + "]", what="t") == [int("9" * 80)]


def test_huge_and_infinite_floats_are_refused() -> None:
    with pytest.raises(FileFormatError, match="not a finite number"):
        jsonio.loads('{"v": 1e999}', what="t")
    with pytest.raises(FileFormatError, match="characters long"):
        jsonio.loads('{"v": 1.' + "0" * 5000 + "}", what="t")


@pytest.mark.parametrize("const", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(const: str) -> None:
    with pytest.raises(FileFormatError, match="not a JSON number"):
        jsonio.loads(f'{{"v": {const}}}', what="t")


def test_duplicate_keys_are_refused_naming_the_key() -> None:
    with pytest.raises(FileFormatError, match=r"tx\.json: key 'to' appears twice") as exc:
        jsonio.loads('{"to": "0x1", "value": 1, "to": "0x2"}', what="tx.json")
    assert exc.value.field == "to"
    with pytest.raises(FileFormatError, match="'k' appears twice"):
        jsonio.loads('{"a": [{"k": 1, "k": 1}]}', what="t")


def test_lone_surrogates_and_bad_utf8_are_refused() -> None:
    with pytest.raises(FileFormatError, match="not valid Unicode"):
        jsonio.loads('{"a": "\\ud800"}', what="t")
    with pytest.raises(FileFormatError, match="not valid Unicode"):
        jsonio.loads('{"\\udfff": 1}', what="t")
    with pytest.raises(FileFormatError, match="not UTF-8"):
        jsonio.loads(b'{"a": "\xff"}', what="t")


def test_syntax_errors_and_size_cap() -> None:
    with pytest.raises(FileFormatError, match=r"not valid JSON .*line 1"):
        jsonio.loads("{", what="t")
    with pytest.raises(FileFormatError, match="larger than 10 bytes"):
        jsonio.loads(b"[" + b" " * 20 + b"]", what="t", max_bytes=10)


def test_error_class_is_selectable() -> None:
    with pytest.raises(BadInput) as exc:
        jsonio.loads("{", what="--data", error=BadInput, field="data")
    assert type(exc.value) is BadInput
    assert exc.value.field == "data"
    assert exc.value.message.startswith("--data: ")


def test_load_file_reads_a_regular_file(tmp_path: Path) -> None:
    p = tmp_path / "tx.json"
    p.write_text('{"a": 1}')
    assert jsonio.load_file(p, what="tx.json") == {"a": 1}
    link = tmp_path / "link.json"
    link.symlink_to(p)
    assert jsonio.load_file(link, what="tx.json") == {"a": 1}


def test_load_file_refuses_devices_even_behind_a_symlink(tmp_path: Path) -> None:
    link = tmp_path / "tx.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(FileFormatError, match=r"tx\.json .* is not a regular file"):
        jsonio.load_file(link, what="tx.json")


def test_load_file_does_not_hang_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "tx.json"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def run() -> None:
        try:
            jsonio.load_file(fifo, what="tx.json")
        except BaseException as exc:
            result.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "reading a FIFO blocked"
    assert isinstance(result[0], FileFormatError)


def test_load_file_size_cap_and_missing_and_directory(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b"[" + b" " * 2000 + b"]")
    with pytest.raises(FileFormatError, match="larger than 1000 bytes"):
        jsonio.load_file(big, what="tx.json", max_bytes=1000)
    with pytest.raises(NotFound, match="does not exist"):
        jsonio.load_file(tmp_path / "nope.json", what="tx.json")
    with pytest.raises(BadInput, match="is a directory"):
        jsonio.load_file(tmp_path, what="tx.json")


def test_read_bounded_never_reads_past_the_cap(tmp_path: Path) -> None:
    """A file whose size grows after the stat is still cut at max_bytes + 1 and refused."""
    p = tmp_path / "grow"
    p.write_bytes(b"x" * 10)
    assert jsonio.read_bounded(p, what="f", max_bytes=10) == b"x" * 10
    p.write_bytes(b"x" * 11)
    with pytest.raises(FileFormatError):
        jsonio.read_bounded(p, what="f", max_bytes=10)


def test_any_error_class_of_the_tree_for_a_peer_frame() -> None:
    from mpcwallet.errors import SessionViolation

    with pytest.raises(SessionViolation) as exc:
        jsonio.loads("[" * 10_000, what="control frame", error=SessionViolation)
    assert exc.value.kind == "violation" and "control frame" in exc.value.message


def test_pairing_token_and_daemon_files_are_read_bounded(tmp_path: Path) -> None:
    from mpcwallet.cosigner.daemon import _read_state
    from mpcwallet.homes.paths import CosignerPaths
    from mpcwallet.homes.token import read_token

    token = tmp_path / "auth.token"
    token.symlink_to("/dev/zero")
    with pytest.raises(FileFormatError, match="not a regular file"):
        read_token(token)
    paths = CosignerPaths.for_home(tmp_path)
    paths.state_file.parent.mkdir(parents=True, exist_ok=True)
    paths.state_file.write_text("[" * 100_000)
    assert _read_state(paths) is None
