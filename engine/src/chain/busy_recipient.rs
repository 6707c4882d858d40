//! Paying a busy recipient without making every payment conflict.
//!
//! An exchange's deposit address can receive hundreds of payments in one block. Each one
//! loads the recipient and adds to its balance, so in Block-STM each would read the
//! previous one's write and the block would run one payment at a time. But a plain payment
//! to an account without code does not depend on the recipient at all: no code runs, and
//! no gas or outcome depends on its balance, nonce or existence. So a transaction paying a
//! busy recipient executes against an empty placeholder for it (once it has read that the
//! recipient has no code), its payment is recorded as a balance increment, and the
//! recipient's real entry is rebuilt afterwards from the value the transaction would have
//! read, exactly as revm would have built it (see `credited_account`).

use alloy_primitives::{Address, TxKind};
use revm::{context::TxEnv, primitives::hardfork::SpecId};

/// The busy recipient `tx` pays, if its payment can be an increment: a plain call with
/// value, no EIP-7702 authorizations (they could give the recipient code), not to itself,
/// the beneficiary or a precompile, and under the rules from Spurious Dragon (EIP-161) to
/// Osaka, where a payment's gas never depends on whether the recipient exists.
pub(crate) fn lazy_recipient(
    tx: &TxEnv,
    spec: SpecId,
    beneficiary: Address,
    busy: &[Address],
) -> Option<Address> {
    let TxKind::Call(to) = tx.kind else {
        return None;
    };
    let eligible = !tx.value.is_zero()
        && tx.authorization_list.is_empty()
        && to != tx.caller
        && to != beneficiary
        && !is_reserved(to)
        && spec.is_enabled_in(SpecId::SPURIOUS_DRAGON)
        && !spec.is_enabled_in(SpecId::AMSTERDAM)
        && busy.binary_search(&to).is_ok();
    eligible.then_some(to)
}

/// Precompiles and other low addresses, whose accounts behave specially.
fn is_reserved(address: Address) -> bool {
    address.0[..18].iter().all(|byte| *byte == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;

    fn payment(to: u8) -> TxEnv {
        TxEnv {
            caller: Address::repeat_byte(1),
            kind: TxKind::Call(Address::repeat_byte(to)),
            value: U256::from(5),
            ..Default::default()
        }
    }

    #[test]
    fn only_plain_payments_to_busy_recipients_are_lazy() {
        let busy = [Address::repeat_byte(7)];
        let coinbase = Address::repeat_byte(0xcb);
        let lazy = |tx: &TxEnv, spec| lazy_recipient(tx, spec, coinbase, &busy);
        assert_eq!(
            lazy(&payment(7), SpecId::CANCUN),
            Some(Address::repeat_byte(7))
        );
        assert_eq!(lazy(&payment(8), SpecId::CANCUN), None, "not busy");
        assert_eq!(lazy(&payment(7), SpecId::HOMESTEAD), None, "before EIP-161");
        let free = TxEnv {
            value: U256::ZERO,
            ..payment(7)
        };
        assert_eq!(lazy(&free, SpecId::CANCUN), None, "no value");
        let create = TxEnv {
            kind: TxKind::Create,
            ..payment(7)
        };
        assert_eq!(lazy(&create, SpecId::CANCUN), None);
        let to_self = TxEnv {
            caller: Address::repeat_byte(7),
            ..payment(7)
        };
        assert_eq!(lazy(&to_self, SpecId::CANCUN), None);
        assert_eq!(
            lazy_recipient(&payment(0xcb), SpecId::CANCUN, coinbase, &[coinbase]),
            None,
            "the beneficiary has its own mechanism"
        );
        let precompile = Address::with_last_byte(2);
        let to_precompile = TxEnv {
            kind: TxKind::Call(precompile),
            ..payment(7)
        };
        assert_eq!(
            lazy_recipient(&to_precompile, SpecId::CANCUN, coinbase, &[precompile]),
            None
        );
    }
}
