//! Run-time CPU feature checks for the host paths compiled twice (portable and AVX2+FMA).

/// True when the CPU has AVX2 and FMA (the features of the second build).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}
