//! Workloads for benchmarking Parallax against sequential revm, and the measurements the
//! `parallax bench` and `parallax explain` commands report.

pub mod contracts;
pub mod drive;
pub mod measure;
pub mod plot;
pub mod report;
pub mod suite;
pub mod workload;

pub use drive::{Drive, DriveBench, DriveReport, DriveTiming, Side, measure_drives};
pub use measure::{Machine, peak_memory, peak_memory_during};
pub use suite::{BlockBench, IdealSplit, Sides, WorkloadReport, policy_name, run_workloads};
pub use workload::{RESOURCE_WORKLOADS, SyntheticBlock, WORKLOADS, WorkloadDb, build};
