//! The streaming path in parallel: with the block's transactions known in advance, the
//! first `execute_transaction` starts the whole block on the engine's workers, and each
//! call takes its transaction's output as soon as it is final, for the stock executor to
//! commit. Anything unexpected (a transaction that is not the next one of the list, an
//! output taken and not committed, the engine handing over to in-order execution) drops the
//! run; the executor goes on one transaction at a time from the exact state.

use crate::{context::StreamedBlock, snapshot::StateSnapshot};
use parallax_engine::{
    BlockStream, ExecutionError, ExecutionPolicy, ParallelExecutor, Streamed, TxFailure, TxOutput,
};
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    database::State,
    database_interface::DBErrorMarker,
};

/// Where the streaming path stands for the current block.
pub(crate) enum Streaming<'a, E: DBErrorMarker> {
    /// One transaction at a time: no list was given, or the run was dropped.
    Off,
    /// The list is known and the run starts at the first transaction.
    Ready(StreamedBlock<E>),
    /// The block runs on the workers.
    Running {
        /// Boxed: the stream's bookkeeping is large beside the other states.
        stream: Box<BlockStream<'a, StateSnapshot<E>>>,
        /// What the client ran itself while the block was being planned, to check against
        /// the list once it is converted.
        ran_here: Vec<TxEnv>,
        /// Transactions the client has committed.
        position: usize,
        /// Whether the client's thread runs transactions itself while the block is being
        /// planned (under the default policy; a forced parallel path takes every result
        /// from the run).
        meanwhile: bool,
        /// An output was handed out and not yet committed.
        uncommitted: bool,
    },
}

/// What to do with the next transaction.
pub(crate) enum Next<E> {
    /// Its final output, from the parallel run.
    Output(TxOutput),
    /// The block fails here, as it does sequentially.
    Failed(ExecutionError<E>),
    /// Execute it one at a time: the run is gone.
    Sequential,
    /// Execute it here while the block is being planned; the run goes on.
    HereMeanwhile,
}

impl<'a, E: DBErrorMarker + Send + Sync + 'static> Streaming<'a, E> {
    pub(crate) fn new(streamed: Option<StreamedBlock<E>>) -> Self {
        streamed.map_or(Self::Off, Self::Ready)
    }

    /// Starts the run if the list is known and it has not started, reading `state` as it is
    /// now (after the pre-execution changes).
    pub(crate) fn start<D>(
        &mut self,
        engine: &'a ParallelExecutor,
        state: Option<&State<D>>,
        cfg: &CfgEnv,
        block: &BlockEnv,
    ) {
        if !matches!(self, Self::Ready(_)) {
            return;
        }
        let Self::Ready(streamed) = std::mem::replace(self, Self::Off) else {
            unreachable!("checked above")
        };
        // A block the policy runs sequentially by its size alone runs on the stock path
        // from the start, without copying the state or converting the transactions. Gas
        // limits not added up yet count as unknown (the planning job looks at them).
        let gas = streamed.total_gas_limit.unwrap_or(u64::MAX);
        if engine.sequential_by_size(streamed.len(), gas).is_some() {
            return;
        }
        let Some(snapshot) = state.and_then(|state| StateSnapshot::of(state, streamed.prestate))
        else {
            return;
        };
        let stream = engine.stream(snapshot, cfg.clone(), block.clone(), streamed.transactions);
        *self = Self::Running {
            stream: Box::new(stream),
            ran_here: Vec::new(),
            position: 0,
            meanwhile: engine.policy() == ExecutionPolicy::Auto,
            uncommitted: false,
        };
    }

    /// The output for `tx`, which the client is about to execute as the next transaction.
    pub(crate) fn next(&mut self, tx: &TxEnv) -> Next<E> {
        let Self::Running {
            stream,
            ran_here,
            position,
            meanwhile,
            uncommitted,
        } = self
        else {
            return Next::Sequential;
        };
        if *uncommitted {
            *self = Self::Off;
            return Next::Sequential;
        }
        // While the block is being planned (about a millisecond for a gigagas block), the
        // client's thread runs the transactions itself, so the first receipt does not wait
        // for the plan; the workers then catch up from the first transaction, and the
        // outputs of those run here are dropped.
        if *meanwhile && stream.is_planning() {
            ran_here.push(tx.clone());
            *uncommitted = true;
            return Next::HereMeanwhile;
        }
        stream.wait_until_planned();
        let Some(list) = stream.transactions() else {
            *self = Self::Off;
            return Next::Sequential;
        };
        let ran_as_listed = list.get(..ran_here.len()) == Some(&ran_here[..]);
        if !ran_as_listed || list.get(*position) != Some(tx) {
            *self = Self::Off;
            return Next::Sequential;
        }
        ran_here.clear();
        while stream.streamed() < *position {
            if !matches!(stream.next_output(), Streamed::Output(_)) {
                *self = Self::Off;
                return Next::Sequential;
            }
        }
        match stream.next_output() {
            Streamed::Output(output) => {
                *uncommitted = true;
                Next::Output(output)
            }
            // A database error came from the workers' handle on the pre-state: the stock
            // executor, on the client's own, says what this transaction gives.
            Streamed::Failed(error) if is_database_error(&error) => {
                *self = Self::Off;
                Next::Sequential
            }
            Streamed::Failed(error) => {
                *self = Self::Off;
                Next::Failed(error)
            }
            Streamed::InOrderFrom(_) | Streamed::End => {
                *self = Self::Off;
                Next::Sequential
            }
        }
    }

    /// The client committed the output it was handed.
    pub(crate) fn committed(&mut self) {
        if let Self::Running {
            position,
            uncommitted,
            ..
        } = self
        {
            *position += 1;
            *uncommitted = false;
        }
    }

    /// Drops the run: the client may change the state or the environment in ways the run
    /// does not see.
    pub(crate) fn stop(&mut self) {
        *self = Self::Off;
    }

    /// Whether the block runs on the workers now.
    pub(crate) const fn is_running(&self) -> bool {
        matches!(self, Self::Running { .. })
    }
}

fn is_database_error<E>(error: &ExecutionError<E>) -> bool {
    matches!(
        error,
        ExecutionError::Database { .. }
            | ExecutionError::Transaction {
                failure: TxFailure::Database(_),
                ..
            }
    )
}
