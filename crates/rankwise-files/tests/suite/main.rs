//! Tests of the readers on large and oddly formatted files. Each file is a module of this one test
//! binary. (The readers are also driven end to end, with hostile input, by `rankwise-data`'s
//! tests.)

mod large_files;
mod qrels_formats;
