//! The fork schedule of a test's `network`: a single fork active from genesis, or a
//! transition to the next fork at a block, a timestamp or a total difficulty.

use super::blockchain_test::{BlobSchedule, FixtureConfig};
use alloy_eips::{eip6110::MAINNET_DEPOSIT_CONTRACT_ADDRESS, eip7840::BlobParams};
use alloy_evm::eth::spec::EthExecutorSpec;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};
use alloy_primitives::{Address, U256};
use std::collections::BTreeMap;

/// Forks in activation order, with the names the test suites use for them. Amsterdam is not
/// on this line: the suites branch it off BPO2 (`BPO2ToAmsterdamAtTime15k`), beside BPO3 and
/// BPO4 (`BPO2ToBPO3AtTime15k`), so a BPO3 chain has no Amsterdam and an Amsterdam chain no
/// BPO3.
const FORKS: [(&str, EthereumHardfork); 20] = [
    ("Frontier", EthereumHardfork::Frontier),
    ("Homestead", EthereumHardfork::Homestead),
    ("EIP150", EthereumHardfork::Tangerine),
    ("EIP158", EthereumHardfork::SpuriousDragon),
    ("Byzantium", EthereumHardfork::Byzantium),
    ("Constantinople", EthereumHardfork::Constantinople),
    ("ConstantinopleFix", EthereumHardfork::Petersburg),
    ("Istanbul", EthereumHardfork::Istanbul),
    ("Berlin", EthereumHardfork::Berlin),
    ("London", EthereumHardfork::London),
    ("ArrowGlacier", EthereumHardfork::ArrowGlacier),
    ("Paris", EthereumHardfork::Paris),
    ("Shanghai", EthereumHardfork::Shanghai),
    ("Cancun", EthereumHardfork::Cancun),
    ("Prague", EthereumHardfork::Prague),
    ("Osaka", EthereumHardfork::Osaka),
    ("BPO1", EthereumHardfork::Bpo1),
    ("BPO2", EthereumHardfork::Bpo2),
    ("BPO3", EthereumHardfork::Bpo3),
    ("BPO4", EthereumHardfork::Bpo4),
];

/// Forks activated by timestamp rather than block number.
const fn by_timestamp(fork: EthereumHardfork) -> bool {
    matches!(
        fork,
        EthereumHardfork::Shanghai
            | EthereumHardfork::Cancun
            | EthereumHardfork::Prague
            | EthereumHardfork::Osaka
            | EthereumHardfork::Bpo1
            | EthereumHardfork::Bpo2
            | EthereumHardfork::Bpo3
            | EthereumHardfork::Bpo4
            | EthereumHardfork::Bpo5
            | EthereumHardfork::Amsterdam
    )
}

/// The fork the suites name Amsterdam, and the fork of [`FORKS`] it follows.
const AMSTERDAM: (&str, EthereumHardfork) = ("Amsterdam", EthereumHardfork::Amsterdam);
const AMSTERDAM_PARENT: &str = "BPO2";

/// The fork named `name` and every fork before it, in activation order.
fn line_to(name: &str) -> Option<Vec<EthereumHardfork>> {
    if name == AMSTERDAM.0 {
        let mut line = line_to(AMSTERDAM_PARENT)?;
        line.push(AMSTERDAM.1);
        return Some(line);
    }
    let index = FORKS.iter().position(|(fork, _)| *fork == name)?;
    Some(FORKS[..=index].iter().map(|(_, fork)| *fork).collect())
}

/// The fork the suites name `name`.
fn fork_named(name: &str) -> Option<EthereumHardfork> {
    FORKS
        .iter()
        .chain([&AMSTERDAM])
        .find(|(fork, _)| *fork == name)
        .map(|(_, fork)| *fork)
}

/// A test chain's rules.
#[derive(Debug, Clone)]
pub(crate) struct TestChainSpec {
    forks: BTreeMap<EthereumHardfork, ForkCondition>,
    blob_schedule: Vec<(EthereumHardfork, BlobParams)>,
    /// Chain id of the test chain.
    pub(crate) chain_id: u64,
}

impl TestChainSpec {
    /// The rules of `network` (e.g. `Cancun`, `ShanghaiToCancunAtTime15k`,
    /// `FrontierToHomesteadAt5`, `ArrowGlacierToParisAtDiffC0000`), or `None` if unknown.
    pub(crate) fn for_network(network: &str, config: Option<&FixtureConfig>) -> Option<Self> {
        let (base, next) = match network.split_once("To") {
            Some((base, rest)) => (base, Some(rest)),
            None => (network, None),
        };
        let base_line = line_to(base)?;
        let mut forks: Vec<(EthereumHardfork, ForkCondition)> = Vec::new();
        for fork in &base_line {
            forks.push((*fork, genesis_condition(*fork)));
        }
        if let Some(rest) = next {
            let (name, at) = rest.split_once("At")?;
            if name == "Dao" {
                // The DAO fork is an irregular state change within Homestead, not a new fork.
                forks.push((
                    EthereumHardfork::Dao,
                    ForkCondition::Block(parse_number(at)?),
                ));
                return Some(Self::build(forks, config));
            }
            let line = line_to(name)?;
            if !line.starts_with(&base_line) {
                return None;
            }
            // Forks between the two named ones (Arrow and Gray Glacier) come with the latter.
            for fork in &line[base_line.len()..] {
                let condition = if let Some(difficulty) = at.strip_prefix("Diff") {
                    let total_difficulty = U256::from_str_radix(difficulty, 16).ok()?;
                    ForkCondition::TTD {
                        activation_block_number: u64::MAX,
                        fork_block: None,
                        total_difficulty,
                    }
                } else if let Some(time) = at.strip_prefix("Time") {
                    ForkCondition::Timestamp(parse_number(time)?)
                } else {
                    ForkCondition::Block(parse_number(at)?)
                };
                forks.push((*fork, condition));
            }
        }
        // Every fork before Paris that the named ones imply (Muir/Gray Glacier, DAO aside).
        if forks.iter().any(|(f, _)| *f == EthereumHardfork::Istanbul) {
            let istanbul = forks
                .iter()
                .find(|(f, _)| *f == EthereumHardfork::Istanbul)
                .map(|(_, c)| *c)?;
            forks.push((EthereumHardfork::MuirGlacier, istanbul));
        }
        if let Some(london) = forks
            .iter()
            .find(|(f, _)| *f == EthereumHardfork::London)
            .map(|(_, c)| *c)
        {
            forks.push((EthereumHardfork::GrayGlacier, london));
        }
        if let Some(arrow) = forks
            .iter()
            .find(|(f, _)| *f == EthereumHardfork::ArrowGlacier)
            .map(|(_, c)| *c)
            && !forks
                .iter()
                .any(|(f, _)| *f == EthereumHardfork::GrayGlacier)
        {
            forks.push((EthereumHardfork::GrayGlacier, arrow));
        }
        Some(Self::build(forks, config))
    }

    fn build(
        forks: Vec<(EthereumHardfork, ForkCondition)>,
        config: Option<&FixtureConfig>,
    ) -> Self {
        let mut blob_schedule = default_blob_schedule();
        if let Some(config) = config {
            for (name, schedule) in &config.blob_schedule {
                if let Some(fork) = fork_named(name) {
                    blob_schedule.retain(|(f, _)| *f != fork);
                    blob_schedule.push((fork, blob_params(fork, schedule)));
                }
            }
        }
        let chain_id = config
            .and_then(|c| c.chainid)
            .map_or(1, |id| id.saturating_to());
        Self {
            forks: forks.into_iter().collect(),
            blob_schedule,
            chain_id,
        }
    }

    /// Sets the block at which a total-difficulty transition happened, once known.
    pub(crate) fn with_paris_at_block(mut self, block: u64) -> Self {
        if let Some(ForkCondition::TTD {
            fork_block,
            total_difficulty,
            ..
        }) = self.forks.get(&EthereumHardfork::Paris).copied()
        {
            let condition = ForkCondition::TTD {
                activation_block_number: block,
                fork_block,
                total_difficulty,
            };
            self.forks.insert(EthereumHardfork::Paris, condition);
        }
        self
    }

    /// Whether the DAO fork's irregular state change happens at block `number`.
    pub(crate) fn dao_fork_at(&self, number: u64) -> bool {
        self.ethereum_fork_activation(EthereumHardfork::Dao)
            .transitions_at_block(number)
    }

    /// The same rules without the DAO fork's state change (applied by the caller instead).
    pub(crate) fn without_dao_fork(mut self) -> Self {
        self.forks.remove(&EthereumHardfork::Dao);
        self
    }

    /// The total difficulty at which Paris activates, for transition tests.
    pub(crate) fn paris_total_difficulty(&self) -> Option<U256> {
        match self.ethereum_fork_activation(EthereumHardfork::Paris) {
            ForkCondition::TTD {
                activation_block_number: u64::MAX,
                total_difficulty,
                ..
            } => Some(total_difficulty),
            _ => None,
        }
    }

    /// The blob parameters in force at `timestamp`, if blobs exist then.
    pub(crate) fn blob_params_at(&self, timestamp: u64) -> Option<BlobParams> {
        self.blob_schedule
            .iter()
            .filter(|(fork, _)| {
                self.ethereum_fork_activation(*fork)
                    .active_at_timestamp(timestamp)
            })
            .max_by_key(|(fork, _)| *fork)
            .map(|(_, params)| *params)
    }
}

fn genesis_condition(fork: EthereumHardfork) -> ForkCondition {
    if fork == EthereumHardfork::Paris {
        ForkCondition::TTD {
            activation_block_number: 0,
            fork_block: Some(0),
            total_difficulty: U256::ZERO,
        }
    } else if by_timestamp(fork) {
        ForkCondition::Timestamp(0)
    } else {
        ForkCondition::Block(0)
    }
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_suffix('k') {
        Some(thousands) => thousands.parse::<u64>().ok().map(|n| n * 1000),
        None => text.parse().ok(),
    }
}

fn default_blob_schedule() -> Vec<(EthereumHardfork, BlobParams)> {
    vec![
        (EthereumHardfork::Cancun, BlobParams::cancun()),
        (EthereumHardfork::Prague, BlobParams::prague()),
        (EthereumHardfork::Osaka, BlobParams::osaka()),
        (EthereumHardfork::Bpo1, BlobParams::bpo1()),
        (EthereumHardfork::Bpo2, BlobParams::bpo2()),
        // Amsterdam keeps BPO2's blob parameters.
        (EthereumHardfork::Amsterdam, BlobParams::bpo2()),
    ]
}

fn blob_params(fork: EthereumHardfork, schedule: &BlobSchedule) -> BlobParams {
    let base = if fork >= EthereumHardfork::Osaka {
        BlobParams::osaka()
    } else if fork >= EthereumHardfork::Prague {
        BlobParams::prague()
    } else {
        BlobParams::cancun()
    };
    BlobParams {
        target_blob_count: schedule.target.saturating_to(),
        max_blob_count: schedule.max.saturating_to(),
        update_fraction: schedule.base_fee_update_fraction.saturating_to(),
        max_blobs_per_tx: if fork >= EthereumHardfork::Osaka {
            base.max_blobs_per_tx
        } else {
            schedule.max.saturating_to()
        },
        ..base
    }
}

impl EthereumHardforks for TestChainSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        self.forks
            .get(&fork)
            .copied()
            .unwrap_or(ForkCondition::Never)
    }
}

impl EthExecutorSpec for TestChainSpec {
    fn deposit_contract_address(&self) -> Option<Address> {
        Some(MAINNET_DEPOSIT_CONTRACT_ADDRESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(network: &str, fork: EthereumHardfork, timestamp: u64) -> bool {
        TestChainSpec::for_network(network, None)
            .expect(network)
            .ethereum_fork_activation(fork)
            .active_at_timestamp(timestamp)
    }

    #[test]
    fn amsterdam_branches_off_bpo2_beside_bpo3() {
        use EthereumHardfork::{Amsterdam, Bpo2, Bpo3};
        assert!(active("Amsterdam", Amsterdam, 0) && active("Amsterdam", Bpo2, 0));
        assert!(!active("Amsterdam", Bpo3, u64::MAX));
        assert!(!active("BPO2ToBPO3AtTime15k", Amsterdam, u64::MAX));
        assert!(active("BPO2ToBPO3AtTime15k", Bpo3, 15_000));
        assert!(!active("BPO2ToAmsterdamAtTime15k", Amsterdam, 14_999));
        assert!(active("BPO2ToAmsterdamAtTime15k", Amsterdam, 15_000));
        assert!(!active("BPO2ToAmsterdamAtTime15k", Bpo3, u64::MAX));
        assert!(TestChainSpec::for_network("BPO3ToAmsterdamAtTime15k", None).is_none());
    }
}
