"""Side-channel rules of the portable engine, checked on its source (ast) and on its helpers.

Rules (docs/engines.md, "Engines and protocols"):

* Modular exponentiation and inversion happen only in ``modexp.py``. Everywhere else a raw
  ``gmpy2.powmod``/``powmod_sec``/``invert``, a builtin ``pow`` or a ``**`` with a non-literal
  exponent fails this test.
* A call that exponentiates with a PUBLIC exponent (``pub_powmod``, ``PaillierPublic.mul_scalar``,
  the fixed-base tables' ``.pow`` and the verifier ``_ped_public``) or inverts in variable time
  (``invert_var_time``) is allowed only at the call sites listed below, each with why its exponent
  is public. A helper handed to ``modexp.parallel`` by name counts as a call site. Anything
  else must use ``sec_powmod`` / ``mul_secret`` / ``sec_inverse_mod_prime`` (GMP's
  ``mpz_powm_sec``).
* Secret byte strings (commitments, key fingerprints) are compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import ast
import secrets
from collections import Counter
from pathlib import Path

import gmpy2
import pytest
from gmpy2 import mpz

from mpcwallet.engine.portable import modexp, pedersen_params
from mpcwallet.engine.portable.paillier import PaillierPrivate, PaillierPublic

ENGINE_DIR = Path(modexp.__file__).parent

# (file, enclosing function) -> number of calls, for each public-exponent / variable-time helper.
PUBLIC_EXPONENT_SITES: dict[str, dict[tuple[str, str], int]] = {
    "pub_powmod": {
        # r^N mod N^2: exponent N and modulus N^2 are public
        ("paillier.py", "PaillierPublic.encrypt"): 1,
        # the public-scalar wrapper itself (its call sites are listed under mul_scalar)
        ("paillier.py", "PaillierPublic.mul_scalar"): 1,
        # rc^N, r_enc^N mod N^2 ahead of time: exponent N public (P1 can recover rc and r_enc)
        ("presign.py", "P2Presign.__init__"): 2,
        # sigma^N mod N: the verifier's check of the N-th roots (handed to parallel)
        ("zk.py", "valid_paillier_verify"): 1,
        # x^p' mod p: the subgroup check of public commitments
        ("safe_prime_pedersen.py", "in_subgroup"): 1,
        # Com^e mod p: public commitment, public challenge
        ("zk_pedersen.py", "equal_verify"): 1,
        # (c~^2·Com^bit)^w: public values, the verifier's own batching weights w
        ("zk_pedersen.py", "range_verify"): 1,
        # rc^e mod N: e is the proof's public challenge (rc is P2's randomness, known to P1)
        ("zk_sign.py", "prove"): 1,
        # W^e mod N~: public commitment, public challenge
        ("zk_sign.py", "_commitment_sides"): 1,
    },
    "mul_scalar": {
        # c_key' ^ r: r = x(R) is public
        ("signing.py", "SignP2.on_msg3"): 1,
        ("zk_sign.py", "prove"): 1,
        # verifier: c^e (e public), and c_key'^r, (c_key'^r)^w'' (r and the response w'' public)
        ("zk_sign.py", "verify"): 1,
        ("zk_sign.py", "_key_term"): 2,
        # c^(e_i): the public 13-bit challenge chunks
        ("zk_pedersen.py", "equal_verify"): 1,
        # c_key^e: the public PDL challenge
        ("zk_pdl.py", "verify"): 1,
    },
    "FixedBase.pow": {
        # g^w''·h^r'' (zk_sign) and g^d·h^nu, g^D·h^F (keygen): public responses, verifier only
        ("zk_sign.py", "_ped_public"): 2,
        ("zk_pedersen.py", "equal_verify"): 2,
        ("zk_pedersen.py", "range_verify"): 2,
    },
    "_ped_public": {
        # g^w''·h^r'': the proof's public responses (verifier only)
        ("zk_sign.py", "_commitment_sides"): 1,
    },
    "invert_var_time": {
        # N^-1 mod p-1, q-1: once per key, by the prover of the valid-Paillier proof
        ("paillier.py", "PaillierPrivate.nth_root"): 2,
    },
}

RAW_GMPY2 = {"powmod", "powmod_sec", "powmod_base_list", "powmod_exp_list", "invert"}


def _sources() -> list[Path]:
    files = sorted(ENGINE_DIR.glob("*.py"))
    assert len(files) > 10, files
    return files


class _Walker(ast.NodeVisitor):
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.scope: list[str] = []
        self.calls: Counter[tuple[str, str, str]] = Counter()
        self.raw: list[str] = []

    def _func(self) -> str:
        return ".".join(self.scope) or "<module>"

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "gmpy2":
            for alias in node.names:
                if alias.name in RAW_GMPY2:
                    self.raw.append(f"from gmpy2 import {alias.name} (line {node.lineno})")
        self.generic_visit(node)

    def _count(self, helper: str) -> None:
        self.calls[(helper, self.filename, self._func())] += 1

    def visit_Name(self, node: ast.Name) -> None:
        # a call, or the helper handed on by name (to parallel): both are call sites
        if node.id in PUBLIC_EXPONENT_SITES:
            self._count(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id == "gmpy2":
            if node.attr in RAW_GMPY2:
                self.raw.append(f"gmpy2.{node.attr} in {self._func()} (line {node.lineno})")
        if node.attr in PUBLIC_EXPONENT_SITES:
            self._count(node.attr)
        elif node.attr == "pow":
            self._count("FixedBase.pow")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Pow) and not isinstance(node.right, ast.Constant):
            self.raw.append(f"** with a computed exponent in {self._func()} (line {node.lineno})")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        if name == "pow" and isinstance(f, ast.Name):
            self.raw.append(f"builtin pow in {self._func()} (line {node.lineno})")
        self.generic_visit(node)


def _walk_engine() -> tuple[Counter[tuple[str, str, str]], list[str]]:
    calls: Counter[tuple[str, str, str]] = Counter()
    raw: list[str] = []
    for path in _sources():
        walker = _Walker(path.name)
        walker.visit(ast.parse(path.read_text(), filename=str(path)))
        calls.update(walker.calls)
        if path.name != "modexp.py":
            raw.extend(f"{path.name}: {item}" for item in walker.raw)
    return calls, raw


def test_no_raw_exponentiation_or_inversion_outside_modexp() -> None:
    _, raw = _walk_engine()
    assert raw == [], "use modexp.sec_powmod / pub_powmod / sec_inverse_mod_prime:\n" + "\n".join(
        raw
    )


def test_public_exponent_calls_only_at_listed_sites() -> None:
    calls, _ = _walk_engine()
    found: dict[str, dict[tuple[str, str], int]] = {}
    for (helper, filename, func), n in calls.items():
        if filename == "modexp.py":
            continue  # the helpers' own definitions and FixedBase's fallback
        found.setdefault(helper, {})[(filename, func)] = n
    for helper, expected in PUBLIC_EXPONENT_SITES.items():
        assert found.get(helper, {}) == expected, (
            f"{helper} call sites changed: a new call must have a public exponent and be listed "
            f"here with the reason; found {found.get(helper)}"
        )


def test_the_walker_catches_what_it_must() -> None:
    """The rule bites: each forbidden form in a snippet is reported."""
    snippet = (
        "import gmpy2\nfrom gmpy2 import powmod\n"
        "def f(k, n):\n"
        "    a = gmpy2.powmod(2, k, n)\n    b = pow(k, -1, n)\n    c = 3 ** k\n"
        "    d = gmpy2.invert(k, n)\n    return pub_powmod(a, k, n)\n"
        "def g(xs, n):\n    return parallel(pub_powmod, xs), TABLE.pow(n)\n"
    )
    w = _Walker("x.py")
    w.visit(ast.parse(snippet))
    assert len(w.raw) == 5, w.raw
    assert w.calls == Counter(
        {
            ("pub_powmod", "x.py", "f"): 1,
            ("pub_powmod", "x.py", "g"): 1,
            ("FixedBase.pow", "x.py", "g"): 1,
        }
    )


def test_sec_powmod_is_gmp_powm_sec_and_refuses_even_moduli() -> None:
    tree = ast.parse(Path(modexp.__file__).read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "sec_powmod")
    attrs = {n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute)}
    assert "powmod_sec" in attrs and "powmod" not in attrs
    m = mpz(2**127 - 1)
    for _ in range(20):
        b, e = mpz(secrets.randbits(200)), mpz(secrets.randbits(130))
        assert modexp.sec_powmod(b, e, m) == gmpy2.powmod(b, e, m)
    assert modexp.sec_powmod(5, 0, m) == 1
    with pytest.raises(ValueError, match="odd"):
        modexp.sec_powmod(3, 5, 1 << 64)
    with pytest.raises(ValueError, match="non-negative"):
        modexp.sec_powmod(3, -1, m)
    q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    k = secrets.randbelow(q - 1) + 1
    assert modexp.sec_inverse_mod_prime(k, q) * k % q == 1


def test_fixed_base_matches_powmod() -> None:
    n, g = mpz(pedersen_params.N), mpz(pedersen_params.G)
    fb = modexp.FixedBase(g, n, 300)
    for e in [0, 1, 31, 32, (1 << 300) - 1, *(secrets.randbits(300) for _ in range(10))]:
        assert fb.pow(e) == gmpy2.powmod(g, e, n), e
    e = 1 << 301  # beyond the table: falls back to powmod
    assert fb.pow(e) == gmpy2.powmod(g, e, n)


def test_paillier_crt_paths_equal_the_textbook_ones() -> None:
    """encrypt_fast (CRT + lift from Z*_p), decrypt (CRT, h_p = (-q)^-1) and nth_root agree with
    the public formulas."""
    key = PaillierPrivate.generate()
    pub = PaillierPublic(int(key.n))
    for _ in range(5):
        m, r = secrets.randbelow(int(key.n)), mpz(secrets.randbelow(int(key.n) - 2) + 2)
        c = key.encrypt_fast(m, r)
        assert c == pub.encrypt(m, r)
        assert key.decrypt(c) == m
        y = secrets.randbelow(int(key.n))
        assert gmpy2.powmod(key.nth_root(y), key.n, key.n) == y
    c = pub.encrypt(7, mpz(3))
    e = secrets.randbits(450)
    assert key.mul_secret(c, e) == key.mul_scalar(c, e) == pub.mul_scalar(c, e)
    assert pub.mul_secret(c, e) == pub.mul_scalar(c, e)
    assert key.decrypt(pub.mul_scalar(c, 5)) == 35


def test_secret_byte_comparisons_use_compare_digest() -> None:
    """Commitment openings and key fingerprints are compared in constant time."""
    wanted = {("transcript.py", "check_opening"), ("signing.py", "_check_fingerprint")}
    found = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and (path.name, node.name) in wanted:
                attrs = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                assert "compare_digest" in attrs, (path.name, node.name)
                cmps = [n for n in ast.walk(node) if isinstance(n, ast.Compare)]
                assert cmps == [], (path.name, node.name)
                found.add((path.name, node.name))
    assert found == wanted
