//! Timing and memory measurements, and what the machine is, so that every reported ratio
//! says where it was taken.

use std::time::{Duration, Instant};

/// The median of `samples` (which it sorts).
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Wall time of one call (its output is dropped outside the timed span).
pub fn time<O>(run: &mut impl FnMut() -> O) -> Duration {
    let start = Instant::now();
    let output = run();
    let elapsed = start.elapsed();
    drop(output);
    elapsed
}

/// The machine measurements are taken on.
#[derive(Clone, Debug)]
pub struct Machine {
    /// CPUs available to this process.
    pub cpus: usize,
    /// CPU model, from /proc/cpuinfo.
    pub cpu_model: String,
}

impl Machine {
    /// Describes this machine.
    pub fn this() -> Self {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
        }
    }
}

/// `bytes` as whole mebibytes, for reports.
pub fn mebibytes(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The most resident memory this process has used so far, in bytes (Linux only).
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs `run` and returns its output with the peak resident memory of the process during
/// the call, in bytes: the kernel's high-water mark is reset first (Linux only; `None`
/// elsewhere or when the reset is refused).
pub fn peak_memory_during<O>(run: impl FnOnce() -> O) -> (O, Option<u64>) {
    // Writing 5 to clear_refs resets VmHWM to the current resident size.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let output = run();
    (output, peak_memory().filter(|_| reset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(median(&mut [ms(4), ms(1), ms(3), ms(2)]), ms(3));
    }

    #[test]
    fn peak_memory_during_a_call_sees_its_allocation() {
        let (len, peak) = peak_memory_during(|| {
            let buffer = vec![1u8; 64 << 20];
            std::hint::black_box(&buffer).len()
        });
        assert_eq!(len, 64 << 20);
        if cfg!(target_os = "linux") {
            assert!(peak.is_some_and(|bytes| bytes >= 64 << 20), "{peak:?}");
        }
    }

    #[test]
    fn this_machine_is_described() {
        let machine = Machine::this();
        assert!(machine.cpus >= 1);
        assert!(!machine.cpu_model.is_empty());
        if cfg!(target_os = "linux") {
            assert!(peak_memory().is_some_and(|bytes| bytes > 0));
        }
    }
}
