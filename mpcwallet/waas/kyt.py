"""KYT (know your transaction) screening: an adapter interface and the default local deny list.

A real provider plugs in behind :class:`KytAdapter`: ``screen`` gets every address a request
pays or empowers (the ``to``, a decoded token recipient) and answers allow or deny with a
reason code. The default, :class:`DenyListKyt`, denies the addresses listed in a file (one
``0x`` address a line, ``#`` comments) or given directly; it never calls out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mpcwallet.errors import BadInput, FileFormatError
from mpcwallet.evm.address import parse_address

__all__ = ["DenyListKyt", "KytAdapter", "KytResult"]


@dataclass(frozen=True)
class KytResult:
    allowed: bool
    provider: str
    code: str  # "clear" or why it denied ("deny_list", ...)
    address: str | None = None  # the address it denied

    def snapshot(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "provider": self.provider,
            "code": self.code,
            "address": self.address,
        }


class KytAdapter(Protocol):
    name: str

    def screen(self, chain_id: int, addresses: Sequence[str]) -> KytResult: ...


class DenyListKyt:
    name = "local-deny-list"

    def __init__(self, addresses: Iterable[str] = ()) -> None:
        self._denied = {"0x" + parse_address(a, "kyt deny list").hex() for a in addresses}

    @classmethod
    def from_file(cls, path: Path) -> DenyListKyt:
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise FileFormatError(f"cannot read the KYT deny list {path}: {exc.strerror}") from None
        out = []
        for n, line in enumerate(lines, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                out.append("0x" + parse_address(text, "address").hex())
            except BadInput:
                raise FileFormatError(
                    f"{path}, line {n}: not an address ({text[:60]!r}); one 0x address a line"
                ) from None
        return cls(out)

    def screen(self, chain_id: int, addresses: Sequence[str]) -> KytResult:
        for a in addresses:
            if a.lower() in self._denied:
                return KytResult(False, self.name, "deny_list", a.lower())
        return KytResult(True, self.name, "clear")
