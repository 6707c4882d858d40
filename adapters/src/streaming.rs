//! The streaming path in parallel: with the block's transactions known in advance, the
//! first `execute_transaction` starts the whole block on the engine's workers, and each
//! call takes its transaction's output as soon as it is final, for the stock executor to
//! commit. Anything unexpected (a transaction that is not the next one of the list, an
//! output taken and not committed, the engine handing over to in-order execution) drops the
//! run; the executor goes on one transaction at a time from the exact state.

use crate::{context::StreamedBlock, snapshot::StateSnapshot};
use parallax_engine::{BlockStream, ExecutionError, ParallelExecutor, Streamed, TxOutput};
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
        transactions: std::sync::Arc<[TxEnv]>,
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
    /// Execute it one at a time.
    Sequential,
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
        let Some(snapshot) = state.and_then(|state| StateSnapshot::of(state, streamed.prestate))
        else {
            return;
        };
        let transactions = streamed.transactions;
        let stream = engine.stream(
            snapshot,
            cfg.clone(),
            block.clone(),
            std::sync::Arc::clone(&transactions),
        );
        *self = Self::Running {
            stream: Box::new(stream),
            transactions,
            uncommitted: false,
        };
    }

    /// The output for `tx`, which the client is about to execute as the next transaction.
    pub(crate) fn next(&mut self, tx: &TxEnv) -> Next<E> {
        let Self::Running {
            stream,
            transactions,
            uncommitted,
        } = self
        else {
            return Next::Sequential;
        };
        let index = stream.streamed();
        if *uncommitted || transactions.get(index) != Some(tx) {
            *self = Self::Off;
            return Next::Sequential;
        }
        match stream.next_output() {
            Streamed::Output(output) => {
                *uncommitted = true;
                Next::Output(output)
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
        if let Self::Running { uncommitted, .. } = self {
            *uncommitted = false;
        }
    }

    /// Whether the block runs on the workers now.
    pub(crate) const fn is_running(&self) -> bool {
        matches!(self, Self::Running { .. })
    }
}
