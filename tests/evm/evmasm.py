"""A tiny two-pass EVM assembler for our test token (test tooling, not wallet code).

Syntax: one instruction per line; ``;`` starts a comment; ``name:`` defines a label (emit a
JUMPDEST after it yourself); ``PUSHn 0x..`` pushes a literal; ``PUSH2 @name`` pushes a label.
"""

from __future__ import annotations

from pathlib import Path

OPCODES = {
    "STOP": 0x00, "ADD": 0x01, "SUB": 0x03, "LT": 0x10, "GT": 0x11, "EQ": 0x14,
    "ISZERO": 0x15, "AND": 0x16, "SHR": 0x1C, "CALLER": 0x33, "CALLVALUE": 0x34,
    "CALLDATALOAD": 0x35, "CODECOPY": 0x39, "MSTORE": 0x52, "SLOAD": 0x54, "SSTORE": 0x55,
    "JUMP": 0x56, "JUMPI": 0x57, "JUMPDEST": 0x5B, "DUP1": 0x80, "DUP2": 0x81, "DUP3": 0x82,
    "SWAP1": 0x90, "LOG3": 0xA3, "RETURN": 0xF3, "REVERT": 0xFD,
    "KECCAK256": 0x20, "ADDRESS": 0x30, "CALLDATACOPY": 0x37, "CHAINID": 0x46, "POP": 0x50,
    "MLOAD": 0x51, "GAS": 0x5A, "STATICCALL": 0xFA,
}  # fmt: skip

TOKEN_ASM = Path(__file__).with_name("token.asm")
PERMIT_ASM = Path(__file__).with_name("permit_check.asm")


def assemble(source: str) -> bytes:
    lines = []
    for raw in source.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line:
            lines.append(line)
    labels: dict[str, int] = {}
    pc = 0
    for line in lines:  # pass 1: label addresses
        if line.endswith(":"):
            labels[line[:-1]] = pc
            continue
        op, *arg = line.split()
        pc += 1 + (int(op[4:]) if op.startswith("PUSH") else 0)
    code = bytearray()
    for line in lines:  # pass 2: bytes
        if line.endswith(":"):
            continue
        op, *arg = line.split()
        if op.startswith("PUSH"):
            n = int(op[4:])
            value = labels[arg[0][1:]] if arg[0].startswith("@") else int(arg[0], 16)
            code.append(0x5F + n)
            code += value.to_bytes(n, "big")
        else:
            if arg:
                raise ValueError(f"{op} takes no argument")
            code.append(OPCODES[op])
    return bytes(code)


def token_runtime() -> bytes:
    return assemble(TOKEN_ASM.read_text())


def token_initcode(supply: int) -> bytes:
    """Constructor: balanceOf[CALLER] = supply; return the runtime code that follows."""
    runtime = token_runtime()
    ctor_len = 33 + 1 + 1 + 3 + 1 + 3 + 2 + 1 + 2 + 1
    ctor = assemble(
        f"""
        PUSH32 0x{supply:064x}
        CALLER
        SSTORE
        PUSH2 0x{len(runtime):04x}
        DUP1
        PUSH2 0x{ctor_len:04x}
        PUSH1 0x00
        CODECOPY
        PUSH1 0x00
        RETURN
        """
    )
    assert len(ctor) == ctor_len
    return ctor + runtime


def initcode(runtime: bytes) -> bytes:
    """Constructor that returns ``runtime`` (no storage)."""
    ctor_len = 3 + 1 + 3 + 2 + 1 + 2 + 1
    ctor = assemble(
        f"""
        PUSH2 0x{len(runtime):04x}
        DUP1
        PUSH2 0x{ctor_len:04x}
        PUSH1 0x00
        CODECOPY
        PUSH1 0x00
        RETURN
        """
    )
    assert len(ctor) == ctor_len
    return ctor + runtime


def permit_check_initcode(name: str, version: str) -> bytes:
    """The EIP-2612 signature check of a token called ``name``, version ``version``.

    Calldata: owner, spender, value, nonce, deadline, v, r, s (32-byte words, no selector).
    The contract computes the EIP-712 digest on chain, as an EIP-2612 ``permit`` does: the
    domain separator from its own chainid() and address(), the Permit struct hash, then
    keccak256(0x1901 || domainSeparator || structHash), and returns 1 if ecrecover gives the
    owner; otherwise it reverts. Type hashes are keccak256 of the EIP's type strings.
    """
    from eth_hash.auto import keccak

    consts = {
        "DOMAIN_TYPEHASH": keccak(
            b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
        ),
        "PERMIT_TYPEHASH": keccak(
            b"Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
        ),
        "NAME_HASH": keccak(name.encode()),
        "VERSION_HASH": keccak(version.encode()),
    }
    source = PERMIT_ASM.read_text()
    for key, value in consts.items():
        source = source.replace(key, "0x" + value.hex())
    return initcode(assemble(source))
