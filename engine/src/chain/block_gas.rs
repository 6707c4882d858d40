//! The block-level gas rule: a transaction may only start if its gas limit fits in what the
//! transactions before it left of the block's gas limit.

use crate::{error::ExecutionError, location::TxIdx};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::{Cfg, Transaction, result::ExecutionResult};

/// Tracks the gas used so far in a block and enforces its limit.
#[derive(Debug, Clone)]
pub(crate) struct BlockGasMeter {
    limit: u64,
    tx_gas_limit_cap: u64,
    enforced: bool,
    used: u64,
}

impl BlockGasMeter {
    pub(crate) fn new(cfg: &CfgEnv, block: &BlockEnv) -> Self {
        Self {
            limit: block.gas_limit,
            tx_gas_limit_cap: cfg.tx_gas_limit_cap(),
            enforced: !cfg.is_block_gas_limit_disabled(),
            used: 0,
        }
    }

    /// A meter for the rest of a block whose earlier transactions used `used`.
    pub(crate) fn resumed(cfg: &CfgEnv, block: &BlockEnv, used: u64) -> Self {
        Self {
            used,
            ..Self::new(cfg, block)
        }
    }

    /// Checks that transaction `index` fits in the gas left, as alloy-evm's executor does.
    pub(crate) fn check<E>(&self, index: TxIdx, tx: &TxEnv) -> Result<(), ExecutionError<E>> {
        let available = self.limit.saturating_sub(self.used);
        if self.enforced && tx.gas_limit().min(self.tx_gas_limit_cap) > available {
            return Err(ExecutionError::BlockGasLimitExceeded {
                index,
                gas_limit: tx.gas_limit(),
                available,
            });
        }
        Ok(())
    }

    /// Adds the gas a transaction used (after refunds, as in its receipt).
    pub(crate) fn record(&mut self, result: &ExecutionResult) {
        self.used += result.tx_gas_used();
    }

    /// Gas used by the block so far.
    pub(crate) const fn used(&self) -> u64 {
        self.used
    }
}
