//! Tests of the encoder against the Hugging Face fixtures, on every backend built. Each file is a module of one test binary (compiled and linked once); `ops.rs`, which runs NdArray in f32 and f64 side by side, is a binary of its own, as Burn NdArray's float type is chosen per device for the process.

mod backends;
mod bad_input;
mod reference;
