//! Tests of the batcher and the training loop: resume, devices, and parity with Trove. Each file is a module of this one test binary (compiled and linked once).

mod batch;
mod peers;
mod train;
mod trove_parity;
