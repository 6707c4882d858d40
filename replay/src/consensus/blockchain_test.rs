//! The BlockchainTest fixture format of the Ethereum test suites.

use alloy_eips::eip7928::BlockAccessList;
use alloy_primitives::{Address, B256, Bytes, U256, map::HashMap};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One test: a genesis state, blocks to import, and the expected outcome.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockchainTest {
    /// The fork (or fork transition) the chain runs under.
    pub network: String,
    /// The complete genesis state.
    pub pre: BTreeMap<Address, FixtureAccount>,
    /// The genesis block, RLP-encoded.
    #[serde(rename = "genesisRLP")]
    pub genesis_rlp: Bytes,
    /// Blocks to import, in order.
    pub blocks: Vec<FixtureBlock>,
    /// The hash of the chain head after importing every block.
    pub lastblockhash: B256,
    /// The complete state after the last block.
    #[serde(default)]
    pub post_state: Option<BTreeMap<Address, FixtureAccount>>,
    /// The state root after the last block, when the state is too large to list.
    #[serde(default)]
    pub post_state_hash: Option<B256>,
    /// Chain configuration (execution-spec tests): the blob schedule and chain id.
    #[serde(default)]
    pub config: Option<FixtureConfig>,
}

/// An account in `pre` or `postState`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FixtureAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Nonce.
    pub nonce: U256,
    /// Code.
    pub code: Bytes,
    /// Storage.
    pub storage: BTreeMap<U256, U256>,
}

/// A block to import.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureBlock {
    /// The block, RLP-encoded (possibly malformed on purpose).
    pub rlp: Bytes,
    /// Set when the block must be rejected; names why.
    #[serde(default)]
    pub expect_exception: Option<String>,
    /// The block's EIP-7928 access list (Amsterdam), which travels beside the block.
    #[serde(default)]
    pub block_access_list: Option<BlockAccessList>,
    /// What a block to be rejected decodes to, with the access list it travels with.
    #[serde(default)]
    pub rlp_decoded: Option<DecodedFixtureBlock>,
}

impl FixtureBlock {
    /// The access list delivered with the block, if any.
    pub fn access_list(&self) -> Option<&BlockAccessList> {
        self.block_access_list.as_ref().or_else(|| {
            self.rlp_decoded
                .as_ref()
                .and_then(|decoded| decoded.block_access_list.as_ref())
        })
    }
}

/// The decoded form of a block to be rejected; only its access list is used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodedFixtureBlock {
    /// The access list the block travels with.
    #[serde(default)]
    pub block_access_list: Option<BlockAccessList>,
}

/// Chain configuration of execution-spec tests.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FixtureConfig {
    /// Blob parameters per fork name.
    #[serde(default)]
    pub blob_schedule: HashMap<String, BlobSchedule>,
    /// Chain id.
    #[serde(default)]
    pub chainid: Option<U256>,
}

/// One fork's blob parameters.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobSchedule {
    /// Target blobs per block.
    pub target: U256,
    /// Maximum blobs per block.
    pub max: U256,
    /// Denominator of the blob base fee update.
    pub base_fee_update_fraction: U256,
}

/// A fixture file: tests by name.
pub(crate) type FixtureFile = BTreeMap<String, serde_json::Value>;
