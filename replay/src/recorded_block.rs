//! A recorded block ready to replay: its header, transactions with senders, and pre-state;
//! and the error for a block whose recorded data cannot be replayed.

use crate::{state::pre_state::PreState, trie::post_state_root::RecordedAccount};
use alloy_consensus::{Header, TxEnvelope, transaction::Recovered};
use alloy_eips::{eip4895::Withdrawals, eip7840::BlobParams};
use alloy_evm::{EvmEnv, FromRecoveredTx, eth::spec::EthSpec};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::B256;
use revm::{context::TxEnv, primitives::hardfork::SpecId};
use std::{path::PathBuf, sync::Arc};

/// Which kind of recorded data a block came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A pre-state dump: receipts can be checked, the state root cannot.
    Prestate,
    /// `eth_getProof` answers before and after the block.
    Proofs,
    /// An execution witness of trie nodes and codes.
    Witness,
}

impl SourceKind {
    /// The name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Prestate => "prestate",
            Self::Proofs => "proofs",
            Self::Witness => "witness",
        }
    }
}

/// A block with everything needed to execute it.
#[derive(Debug, Clone)]
pub struct ReplayBlock {
    /// Where it was read from.
    pub origin: PathBuf,
    /// The kind of data.
    pub source: SourceKind,
    /// The block header, exactly as recorded (its hash is checked on load).
    pub header: Header,
    /// The header's hash.
    pub hash: B256,
    /// Transactions with their senders.
    pub transactions: Vec<Recovered<TxEnvelope>>,
    /// Ommer headers (for pre-Merge rewards), when recorded.
    pub ommers: Vec<Header>,
    /// Whether `ommers` holds the full ommer headers (dumps record only their hashes).
    pub ommers_known: bool,
    /// Withdrawals (Shanghai on).
    pub withdrawals: Option<Withdrawals>,
    /// The state before the block.
    pub pre_state: Arc<PreState>,
    /// Accounts as the recording says they are after the block (proofs and witnesses), to
    /// name the first difference when the state root does not match.
    pub recorded_post_state: Vec<RecordedAccount>,
}

impl ReplayBlock {
    /// The block number.
    pub const fn number(&self) -> u64 {
        self.header.number
    }

    /// The EVM configuration and block environment of this block on mainnet.
    pub fn evm_env(&self) -> EvmEnv {
        let spec = EthSpec::mainnet();
        EvmEnv::for_eth_block(
            &self.header,
            &spec,
            1,
            blob_params(&spec, self.header.timestamp),
        )
    }

    /// The fork the block executes under.
    pub fn spec(&self) -> SpecId {
        *self.evm_env().spec_id()
    }

    /// revm transaction environments, in block order.
    pub fn tx_envs(&self) -> Vec<TxEnv> {
        self.transactions
            .iter()
            .map(|tx| TxEnv::from_recovered_tx(tx.inner(), tx.signer()))
            .collect()
    }
}

/// The recorded data cannot be replayed (exit status 2).
#[derive(Debug, Clone, thiserror::Error)]
#[error("block {block}: unusable input: {reason}")]
pub struct UnusableBlock {
    /// Block number.
    pub block: u64,
    /// What is missing or inconsistent.
    pub reason: String,
}

/// The blob parameters active on mainnet at `timestamp`.
fn blob_params(spec: &EthSpec, timestamp: u64) -> Option<BlobParams> {
    if spec.is_osaka_active_at_timestamp(timestamp) {
        Some(BlobParams::osaka())
    } else if spec.is_prague_active_at_timestamp(timestamp) {
        Some(BlobParams::prague())
    } else if spec.is_cancun_active_at_timestamp(timestamp) {
        Some(BlobParams::cancun())
    } else {
        None
    }
}
