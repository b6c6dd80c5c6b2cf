//! rankwise-eval (see ARCHITECTURE.md).
