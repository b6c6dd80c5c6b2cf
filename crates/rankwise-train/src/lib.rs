//! rankwise-train (see ARCHITECTURE.md).
