//! A hint to the CPU to start loading memory that is about to be read.

/// Starts loading the cache line of `value` while other work goes on: a lookup in a table
/// far larger than the cache otherwise waits for each line in turn. Elsewhere than on x86-64
/// it does nothing.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and changes nothing observable,
    // and the pointer comes from a live reference anyway.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast());
    }
}
