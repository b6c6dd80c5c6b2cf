//! Generation errors. Request failures name the URL; file errors name the file and line.

/// A failed request or an unusable file.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// Endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// Start of the response body.
        body: String,
        /// `Retry-After` in seconds, when given.
        retry_after: Option<f64>,
    },
    /// No answer: connection refused, DNS, timeout, reset.
    #[error("{url}: {detail}")]
    Transport {
        /// Endpoint.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The answer is not the JSON the chat completions API returns.
    #[error("{url}: malformed response: {detail}")]
    Protocol {
        /// Endpoint.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// A file could not be read or written, or is malformed.
    #[error(transparent)]
    File(#[from] rankwise_files::FileError),
    /// A setting is invalid.
    #[error("setting `{key}`: {detail}")]
    Config {
        /// Setting name.
        key: String,
        /// What is wrong.
        detail: String,
    },
}

impl SynthError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::File(rankwise_files::FileError::io(path, source))
    }

    /// Worth retrying: timeouts and connection errors, 429 and 5xx. Other 4xx are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// Short class name for failure counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Status { status, .. } if *status == 429 => "http_429",
            Self::Status { status, .. } if *status >= 500 => "http_5xx",
            Self::Status { .. } => "http_4xx",
            Self::Transport { .. } => "transport",
            Self::Protocol { .. } => "protocol",
            Self::File(_) => "io",
            Self::Config { .. } => "config",
        }
    }
}
