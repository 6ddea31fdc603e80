; MiniToken: a minimal ERC-20 subset of our own, for the anvil end-to-end tests.
; Assembled at test time by tests/evm/evmasm.py (opcode listing, one instruction per line).
;
; Storage: balanceOf[a] lives in slot a (the address itself; nothing else is stored).
; Constructor (see evmasm.token_initcode): balanceOf[deployer] = supply, return this runtime.
; Functions: transfer(address,uint256) -> bool   (selector a9059cbb)
;            balanceOf(address) -> uint256       (selector 70a08231)
; transfer reverts on insufficient balance or a malformed address, emits
; Transfer(address indexed from, address indexed to, uint256 value), returns true.

        CALLVALUE               ; non-payable
        PUSH2 @fail
        JUMPI
        PUSH1 0x00
        CALLDATALOAD
        PUSH1 0xe0
        SHR                     ; [sel]
        DUP1
        PUSH4 0xa9059cbb
        EQ
        PUSH2 @transfer
        JUMPI
        DUP1
        PUSH4 0x70a08231
        EQ
        PUSH2 @balanceOf
        JUMPI
fail:
        JUMPDEST
        PUSH1 0x00
        DUP1
        REVERT

balanceOf:
        JUMPDEST
        PUSH1 0x04
        CALLDATALOAD            ; [sel, a]
        SLOAD                   ; [sel, balance]
        PUSH1 0x00
        MSTORE
        PUSH1 0x20
        PUSH1 0x00
        RETURN

transfer:
        JUMPDEST
        PUSH1 0x24
        CALLDATALOAD            ; [sel, amt]
        CALLER
        SLOAD                   ; [sel, amt, balFrom]
        DUP2
        DUP2
        LT                      ; balFrom < amt
        PUSH2 @fail
        JUMPI                   ; [sel, amt, balFrom]
        DUP2
        SWAP1
        SUB                     ; [sel, amt, balFrom - amt]
        CALLER
        SSTORE                  ; [sel, amt]
        PUSH1 0x04
        CALLDATALOAD            ; [sel, amt, to]
        DUP1
        PUSH1 0xa0
        SHR                     ; the upper 96 bits of an address argument must be zero
        PUSH2 @fail
        JUMPI
        DUP1
        SLOAD                   ; [sel, amt, to, balTo]
        DUP3
        ADD                     ; [sel, amt, to, balTo + amt] (cannot overflow: fixed supply)
        DUP2
        SSTORE                  ; [sel, amt, to]
        DUP2
        PUSH1 0x00
        MSTORE                  ; memory[0..32] = amt
        CALLER                  ; [sel, amt, to, from]
        PUSH32 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef
        PUSH1 0x20
        PUSH1 0x00
        LOG3                    ; Transfer(from, to, amt)
        PUSH1 0x01
        PUSH1 0x00
        MSTORE
        PUSH1 0x20
        PUSH1 0x00
        RETURN
