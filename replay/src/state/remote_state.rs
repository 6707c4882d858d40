//! A pre-state fetched from a node's JSON-RPC as execution asks for it: `eth_getProof` at the
//! parent block for every account and slot read, `eth_getCode` for code, and ancestor
//! blocks for BLOCKHASH. Everything fetched is kept, to be recorded.

use super::pre_state_error::PreStateError;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_provider::{DynProvider, Provider};
use alloy_rpc_types_eth::{Block, EIP1186AccountProofResponse};
use revm::{DatabaseRef, bytecode::Bytecode, primitives::KECCAK_EMPTY, state::AccountInfo};
use std::{collections::BTreeMap, future::IntoFuture, sync::Mutex};
use tokio::runtime::Handle;

/// What was fetched while executing a block.
#[derive(Debug, Default)]
pub struct FetchLog {
    /// The first fetch that failed, if any (execution may hide it behind its own error).
    pub first_error: Option<String>,
    /// Proofs at the parent block, one per account, with every slot read.
    pub proofs: BTreeMap<Address, EIP1186AccountProofResponse>,
    /// Code by hash, with the account it was fetched for.
    pub codes: BTreeMap<B256, (Address, Bytes)>,
    /// Ancestor blocks fetched for BLOCKHASH.
    pub ancestors: BTreeMap<u64, Block>,
}

/// State at `block` read through a node.
#[derive(Debug)]
pub struct RemoteState {
    provider: DynProvider,
    runtime: Handle,
    block: u64,
    state_root: B256,
    log: Mutex<FetchLog>,
}

impl RemoteState {
    /// State as of the end of `block`, whose state root is `state_root`, fetched through
    /// `provider` on `runtime`. Every proof is checked against that root as it arrives.
    pub fn new(provider: DynProvider, runtime: Handle, block: u64, state_root: B256) -> Self {
        Self {
            provider,
            runtime,
            block,
            state_root,
            log: Mutex::default(),
        }
    }

    /// The first fetch that failed, if any.
    pub fn first_error(&self) -> Option<String> {
        self.log
            .lock()
            .expect("fetch log poisoned")
            .first_error
            .clone()
    }

    fn failed(&self, error: PreStateError) -> PreStateError {
        self.log
            .lock()
            .expect("fetch log poisoned")
            .first_error
            .get_or_insert_with(|| error.to_string());
        error
    }

    /// Everything fetched so far.
    pub fn take_log(&self) -> FetchLog {
        std::mem::take(&mut *self.log.lock().expect("fetch log poisoned"))
    }

    fn at(&self) -> BlockId {
        BlockId::number(self.block)
    }

    fn proof(
        &self,
        address: Address,
        keys: Vec<B256>,
    ) -> Result<EIP1186AccountProofResponse, PreStateError> {
        let proof = self
            .runtime
            .block_on(
                self.provider
                    .get_proof(address, keys)
                    .block_id(self.at())
                    .into_future(),
            )
            .map_err(|e| {
                PreStateError::Remote(format!(
                    "eth_getProof({address}) at block {}: {e}",
                    self.block
                ))
            })?;
        if proof.address != address {
            return Err(PreStateError::Remote(format!(
                "eth_getProof({address}) answered for {}",
                proof.address
            )));
        }
        crate::trie::proof_verification::verify_proof(self.state_root, &proof).map_err(
            |message| {
                self.failed(PreStateError::Remote(format!(
                    "eth_getProof at block {}: {message}",
                    self.block
                )))
            },
        )?;
        Ok(proof)
    }

    fn account(&self, address: Address) -> Result<EIP1186AccountProofResponse, PreStateError> {
        if let Some(proof) = self
            .log
            .lock()
            .expect("fetch log poisoned")
            .proofs
            .get(&address)
        {
            return Ok(proof.clone());
        }
        let proof = self.proof(address, Vec::new())?;
        if !proof.code_hash.is_zero() && proof.code_hash != KECCAK_EMPTY {
            let code = self
                .runtime
                .block_on(
                    self.provider
                        .get_code_at(address)
                        .block_id(self.at())
                        .into_future(),
                )
                .map_err(|e| {
                    PreStateError::Remote(format!(
                        "eth_getCode({address}) at block {}: {e}",
                        self.block
                    ))
                })?;
            if keccak256(&code) != proof.code_hash {
                return Err(PreStateError::Remote(format!(
                    "eth_getCode({address}) does not hash to its code hash {}",
                    proof.code_hash
                )));
            }
            self.log
                .lock()
                .expect("fetch log poisoned")
                .codes
                .insert(proof.code_hash, (address, code));
        }
        self.log
            .lock()
            .expect("fetch log poisoned")
            .proofs
            .insert(address, proof.clone());
        Ok(proof)
    }
}

impl DatabaseRef for RemoteState {
    type Error = PreStateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        let proof = self.account(address)?;
        let missing = proof.code_hash.is_zero() && proof.storage_hash.is_zero();
        Ok((!missing).then(|| AccountInfo {
            balance: proof.balance,
            nonce: proof.nonce,
            code_hash: proof.code_hash,
            code: None,
            ..Default::default()
        }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK_EMPTY {
            return Ok(Bytecode::default());
        }
        let log = self.log.lock().expect("fetch log poisoned");
        let (_, code) = log
            .codes
            .get(&code_hash)
            .ok_or(PreStateError::MissingCode(code_hash))?;
        Ok(Bytecode::new_raw(code.clone()))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let key = B256::from(index);
        self.account(address)?;
        if let Some(slot) = self.log.lock().expect("fetch log poisoned").proofs[&address]
            .storage_proof
            .iter()
            .find(|slot| slot.key.as_b256() == key)
        {
            return Ok(slot.value);
        }
        let proof = self.proof(address, vec![key])?;
        let slot = proof
            .storage_proof
            .into_iter()
            .find(|slot| slot.key.as_b256() == key)
            .ok_or_else(|| {
                PreStateError::Remote(format!(
                    "eth_getProof({address}, {key}) has no proof for the slot"
                ))
            })?;
        let value = slot.value;
        self.log
            .lock()
            .expect("fetch log poisoned")
            .proofs
            .get_mut(&address)
            .expect("fetched above")
            .storage_proof
            .push(slot);
        Ok(value)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        if let Some(block) = self
            .log
            .lock()
            .expect("fetch log poisoned")
            .ancestors
            .get(&number)
        {
            return Ok(block.header.hash);
        }
        let block = self
            .runtime
            .block_on(
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Number(number))
                    .into_future(),
            )
            .map_err(|e| PreStateError::Remote(format!("eth_getBlockByNumber({number}): {e}")))?
            .ok_or_else(|| {
                PreStateError::Remote(format!("the node does not have block {number}"))
            })?;
        let hash = block.header.hash;
        self.log
            .lock()
            .expect("fetch log poisoned")
            .ancestors
            .insert(number, block);
        Ok(hash)
    }
}
