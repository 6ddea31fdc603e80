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
}  # fmt: skip

TOKEN_ASM = Path(__file__).with_name("token.asm")


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
