//! Tests of the readers, sources, samplers and batchers on real and hostile input. Each file is a module of this one test binary (compiled and linked once).

mod bad_input;
mod common;
mod hostile_input;
mod large_files;
mod paper_configs;
mod pseudo_and_batch;
mod qrels_formats;
mod sampling;
mod shared_collections;
mod tabular;
