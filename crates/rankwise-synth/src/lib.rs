//! Synthetic multi-level training data: for each query an LLM writes four passages with
//! graduated relevance (3 fully answers, 2 partially, 1 related topic, 0 unrelated).
//!
//! * [`client`]: OpenAI-compatible chat completions client with retries and rate limits.
//! * [`prompt`]: template and seeded per-query attributes (length, style, reading level, hard).
//! * [`parse`]: tolerant extraction and validation of the four passages.
//! * [`output`]: the resumable, append-only output folder (BEIR layout + logs).
//! * [`generate`]: the run.

pub mod client;
pub mod error;
pub mod generate;
pub mod output;
pub mod parse;
pub mod prompt;

pub use client::{ChatClient, ClientConfig, Completion, redact_credentials};
pub use error::SynthError;
pub use generate::{GenerateConfig, Summary, generate, generate_until};
pub use output::{OutputStore, Recovery};
pub use parse::{Rejection, parse_passage, parse_passages};
pub use prompt::{Attributes, Message, PromptConfig, Prompter, messages};
