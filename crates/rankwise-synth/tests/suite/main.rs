//! Tests of the generation client: parsing and faults. Each file is a module of this one test binary (compiled and linked once).

mod fault_injection;
mod parsing;
