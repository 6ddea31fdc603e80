"""The co-signer's signing policy: ``MPC_HOME/cosigner/policy.toml`` (pure: parse and decide).

Layout (every key optional; a later table overrides an earlier one key by key)::

    [default]                      # every key and account
    [keys.NAME]                    # a key, by its keygen name or its key id
    [keys.NAME.accounts.N]         # one account of that key

Rule keys (amounts take units, ``"0.05 ether"``, ``"200 gwei"``; a bare integer is wei):

* ``chain_ids`` - allowed chain ids (absent: any)
* ``max_value_per_tx`` / ``max_value_24h`` - ETH value per transaction / per rolling 24 h
* ``max_fee_per_gas`` - cap on ``maxFeePerGas`` (``gasPrice`` for legacy transactions)
* ``allow_to`` / ``deny_to`` - every transaction's ``to``, and also each decoded token
  recipient and allowance spender (:mod:`mpcwallet.evm.allowance`). An empty ``allow_to``
  allows any address that is not denied.
* ``allow_selectors`` - contract call selectors (``"0xa9059cbb"``); plain transfers always pass,
  calldata of 1 to 3 bytes and contract creations with init code do not
* ``allow_domains`` - EIP-712 domains (``{ name, chainId, verifyingContract }``, each optional)
* ``tokens."0xTOKEN"`` - ``{ decimals, max_per_tx, max_24h, approval_above }`` in token units
* ``approval_above`` - ETH value above which permits are needed; ``approvals_required`` (default
  1) and ``approvers`` (names; empty: any registered approver); ``approval_for`` - kinds
  (``tx``, ``message``, ``typed_data``) that always need permits.
* ``allow_without_approval`` - kinds (``message``, ``typed_data``) signed without a permit even
  though the rules restrict something (:attr:`Rules.restricts`); without it a restrictive policy
  needs a permit for every message and typed-data document. ``approval_for`` wins over it.

Unknown keys are errors. :func:`parse_policy` reports the line of a bad key itself (``tomllib``
gives line numbers for syntax errors only) using :class:`_Lines`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpcwallet.errors import BadInput, PolicyFileError

KINDS = ("tx", "message", "typed_data")
UNAPPROVED_KINDS = ("message", "typed_data")
_ADDR_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_SEL_RE = re.compile(r"^0x[0-9a-fA-F]{8}$")


@dataclass(frozen=True)
class TokenRule:
    decimals: int = 18
    max_per_tx: int | None = None
    max_24h: int | None = None
    approval_above: int | None = None


@dataclass(frozen=True)
class DomainRule:
    name: str | None = None
    chain_id: int | None = None
    verifying_contract: bytes | None = None


@dataclass(frozen=True)
class Rules:
    """The rules in force for one key and account (``scope`` names where they came from)."""

    scope: str = "default"
    chain_ids: tuple[int, ...] | None = None
    max_value_per_tx: int | None = None
    max_value_24h: int | None = None
    max_fee_per_gas: int | None = None
    allow_to: tuple[bytes, ...] = ()
    deny_to: tuple[bytes, ...] = ()
    allow_selectors: tuple[bytes, ...] | None = None
    allow_domains: tuple[DomainRule, ...] | None = None
    approval_above: int | None = None
    approvals_required: int = 1
    approvers: tuple[str, ...] = ()
    approval_for: tuple[str, ...] = ()
    allow_without_approval: tuple[str, ...] = ()
    tokens: Mapping[bytes, TokenRule] = field(default_factory=dict)

    @property
    def restricts(self) -> bool:
        """Any limit or list: then messages and typed data, whose effect the co-signer cannot
        judge in general, need a permit unless ``allow_without_approval`` names their kind."""
        return bool(
            self.chain_ids is not None
            or self.max_value_per_tx is not None
            or self.max_value_24h is not None
            or self.max_fee_per_gas is not None
            or self.allow_to
            or self.deny_to
            or self.allow_selectors is not None
            or self.allow_domains is not None
            or self.approval_above is not None
            or self.tokens
        )


@dataclass(frozen=True)
class Policy:
    """A parsed policy file; ``Policy.empty()`` (no file) admits everything valid."""

    default: Mapping[str, Any]
    keys: Mapping[str, Mapping[str, Any]]
    accounts: Mapping[tuple[str, int], Mapping[str, Any]]
    source: str | None = None
    sha256: str | None = None

    @classmethod
    def empty(cls) -> Policy:
        return cls({}, {}, {})

    @property
    def present(self) -> bool:
        return self.source is not None

    def rules_for(self, key_id: str, key_name: str | None, account: int) -> Rules:
        merged: dict[str, Any] = dict(self.default)
        scope = "default"
        for name in (key_id, key_name):
            if name is not None and name in self.keys:
                merged = _merge(merged, self.keys[name])
                scope = f"keys.{name}"
                acct = self.accounts.get((name, account))
                if acct is not None:
                    merged = _merge(merged, acct)
                    scope = f"keys.{name}.accounts.{account}"
                break
        return Rules(scope=scope, **merged)


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if k == "tokens":
            out[k] = {**out.get("tokens", {}), **v}
        else:
            out[k] = v
    return out


# --- locating keys in the text (for line numbers) -------------------------------------------


def _split_dotted(text: str) -> list[str]:
    parts: list[str] = []
    buf = ""
    quote: str | None = None
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
            else:
                buf += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(buf.strip())
            buf = ""
        else:
            buf += ch
    parts.append(buf.strip())
    return parts


_HEADER_RE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY_RE = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)


class _Lines:
    """Where each table header and key of a TOML text is (1-based line), best effort."""

    def __init__(self, text: str) -> None:
        self.where: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        for n, line in enumerate(text.splitlines(), start=1):
            h = _HEADER_RE.match(line)
            if h:
                table = tuple(_split_dotted(h.group(1)))
                self.where.setdefault(table, n)
                continue
            k = _KEY_RE.match(line)
            if k:
                self.where.setdefault((*table, *_split_dotted(k.group(1))), n)

    def line(self, path: tuple[str, ...]) -> int | None:
        for end in range(len(path), 0, -1):
            if path[:end] in self.where:
                return self.where[path[:end]]
        return None


# --- parsing ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.lines = _Lines(text)
        self.source = source

    def fail(self, path: tuple[str, ...], why: str) -> PolicyFileError:
        line = self.lines.line(path)
        where = f"{self.source}:{line}" if line else self.source
        dotted = ".".join(path)
        return PolicyFileError(f"{where}: {dotted}: {why}", field=dotted)

    def scope(self, table: object, path: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise self.fail(path, "must be a table")
        out: dict[str, Any] = {}
        for key, value in table.items():
            p = (*path, key)
            parse = _RULES.get(key)
            if parse is None:
                raise self.fail(p, f"unknown key {key!r} (known: {', '.join(sorted(_RULES))})")
            out[key] = parse(self, p, value)
        both = set(out.get("approval_for", ())) & set(out.get("allow_without_approval", ()))
        if both:
            raise self.fail(
                (*path, "allow_without_approval"),
                f"{sorted(both)[0]!r} is also in approval_for; list a kind in one of them",
            )
        return out

    def _amount(self, path: tuple[str, ...], parse: Callable[[str], int]) -> int:
        """One amount through the wallet's own parsers (evm.units, evm.erc20), so the policy
        reads amounts exactly as tx.json does; their message, without its field prefix."""
        dotted = ".".join(path)
        try:
            return parse(dotted)
        except BadInput as exc:
            raise self.fail(path, exc.message.removeprefix(f"{dotted}: ")) from None

    def wei(self, path: tuple[str, ...], value: object) -> int:
        """``"0.05 ether"``, ``"200 gwei"``; a bare integer (TOML int) is wei."""
        from mpcwallet.evm.units import parse_wei

        return self._amount(path, lambda field: parse_wei(value, field))

    def token_amount(self, path: tuple[str, ...], value: object, decimals: int) -> int:
        """``"12.5"`` in token units; a bare integer (TOML int) is base units."""
        from mpcwallet.evm.erc20 import parse_amount
        from mpcwallet.evm.txjson import parse_int

        def parse(field: str) -> int:
            if isinstance(value, str):
                return parse_amount(value, decimals, field)
            return parse_int(value, field)

        return self._amount(path, parse)

    def count(self, path: tuple[str, ...], value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value > 16:
            raise self.fail(path, "must be an integer from 1 to 16")
        return value

    def str_list(self, path: tuple[str, ...], value: object) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, "must be a list")
        return value

    def chain_ids(self, path: tuple[str, ...], value: object) -> tuple[int, ...]:
        items = self.str_list(path, value)
        for v in items:
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise self.fail(path, f"{v!r} is not a positive chain id")
        return tuple(items)

    def addresses(self, path: tuple[str, ...], value: object) -> tuple[bytes, ...]:
        out = []
        for v in self.str_list(path, value):
            if not isinstance(v, str) or not _ADDR_RE.match(v):
                raise self.fail(path, f"{v!r} is not a 0x-prefixed 20-byte address")
            out.append(bytes.fromhex(v[2:]))
        return tuple(out)

    def selectors(self, path: tuple[str, ...], value: object) -> tuple[bytes, ...]:
        out = []
        for v in self.str_list(path, value):
            if not isinstance(v, str) or not _SEL_RE.match(v):
                raise self.fail(path, f'{v!r} is not a 4-byte selector such as "0xa9059cbb"')
            out.append(bytes.fromhex(v[2:]))
        return tuple(out)

    def names(self, path: tuple[str, ...], value: object) -> tuple[str, ...]:
        items = self.str_list(path, value)
        for v in items:
            if not isinstance(v, str) or not 0 < len(v) <= 64:
                raise self.fail(path, f"{v!r} is not an approver name")
        return tuple(items)

    def kinds(
        self, path: tuple[str, ...], value: object, known: tuple[str, ...] = KINDS
    ) -> tuple[str, ...]:
        items = self.str_list(path, value)
        for v in items:
            if v not in known:
                raise self.fail(path, f"{v!r} is not one of {', '.join(known)}")
        return tuple(items)

    def unapproved_kinds(self, path: tuple[str, ...], value: object) -> tuple[str, ...]:
        return self.kinds(path, value, UNAPPROVED_KINDS)

    def domains(self, path: tuple[str, ...], value: object) -> tuple[DomainRule, ...]:
        out = []
        for v in self.str_list(path, value):
            if not isinstance(v, dict):
                raise self.fail(path, "each domain is a table { name, chainId, verifyingContract }")
            extra = set(v) - {"name", "chainId", "verifyingContract"}
            if extra:
                raise self.fail(path, f"unknown domain field {sorted(extra)[0]!r}")
            name, chain, contract = v.get("name"), v.get("chainId"), v.get("verifyingContract")
            if name is not None and not isinstance(name, str):
                raise self.fail(path, "a domain name is a string")
            if chain is not None and (isinstance(chain, bool) or not isinstance(chain, int)):
                raise self.fail(path, "a domain chainId is an integer")
            if contract is not None and (
                not isinstance(contract, str) or not _ADDR_RE.match(contract)
            ):
                raise self.fail(path, f"{contract!r} is not a verifyingContract address")
            out.append(DomainRule(name, chain, bytes.fromhex(contract[2:]) if contract else None))
        return tuple(out)

    def tokens(self, path: tuple[str, ...], value: object) -> dict[bytes, TokenRule]:
        if not isinstance(value, dict):
            raise self.fail(path, "must be a table of token address -> limits")
        out: dict[bytes, TokenRule] = {}
        for addr, spec in value.items():
            p = (*path, addr)
            if not _ADDR_RE.match(addr):
                raise self.fail(p, f"{addr!r} is not a token address")
            if not isinstance(spec, dict):
                raise self.fail(p, "must be a table { decimals, max_per_tx, max_24h }")
            extra = set(spec) - {"decimals", "max_per_tx", "max_24h", "approval_above"}
            if extra:
                k = sorted(extra)[0]
                raise self.fail((*p, k), f"unknown key {k!r}")
            decimals = spec.get("decimals", 18)
            if (
                isinstance(decimals, bool)
                or not isinstance(decimals, int)
                or not 0 <= decimals <= 77
            ):
                raise self.fail((*p, "decimals"), "must be an integer from 0 to 77")
            amounts: dict[str, int | None] = {}
            for k in ("max_per_tx", "max_24h", "approval_above"):
                amounts[k] = self.token_amount((*p, k), spec[k], decimals) if k in spec else None
            out[bytes.fromhex(addr[2:])] = TokenRule(decimals=decimals, **amounts)
        return out


_RULES: dict[str, Any] = {
    "chain_ids": _Parser.chain_ids,
    "max_value_per_tx": _Parser.wei,
    "max_value_24h": _Parser.wei,
    "max_fee_per_gas": _Parser.wei,
    "allow_to": _Parser.addresses,
    "deny_to": _Parser.addresses,
    "allow_selectors": _Parser.selectors,
    "allow_domains": _Parser.domains,
    "approval_above": _Parser.wei,
    "approvals_required": _Parser.count,
    "approvers": _Parser.names,
    "approval_for": _Parser.kinds,
    "allow_without_approval": _Parser.unapproved_kinds,
    "tokens": _Parser.tokens,
}


def parse_policy(text: str, source: str = "policy.toml") -> Policy:
    """A :class:`Policy` from TOML text; :class:`PolicyFileError` naming line and key else."""
    import hashlib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        where = f"{source}:{m.group(1)}" if m else source
        raise PolicyFileError(f"{where}: {exc}", field="policy") from None
    p = _Parser(text, source)
    for key in doc:
        if key not in ("default", "keys"):
            raise p.fail((key,), f"unknown table {key!r} (known: default, keys)")
    default = p.scope(doc.get("default", {}), ("default",))
    keys: dict[str, dict[str, Any]] = {}
    accounts: dict[tuple[str, int], dict[str, Any]] = {}
    key_tables = doc.get("keys", {})
    if not isinstance(key_tables, dict):
        raise p.fail(("keys",), "must be a table of [keys.NAME]")
    for name, table in key_tables.items():
        if not isinstance(table, dict):
            raise p.fail(("keys", name), "must be a table")
        body = {k: v for k, v in table.items() if k != "accounts"}
        keys[name] = p.scope(body, ("keys", name))
        acct_tables = table.get("accounts", {})
        if not isinstance(acct_tables, dict):
            raise p.fail(("keys", name, "accounts"), "must be a table of [keys.NAME.accounts.N]")
        for idx, acct in acct_tables.items():
            path = ("keys", name, "accounts", idx)
            if not idx.isdigit() or int(idx) >= 2**31:
                raise p.fail(path, f"{idx!r} is not an account index (0, 1, ...)")
            accounts[(name, int(idx))] = p.scope(acct, path)
    return Policy(
        default, keys, accounts, source=source, sha256=hashlib.sha256(text.encode()).hexdigest()
    )


def load_policy(path: Path) -> Policy:
    """The policy at ``path``; :meth:`Policy.empty` if there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Policy.empty()
    except OSError as exc:
        raise PolicyFileError(f"{path}: cannot read ({exc.strerror})", field="policy") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyFileError(f"{path}: not UTF-8 text", field="policy") from None
    return parse_policy(text, str(path))
