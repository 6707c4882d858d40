//! The mainnet EVM that every path of the engine executes transactions with.

use revm::{
    Context, Database, MainBuilder, MainContext,
    context::{BlockEnv, CfgEnv, Journal, TxEnv},
    handler::MainnetEvm,
};

/// revm's mainnet context over `DB`.
pub(crate) type MainnetContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, ()>;

/// revm's mainnet EVM over `DB`.
pub(crate) type MainnetEvmOn<DB> = MainnetEvm<MainnetContext<DB>>;

/// A mainnet EVM over `db` for the block described by `cfg` and `block`.
pub(crate) fn mainnet_evm<DB: Database>(
    db: DB,
    cfg: &CfgEnv,
    block: &BlockEnv,
) -> MainnetEvmOn<DB> {
    Context::mainnet()
        .with_db(db)
        .with_block(block.clone())
        .with_cfg(cfg.clone())
        .build_mainnet()
}

/// Builds the global state revm otherwise builds on first use: the precompile tables of
/// every fork and the KZG trusted setup behind the point-evaluation precompile (several
/// seconds of field arithmetic). Call it before timing anything, so that the first block
/// that needs KZG does not pay for it on one side of a comparison only.
pub fn warm_up() {
    use revm::precompile::{PrecompileSpecId, Precompiles, kzg_point_evaluation};
    for spec in [
        PrecompileSpecId::HOMESTEAD,
        PrecompileSpecId::BYZANTIUM,
        PrecompileSpecId::ISTANBUL,
        PrecompileSpecId::BERLIN,
        PrecompileSpecId::CANCUN,
        PrecompileSpecId::PRAGUE,
        PrecompileSpecId::OSAKA,
    ] {
        std::hint::black_box(Precompiles::new(spec));
    }
    // An invalid proof: verifying it still loads the trusted setup.
    std::hint::black_box(kzg_point_evaluation::verify_kzg_proof(
        &[0; 48], &[0; 32], &[0; 32], &[0; 48],
    ));
}
