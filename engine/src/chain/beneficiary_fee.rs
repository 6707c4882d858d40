//! Paying the block's beneficiary (coinbase) without making every transaction conflict.
//!
//! revm credits the fee to the beneficiary at the end of every transaction, which reads and
//! writes its balance and would serialize the whole block. When a transaction has not
//! otherwise loaded the beneficiary, [`DeferredRewardHandler`] skips that credit and the
//! multi-version memory records the fee on the side instead; the output later gets the exact
//! account revm would have produced (see [`credited_account`](super::credited_account)). A transaction that really reads the
//! beneficiary (as sender, recipient, `BALANCE`, ...) has loaded it, gets the real credit,
//! and sees the exact balance through the fees of all earlier transactions.

use super::evm::MainnetEvmOn;
use alloy_primitives::U256;
use revm::{
    Database,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::{
        Cfg, Transaction,
        result::{EVMError, HaltReason},
    },
    handler::{FrameResult, Handler, post_execution},
    interpreter::Gas,
    primitives::hardfork::SpecId,
};
use std::marker::PhantomData;

/// A database that can hold the fee a transaction owes the beneficiary but did not credit.
pub(crate) trait DefersBeneficiaryFee {
    /// Records that the current transaction owes `fee` to the beneficiary.
    fn defer_beneficiary_fee(&mut self, fee: U256);
}

/// revm's mainnet handler, except that it defers the beneficiary's fee when it can.
pub(crate) struct DeferredRewardHandler<DB>(PhantomData<DB>);

impl<DB> Default for DeferredRewardHandler<DB> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<DB: Database + DefersBeneficiaryFee> Handler for DeferredRewardHandler<DB> {
    type Evm = MainnetEvmOn<DB>;
    type Error = EVMError<DB::Error>;
    type HaltReason = HaltReason;

    fn reward_beneficiary(
        &self,
        evm: &mut Self::Evm,
        exec_result: &mut FrameResult,
    ) -> Result<(), Self::Error> {
        let ctx = &mut evm.ctx;
        let beneficiary = ctx.block.beneficiary;
        if !ctx.journaled_state.state.contains_key(&beneficiary) {
            let fee = beneficiary_fee(&ctx.cfg, &ctx.block, &ctx.tx, exec_result.gas());
            // A zero fee still touches the account, which can create or delete it under
            // EIP-161: leave that case to revm itself.
            if !fee.is_zero() {
                ctx.journaled_state.database.defer_beneficiary_fee(fee);
                return Ok(());
            }
        }
        post_execution::reward_beneficiary(ctx, exec_result.gas()).map_err(From::from)
    }
}

/// The fee revm's `reward_beneficiary` credits for a transaction that used `gas`.
fn beneficiary_fee(cfg: &CfgEnv, block: &BlockEnv, tx: &TxEnv, gas: &Gas) -> U256 {
    if cfg.is_fee_charge_disabled() {
        return U256::ZERO;
    }
    let basefee = u128::from(block.basefee);
    let effective_gas_price = tx.effective_gas_price(basefee);
    let price = if cfg.spec.is_enabled_in(SpecId::LONDON) {
        effective_gas_price.saturating_sub(basefee)
    } else {
        effective_gas_price
    };
    let used = gas.used().saturating_sub(gas.reservoir());
    U256::from(price.wrapping_mul(u128::from(used)))
}
