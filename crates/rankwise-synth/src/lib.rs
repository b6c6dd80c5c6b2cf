//! rankwise-synth (see ARCHITECTURE.md).
