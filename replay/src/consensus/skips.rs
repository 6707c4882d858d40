//! Tests that exercise behaviour revm 43 does not implement. The stock executor fails them
//! the same way, so they test revm, not the parallel engine; they are listed as skipped
//! with the reason, never counted as passed.

/// Constantinople tests whose gas depends on EIP-1283 net SSTORE metering. That fork rule
/// was never live on mainnet (Petersburg removed it at the same block) and revm 43 has no
/// Constantinople spec, so Constantinople tests run under Petersburg rules; these differ.
const EIP1283_TESTS: [&str; 24] = [
    "BLOCKHASH_Bounds_Constantinople",
    "ChainAtoChainB_BlockHash_Constantinople",
    "RPC_API_Test_Constantinople",
    "StrangeContractCreation_Constantinople",
    "blockhashNonConstArg_Constantinople",
    "blockhashTests_Constantinople",
    "callcodeOutput1_Constantinople",
    "callcodeOutput3partial_Constantinople",
    "create2collisionwithSelfdestructSameBlock_Constantinople",
    "extCodeHashOfDeletedAccountDynamic_Constantinople",
    "extCodeHashOfDeletedAccount_Constantinople",
    "multimpleBalanceInstruction_Constantinople",
    "randomStatetest181BC_Constantinople",
    "randomStatetest235BC_Constantinople",
    "randomStatetest262BC_Constantinople",
    "randomStatetest522BC_Constantinople",
    "randomStatetest595BC_Constantinople",
    "randomStatetest606BC_Constantinople",
    "randomStatetest631BC_Constantinople",
    "randomStatetest86BC_Constantinople",
    "refundReset_Constantinople",
    "suicideStorageCheckVCreate2_Constantinople",
    "suicideStorageCheckVCreate_Constantinople",
    "suicideStorageCheck_Constantinople",
];

/// Why the test named `name` on `network` is skipped, if it is.
pub(crate) fn skip_reason(name: &str, network: &str) -> Option<&'static str> {
    if network == "Constantinople" && EIP1283_TESTS.contains(&name) {
        return Some(
            "Constantinople EIP-1283 SSTORE gas metering (never live on mainnet) is not in revm 43, which runs Constantinople as Petersburg",
        );
    }
    if name.contains("system_contract_out_of_gas") {
        return Some(
            "revm 43 completes an EIP-7002/7251 system call that exceeds its 30,000,000 gas by one unit, where the EIPs make the block invalid",
        );
    }
    if name.contains("eip7610_create_collision") && name.contains("non-empty-balance") {
        return Some(
            "EIP-7610 (a creation at an address holding storage fails) is not implemented by revm 43",
        );
    }
    None
}
