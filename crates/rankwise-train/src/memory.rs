//! The allocator for training on the CPU.
//!
//! Burn's CPU backend allocates a new buffer for the output of every tensor operation, and at
//! MiniLM's training shape many are large (an attention map of 80 sequences × 12 heads ×
//! 256 × 256 is 252 MB). glibc's `malloc` serves anything above its mmap threshold (at most
//! 32 MiB) with a fresh `mmap` and unmaps it on free, so every such operation page-faults its
//! output in and the kernel zeroes it page by page: about half of a training step. Its
//! `mallopt` cannot keep more than 2 GiB of freed memory, which a step exceeds.
//!
//! Binaries that train declare [`TrainingAllocator`] (mimalloc) as their global allocator and
//! call [`keep_freed_memory`] first thing: freed memory then stays in the process and the next
//! step reuses it. The resident size stays at its peak (about what one step needs anyway).
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: rankwise_train::memory::TrainingAllocator = rankwise_train::memory::TrainingAllocator;
//! ```

/// mimalloc, the global allocator for training binaries.
pub use mimalloc::MiMalloc as TrainingAllocator;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (stable position in v2 and v3;
/// libmimalloc-sys has no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to return freed memory to the OS (purge delay −1). No effect when
/// another global allocator is in use. Returns the purge delay now in force.
pub fn keep_freed_memory() -> i64 {
    // SAFETY: setting and reading an option of the linked mimalloc; any option value is valid.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_is_the_purge_delay_and_takes_the_value() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // mimalloc v3's default purge delay is 1000 ms (its options table): the index names
            // that option.
            // SAFETY: reading an option.
            let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
            assert_eq!(default, 1000);
        }
        assert_eq!(keep_freed_memory(), -1);
    }
}
