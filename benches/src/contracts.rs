//! The benchmark contracts (our own Solidity, compiled with solc-js; see `contracts/`) and
//! their storage layout.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use revm::bytecode::Bytecode;
use std::sync::OnceLock;

fn deployed(artifact: &str) -> Bytecode {
    let json: serde_json::Value =
        serde_json::from_str(artifact).expect("compiled artifact is JSON");
    let hex = json["deployedBytecode"]
        .as_str()
        .expect("artifact has deployedBytecode");
    Bytecode::new_raw(hex.parse::<Bytes>().expect("deployedBytecode is hex"))
}

/// Runtime code of the ERC-20 token.
pub fn token_code() -> Bytecode {
    static CODE: OnceLock<Bytecode> = OnceLock::new();
    CODE.get_or_init(|| deployed(include_str!("../contracts/build/Token.json")))
        .clone()
}

/// Runtime code of the constant-product pair.
pub fn pair_code() -> Bytecode {
    static CODE: OnceLock<Bytecode> = OnceLock::new();
    CODE.get_or_init(|| deployed(include_str!("../contracts/build/Pair.json")))
        .clone()
}

fn word(address: Address) -> [u8; 32] {
    B256::left_padding_from(address.as_slice()).0
}

/// The slot of `mapping[key]` for a mapping at `slot`.
fn mapping_slot(key: [u8; 32], slot: U256) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(&key);
    preimage[32..].copy_from_slice(&slot.to_be_bytes::<32>());
    U256::from_be_bytes(keccak256(preimage).0)
}

/// Token slot of `balanceOf[owner]`.
pub fn balance_slot(owner: Address) -> U256 {
    mapping_slot(word(owner), U256::ZERO)
}

/// Token slot of `allowance[owner][spender]`.
pub fn allowance_slot(owner: Address, spender: Address) -> U256 {
    let inner = mapping_slot(word(owner), U256::from(1));
    mapping_slot(word(spender), inner)
}

/// Calldata of `transfer(to, amount)`.
pub fn transfer_call(to: Address, amount: U256) -> Bytes {
    let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
    data.extend_from_slice(&word(to));
    data.extend_from_slice(&amount.to_be_bytes::<32>());
    data.into()
}

/// Calldata of `swap(amount_in, zero_for_one, 0)`.
pub fn swap_call(amount_in: U256, zero_for_one: bool) -> Bytes {
    let mut data = vec![0x43, 0x12, 0xae, 0x31];
    data.extend_from_slice(&amount_in.to_be_bytes::<32>());
    data.extend_from_slice(&U256::from(u8::from(zero_for_one)).to_be_bytes::<32>());
    data.extend_from_slice(&[0u8; 32]);
    data.into()
}

/// Pair slot 2: both reserves packed.
pub fn packed_reserves(reserve0: u128, reserve1: u128) -> U256 {
    U256::from(reserve0) | (U256::from(reserve1) << 112)
}
