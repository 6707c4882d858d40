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
