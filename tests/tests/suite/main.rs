//! The workspace's tests across crates, as one test binary: the layering of the crates and their
//! files, and training then evaluating as a user's program would.

mod layers;
mod train_then_evaluate;
