//! The block-level gas rule: a transaction may only start if its gas limit fits in what the
//! transactions before it left of the block's gas limit. From Amsterdam (EIP-8037) a block
//! has two gas dimensions, regular and state gas, each with the whole gas limit as its budget,
//! counted without refunds (EIP-7778); the block's gas used is the larger of the two.

use crate::{error::ExecutionError, location::TxIdx};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::{Cfg, Transaction, result::ExecutionResult};

/// Tracks the gas used so far in a block and enforces its limit, as alloy-evm's executor
/// does.
#[derive(Debug, Clone)]
pub(crate) struct BlockGasMeter {
    limit: u64,
    tx_gas_limit_cap: u64,
    enforced: bool,
    two_dimensional: bool,
    /// Gas after refunds, as in the receipts: the block's gas before Amsterdam.
    used: u64,
    /// Amsterdam's regular gas dimension.
    regular: u64,
    /// Amsterdam's state gas dimension.
    state: u64,
}

impl BlockGasMeter {
    pub(crate) fn new(cfg: &CfgEnv, block: &BlockEnv) -> Self {
        Self {
            limit: block.gas_limit,
            tx_gas_limit_cap: cfg.tx_gas_limit_cap(),
            enforced: !cfg.is_block_gas_limit_disabled(),
            two_dimensional: cfg.enable_amsterdam_eip8037,
            used: 0,
            regular: 0,
            state: 0,
        }
    }

    /// Checks that transaction `index` fits in the gas left.
    pub(crate) fn check<E>(&self, index: TxIdx, tx: &TxEnv) -> Result<(), ExecutionError<E>> {
        if !self.enforced {
            return Ok(());
        }
        let used = if self.two_dimensional {
            self.regular
        } else {
            self.used
        };
        let available = self.limit.saturating_sub(used);
        let exceeded = |available| ExecutionError::BlockGasLimitExceeded {
            index,
            gas_limit: tx.gas_limit(),
            available,
        };
        if tx.gas_limit().min(self.tx_gas_limit_cap) > available {
            return Err(exceeded(available));
        }
        // State gas comes from a reservoir above the transaction gas cap, so the whole gas
        // limit counts against the state dimension.
        let state_available = self.limit.saturating_sub(self.state);
        if self.two_dimensional && tx.gas_limit() > state_available {
            return Err(exceeded(state_available));
        }
        Ok(())
    }

    /// Adds the gas a transaction used.
    pub(crate) fn record(&mut self, result: &ExecutionResult) {
        let gas = result.gas();
        self.used += gas.tx_gas_used();
        self.regular += gas.block_regular_gas_used();
        self.state += gas.block_state_gas_used();
    }

    /// Gas used by the block so far.
    pub(crate) fn used(&self) -> u64 {
        if self.two_dimensional {
            self.regular.max(self.state)
        } else {
            self.used
        }
    }
}
