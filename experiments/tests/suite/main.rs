//! The experiment commands end to end, as a user runs them. Each file is a module of this one test binary (compiled and linked once).

mod common;
mod evaluate_cli;
mod experiments_cli;
mod generate_llm;
mod hostile_cli;
mod nodes;
