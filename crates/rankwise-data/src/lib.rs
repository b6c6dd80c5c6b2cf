//! rankwise-data (see ARCHITECTURE.md).
