//! Tests of the readers, sources and samplers on real and hostile input. Each file is a module of this one test binary (compiled and linked once).

mod bad_input;
mod common;
mod hostile_input;
mod paper_configs;
mod pseudo_labels;
mod sampling;
mod shared_collections;
mod tabular;
