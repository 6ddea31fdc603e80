"""Keygen's proofs about c_key (cb-mpc ``paillier_gen_interactive_t``): the safe-prime Pedersen
group, the equality and range proofs and PDL, each accepting an honest prover and rejecting the
cheat it exists for."""

from __future__ import annotations

import os
import secrets
import threading

import gmpy2
import pytest
from gmpy2 import mpz

from mpcwallet.engine.portable import curve, modexp, zk_pdl, zk_pedersen
from mpcwallet.engine.portable import safe_prime_pedersen as ped
from mpcwallet.engine.portable.paillier import PaillierPrivate, PaillierPublic, random_unit
from mpcwallet.engine.portable.params import RANGE_BOUND, STAT, Q
from mpcwallet.engine.portable.transcript import Session, Transcript
from mpcwallet.errors import InvalidProof


@pytest.fixture(scope="module")
def key() -> PaillierPrivate:
    return PaillierPrivate.generate()


def _transcript() -> Transcript:
    return Session(os.urandom(32), ("client", "cosigner")).transcript("test")


def test_group_is_cb_mpc_safe_prime_with_h_in_the_subgroup() -> None:
    # cb-mpc zk_pedersen.cpp PED_P_BIN: first and last bytes, and the safe-prime structure
    assert ped.P.bit_length() == 2048
    assert ped.P >> 2040 == 0xD8 and ped.P & 0xFF == 0x3F
    assert ped.P == 2 * ped.P_TAG + 1
    assert gmpy2.is_prime(ped.P, 50) and gmpy2.is_prime(ped.P_TAG, 50)
    assert ped.SQRT_H not in (0, 1, ped.P - 1) and ped.H != 1
    for x in (ped.G, ped.H):
        assert ped.in_subgroup(int(x))
    assert not ped.in_subgroup(int(ped.P - 1))  # order 2
    assert not ped.in_subgroup(0) and not ped.in_subgroup(int(ped.P))
    e = secrets.randbelow(int(ped.P_TAG))
    assert ped.H_TABLE.pow(e) == modexp.pub_powmod(ped.H, e, ped.P)


def _range(x: int, e: int | None = None) -> tuple[int, list[int], int, zk_pedersen.RangeResponse]:
    rho = secrets.randbelow(int(ped.P_TAG))
    com = zk_pedersen.commit_value(x, rho)
    prover = zk_pedersen.RangeProver()
    e = secrets.randbits(STAT) if e is None else e
    return com, prover.c_tilde, e, prover.respond(x, rho, e)


def test_range_proof_accepts_a_share_and_rejects_a_large_value() -> None:
    zk_pedersen.range_verify(*_range(secrets.randbelow(Q)))
    # x ≡ a share mod q but beyond q·2^STAT: every challenge bit 1 puts a response out of range
    big = secrets.randbelow(Q) + RANGE_BOUND
    with pytest.raises(InvalidProof, match="out of range"):
        zk_pedersen.range_verify(*_range(big, e=secrets.randbits(STAT) | 1))


def test_range_proof_rejects_tampering() -> None:
    com, c_tilde, e, resp = _range(secrets.randbelow(Q))
    f = list(resp.f)
    f[5] = (f[5] + 1) % int(ped.P_TAG)
    with pytest.raises(InvalidProof, match="Pedersen equation"):
        zk_pedersen.range_verify(com, c_tilde, e, zk_pedersen.RangeResponse(resp.d, f))
    with pytest.raises(InvalidProof, match="Pedersen group"):
        zk_pedersen.range_verify(int(ped.P - 1), c_tilde, e, resp)


def _equal(
    key: PaillierPrivate, plain: int, committed: int
) -> tuple[int, int, zk_pedersen.EqualFirst, int, zk_pedersen.EqualResponse]:
    r = random_unit(key.n)
    c = int(key.encrypt_fast(plain, r))
    rho = secrets.randbelow(int(ped.P_TAG))
    com = zk_pedersen.commit_value(committed, rho)
    prover = zk_pedersen.EqualProver(key)
    e = secrets.randbits(zk_pedersen.EQ_CHALLENGE_BITS)
    return c, com, prover.first, e, prover.respond(plain, r, rho, e)


def test_equality_proof_accepts_equal_values_and_rejects_different_ones(
    key: PaillierPrivate,
) -> None:
    pub = PaillierPublic(int(key.n))
    x = secrets.randbelow(Q)
    zk_pedersen.equal_verify(pub, *_equal(key, x, x))
    with pytest.raises(InvalidProof, match="Pedersen equation"):
        zk_pedersen.equal_verify(pub, *_equal(key, x, x + 1))
    _, com, first, e, resp = _equal(key, x, x)
    other = int(key.encrypt_fast(x + 1, random_unit(key.n)))
    with pytest.raises(InvalidProof, match="Paillier equation"):
        zk_pedersen.equal_verify(pub, other, com, first, e, resp)


def test_pdl_accepts_the_discrete_log_and_rejects_another_point(key: PaillierPrivate) -> None:
    t = _transcript()
    x1 = curve.random_scalar()
    r = random_unit(key.n)
    c_key = int(key.encrypt_fast(x1, r))
    Q1 = curve.mul_g(x1)
    pub = PaillierPublic(int(key.n))
    proof = zk_pdl.prove(t, key, c_key, Q1, x1, r)
    zk_pdl.verify(t, pub, c_key, Q1, proof)
    with pytest.raises(InvalidProof, match="curve equation"):
        zk_pdl.verify(t, pub, c_key, curve.mul_g(x1 + 1), proof)
    bad = zk_pdl.PDLProof(proof.c_r, proof.R, proof.z, int(proof.r_z * 2 % key.n))
    with pytest.raises(InvalidProof, match="Paillier equation"):
        zk_pdl.verify(t, pub, c_key, Q1, bad)


def test_parallel_keeps_order_raises_and_uses_worker_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names: set[str] = set()

    def f(i: int) -> int:
        names.add(threading.current_thread().name)
        if i == 7:
            raise ValueError("seven")
        return i * i

    assert modexp.parallel(f, [(i,) for i in range(7)]) == [i * i for i in range(7)]
    with pytest.raises(ValueError, match="seven"):
        modexp.parallel(f, [(i,) for i in range(9)])
    if modexp.workers() > 1:
        assert any(n.startswith("mpc-modexp") for n in names)
        # a call from inside a worker runs inline instead of waiting on its own pool
        nested = modexp.parallel(lambda: modexp.parallel(f, [(1,), (2,)]), [(), ()])
        assert nested == [[1, 4], [1, 4]]
    monkeypatch.setenv("MPC_ENGINE_THREADS", "1")
    names.clear()
    assert modexp.parallel(f, [(2,), (3,)]) == [4, 9]
    assert names == {threading.current_thread().name}
    assert modexp.parallel(modexp.pub_powmod, [(mpz(3), 5, 7)]) == [5]
