//! A blocking client for the OpenAI-compatible chat completions API (vLLM, llama.cpp server,
//! Ollama, OpenAI) with retries (exponential backoff with jitter; `Retry-After` honoured) and a
//! requests-per-minute cap shared by every thread.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::SynthError;

/// Connection and sampling settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientConfig {
    /// Base URL, e.g. `http://127.0.0.1:8012/v1`.
    pub base_url: String,
    /// Model name sent in each request.
    pub model: String,
    /// Environment variable holding the API key (the key itself is never logged or saved).
    pub api_key_env: Option<String>,
    /// Sampling temperature.
    pub temperature: f64,
    /// Nucleus sampling.
    pub top_p: f64,
    /// Completion token limit.
    pub max_tokens: u32,
    /// Per-request timeout in seconds.
    pub timeout_s: f64,
    /// Attempts per request for transient failures (timeouts, connection errors, 429, 5xx).
    pub max_attempts: u32,
    /// First backoff in seconds (doubled each attempt, with ±50 % jitter).
    pub backoff_s: f64,
    /// Requests per minute over all threads (`0`: no cap).
    pub requests_per_minute: u32,
    /// Ask for JSON (`response_format`), with a schema the server may use to constrain output.
    pub json_mode: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8012/v1".into(),
            model: "default".into(),
            api_key_env: None,
            temperature: 0.7,
            top_p: 0.95,
            max_tokens: 1024,
            timeout_s: 120.0,
            max_attempts: 5,
            backoff_s: 1.0,
            requests_per_minute: 0,
            json_mode: true,
        }
    }
}

/// One completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The assistant message.
    pub text: String,
    /// `finish_reason` (`stop`, `length`, ...).
    pub finish_reason: String,
    /// Prompt tokens (0 when the server does not say).
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// HTTP attempts it took.
    pub attempts: u32,
}

/// The client; share it between threads by reference.
pub struct ChatClient {
    config: ClientConfig,
    agent: ureq::Agent,
    api_key: Option<String>,
    next_slot: Mutex<Instant>,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("base_url", &redact_credentials(&self.config.base_url))
            .field("model", &self.config.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// `text` with the credentials of every URL in it (`scheme://user:password@host`) replaced by
/// `***`, so that addresses can be logged and written.
pub fn redact_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                rest = &tail[at..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// JSON schema of the four passages (servers that support schemas use it to constrain output).
pub fn passages_schema() -> Value {
    let s = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {"level_3": s, "level_2": s, "level_1": s, "level_0": s},
        "required": ["level_3", "level_2", "level_1", "level_0"]
    })
}

impl ChatClient {
    /// Builds a client; reads the API key from `api_key_env` if set (an unset variable is an
    /// error naming it).
    pub fn new(config: ClientConfig) -> Result<Self, SynthError> {
        let api_key = match &config.api_key_env {
            Some(var) => Some(std::env::var(var).map_err(|_| SynthError::Config {
                key: "api_key_env".into(),
                detail: format!("environment variable `{var}` is not set"),
            })?),
            None => None,
        };
        if config.timeout_s.is_nan() || config.timeout_s <= 0.0 || config.max_attempts == 0 {
            return Err(SynthError::Config {
                key: "timeout_s / max_attempts".into(),
                detail: "need a positive timeout and at least one attempt".into(),
            });
        }
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs_f64(config.timeout_s))
            .build();
        Ok(Self {
            config,
            agent,
            api_key,
            next_slot: Mutex::new(Instant::now()),
        })
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn url(&self) -> String {
        format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        )
    }

    /// Waits for a slot under the requests-per-minute cap.
    fn throttle(&self) {
        if self.config.requests_per_minute == 0 {
            return;
        }
        let gap = Duration::from_secs_f64(60.0 / self.config.requests_per_minute as f64);
        let wait = {
            let mut next = self.next_slot.lock().expect("rate limiter lock");
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + gap;
            slot - now
        };
        std::thread::sleep(wait);
    }

    fn once(&self, body: &Value) -> Result<Completion, SynthError> {
        self.throttle();
        let full_url = self.url();
        let mut req = self
            .agent
            .post(&full_url)
            .set("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            req = req.set("Authorization", &format!("Bearer {key}"));
        }
        // Errors carry the address without credentials (they are logged and written).
        let url = redact_credentials(&full_url);
        let response = match req.send_json(body) {
            Ok(r) => r,
            Err(ureq::Error::Status(status, r)) => {
                let retry_after = r
                    .header("Retry-After")
                    .and_then(|v| v.trim().parse::<f64>().ok());
                let text = r.into_string().unwrap_or_default();
                return Err(SynthError::Status {
                    url,
                    status,
                    body: text.chars().take(300).collect(),
                    retry_after,
                });
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(SynthError::Transport {
                    url,
                    detail: redact_credentials(&t.to_string()),
                });
            }
        };
        let text = response.into_string().map_err(|e| SynthError::Transport {
            url: url.clone(),
            detail: format!("reading the body: {e}"),
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|e| SynthError::Protocol {
            url: url.clone(),
            detail: format!(
                "not JSON ({e}): {}",
                text.chars().take(200).collect::<String>()
            ),
        })?;
        let choice = &v["choices"][0];
        let content =
            choice["message"]["content"]
                .as_str()
                .ok_or_else(|| SynthError::Protocol {
                    url: url.clone(),
                    detail: "no `choices[0].message.content`".into(),
                })?;
        Ok(Completion {
            text: content.to_string(),
            finish_reason: choice["finish_reason"].as_str().unwrap_or("").to_string(),
            prompt_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0),
            completion_tokens: v["usage"]["completion_tokens"].as_u64().unwrap_or(0),
            attempts: 1,
        })
    }

    /// Sends a prompt (one user message, or the turns of a `### role` template, see
    /// [`crate::prompt::messages`]); retries transient failures with backoff. `seed` is forwarded
    /// to servers that support it.
    pub fn complete(&self, prompt: &str, seed: Option<u64>) -> Result<Completion, SynthError> {
        self.complete_with(prompt, seed, self.config.json_mode)
    }

    /// [`ChatClient::complete`], asking for JSON (`json = true`, when the config allows it)
    /// or plain text.
    pub fn complete_with(
        &self,
        prompt: &str,
        seed: Option<u64>,
        json: bool,
    ) -> Result<Completion, SynthError> {
        let c = &self.config;
        let mut body = json!({
            "model": c.model,
            "messages": crate::prompt::messages(prompt),
            "temperature": c.temperature,
            "top_p": c.top_p,
            "max_tokens": c.max_tokens,
        });
        if json && c.json_mode {
            body["response_format"] = json!({"type": "json_object", "schema": passages_schema()});
        }
        if let Some(s) = seed {
            body["seed"] = json!(s);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(&body) {
                Ok(mut done) => {
                    done.attempts = attempt;
                    return Ok(done);
                }
                Err(e) if e.is_transient() && attempt < c.max_attempts => {
                    let base = c.backoff_s * 2f64.powi(attempt as i32 - 1);
                    let jitter = rand::rng().random_range(0.5..1.5);
                    let wait = match &e {
                        SynthError::Status {
                            retry_after: Some(s),
                            ..
                        } => s.max(base * jitter),
                        _ => base * jitter,
                    };
                    std::thread::sleep(Duration::from_secs_f64(wait.min(300.0)));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_credentials;

    #[test]
    fn credentials_in_urls_are_redacted_and_the_rest_is_kept() {
        assert_eq!(
            redact_credentials("http://user:s3cret@host:8/v1 and https://a@b/c"),
            "http://***@host:8/v1 and https://***@b/c"
        );
        assert_eq!(
            redact_credentials("http://127.0.0.1:8012/v1/x?y=a@b"),
            "http://127.0.0.1:8012/v1/x?y=a@b"
        );
        assert_eq!(redact_credentials("no url"), "no url");
        assert_eq!(
            redact_credentials("\"base_url\": \"http://u:p@h/v1\""),
            "\"base_url\": \"http://***@h/v1\""
        );
    }
}
