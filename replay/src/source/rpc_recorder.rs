//! Replaying blocks straight from a node: fetch what a block needs over JSON-RPC, in the
//! same form as a recorded `eth_getProof` file, so it can be checked, and recorded.

use super::{
    proof_recording::{Query, RecordedRpc, from_recording},
    rpc_block::block_from_rpc,
};
use crate::{
    execution::Executors,
    recorded_block::{ReplayBlock, SourceKind, UnusableBlock},
    state::{pre_state::PreState, remote_state::RemoteState},
};
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::Block;
use std::{future::IntoFuture, path::Path, sync::Arc};
use tokio::runtime::Runtime;

/// A connection to a node.
pub struct RpcSource {
    runtime: Runtime,
    provider: DynProvider,
    url: String,
}

impl std::fmt::Debug for RpcSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcSource")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RpcSource {
    /// Connects to the node at `url` (http or https) and checks it serves Ethereum mainnet.
    pub fn connect(url: &str) -> Result<Self, String> {
        let parsed = url
            .parse()
            .map_err(|e| format!("{url} is not a valid URL: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let provider = ProviderBuilder::new().connect_http(parsed).erased();
        let chain = runtime
            .block_on(provider.get_chain_id().into_future())
            .map_err(|e| format!("{url}: eth_chainId failed: {e}"))?;
        if chain != 1 {
            return Err(format!(
                "{url} serves chain {chain}; only Ethereum mainnet (1) is supported"
            ));
        }
        Ok(Self {
            runtime,
            provider,
            url: url.to_owned(),
        })
    }

    fn block(&self, number: u64) -> Result<Block, UnusableBlock> {
        let unusable = |reason: String| UnusableBlock {
            block: number,
            reason,
        };
        self.runtime
            .block_on(
                self.provider
                    .get_block_by_number(BlockNumberOrTag::Number(number))
                    .full()
                    .into_future(),
            )
            .map_err(|e| unusable(format!("eth_getBlockByNumber({number}) failed: {e}")))?
            .ok_or_else(|| unusable(format!("the node does not have block {number}")))
    }

    /// Fetches everything block `number` needs: the block and its parent, proofs at the
    /// parent for every account and slot its execution reads (found by executing it once
    /// sequentially over the node), the same proofs after the block, code, ommers and the
    /// ancestors BLOCKHASH reads.
    pub fn record(&self, number: u64, executors: &Executors) -> Result<RecordedRpc, UnusableBlock> {
        let unusable = |reason: String| UnusableBlock {
            block: number,
            reason,
        };
        let parent_number = number
            .checked_sub(1)
            .ok_or_else(|| unusable("the genesis block has no parent".into()))?;
        let block = self.block(number)?;
        let parent = self.block(parent_number)?;
        let mut uncles = Vec::new();
        for index in 0..block.uncles.len() as u64 {
            let uncle = self
                .runtime
                .block_on(self.provider.get_uncle(BlockId::number(number), index))
                .map_err(|e| {
                    unusable(format!(
                        "eth_getUncleByBlockNumberAndIndex({number}, {index}) failed: {e}"
                    ))
                })?
                .ok_or_else(|| {
                    unusable(format!(
                        "the node does not have ommer {index} of block {number}"
                    ))
                })?;
            uncles.push(uncle);
        }

        let origin = format!("{} block {number}", self.url);
        let parsed = block_from_rpc(block.clone(), Path::new(&origin))
            .map_err(|e| unusable(e.to_string()))?;
        let remote = RemoteState::new(
            self.provider.clone(),
            self.runtime.handle().clone(),
            parent_number,
            parent.header.state_root,
        );
        let discovery = ReplayBlock {
            origin: origin.into(),
            source: SourceKind::Proofs,
            header: parsed.header,
            hash: parsed.hash,
            transactions: parsed.transactions,
            ommers: uncles
                .iter()
                .map(|uncle| uncle.header.inner.clone())
                .collect(),
            ommers_known: true,
            withdrawals: parsed.withdrawals,
            pre_state: Arc::new(PreState::Remote(remote)),
            recorded_post_state: Vec::new(),
        };
        let executed = executors.sequential(&discovery);
        let PreState::Remote(remote) = &*discovery.pre_state else {
            unreachable!("built above")
        };
        if let Some(bad_answer) = remote.first_error() {
            return Err(unusable(bad_answer));
        }
        executed
            .map_err(|e| unusable(format!("executing the block over {} failed: {e}", self.url)))?;
        let log = remote.take_log();

        let mut recording = RecordedRpc::default();
        recording
            .full_blocks
            .push((query(parent_number, None, None), parent));
        recording
            .full_blocks
            .push((query(number, None, None), block));
        for (ancestor, fetched) in log.ancestors {
            if ancestor < parent_number {
                recording
                    .full_blocks
                    .push((query(ancestor, None, None), fetched));
            }
        }
        for uncle in uncles {
            recording
                .uncle_blocks
                .push((query(number, None, None), uncle));
        }
        for (address, pre) in log.proofs {
            let keys: Vec<_> = pre
                .storage_proof
                .iter()
                .map(|slot| slot.key.as_b256())
                .collect();
            let indices = Some(keys.iter().map(|key| (*key).into()).collect());
            let post = self
                .runtime
                .block_on(
                    self.provider
                        .get_proof(address, keys)
                        .block_id(BlockId::number(number))
                        .into_future(),
                )
                .map_err(|e| {
                    unusable(format!(
                        "eth_getProof({address}) at block {number} failed: {e}"
                    ))
                })?;
            recording
                .proofs
                .push((query(parent_number, Some(address), indices.clone()), pre));
            recording
                .proofs
                .push((query(number, Some(address), indices), post));
        }
        for (_, (address, code)) in log.codes {
            recording
                .code
                .push((query(parent_number, Some(address), None), code));
        }
        Ok(recording)
    }

    /// Fetches block `number` and turns it into a replayable block.
    pub fn fetch(
        &self,
        number: u64,
        executors: &Executors,
    ) -> Result<(RecordedRpc, ReplayBlock), UnusableBlock> {
        let recording = self.record(number, executors)?;
        let origin = format!("{} block {number}", self.url);
        let block =
            from_recording(recording.clone(), Path::new(&origin)).map_err(|e| UnusableBlock {
                block: number,
                reason: e.to_string(),
            })?;
        Ok((recording, block))
    }
}

fn query(
    block_no: u64,
    address: Option<alloy_primitives::Address>,
    indices: Option<Vec<alloy_primitives::U256>>,
) -> Query {
    Query {
        block_no,
        address,
        indices,
    }
}

/// Writes a recording where `parallax replay PATH` reads it back: `<dir>/1-<N>.json.gz`.
pub fn write_recording(
    dir: &Path,
    number: u64,
    recording: &RecordedRpc,
) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("1-{number}.json.gz"));
    let file = std::fs::File::create(&path)?;
    let mut encoder = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(file),
        flate2::Compression::default(),
    );
    serde_json::to_writer(&mut encoder, recording)?;
    encoder.finish()?;
    Ok(path)
}
