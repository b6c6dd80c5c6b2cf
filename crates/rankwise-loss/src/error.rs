//! Errors raised by the losses on bad input.

/// Bad input to a loss: a wrong shape, a non-finite value or an invalid setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LossError {
    /// The scores and labels shapes are inconsistent.
    #[error("{loss}: shape mismatch: {detail}")]
    Shape {
        /// Which loss.
        loss: &'static str,
        /// What is wrong, with the shapes seen.
        detail: String,
    },
    /// An input holds NaN or ±inf.
    #[error("{loss}: `{input}` holds a non-finite value at row {row}, column {col}")]
    NonFinite {
        /// Which loss.
        loss: &'static str,
        /// Which input (`scores` or `labels`).
        input: &'static str,
        /// Row of the first bad value.
        row: usize,
        /// Column of the first bad value.
        col: usize,
    },
    /// A configuration value is out of range.
    #[error("{loss}: invalid setting `{field}`: {detail}")]
    Config {
        /// Which loss.
        loss: &'static str,
        /// The offending field.
        field: &'static str,
        /// Allowed values.
        detail: String,
    },
}
