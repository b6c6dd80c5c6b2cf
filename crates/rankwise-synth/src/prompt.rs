//! Prompts: a template with `{query}`, `{length}`, `{style}`, `{reading_level}` and
//! `{hard_instruction}`, and per-query attributes drawn from configurable lists with a seeded
//! generator (the same seed gives the same draws for the same query index).

use std::path::PathBuf;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::SynthError;

/// The built-in template.
pub const DEFAULT_TEMPLATE: &str = include_str!("../prompts/sycl_default.txt");

/// The built-in one-level templates for small models (levels 3, 2, 1, 0): one request per
/// level as a short chat (a system instruction, worked examples as earlier turns, then the
/// query), the passage asked for as plain text. Level 0 is written about an everyday topic
/// (`{topic}`) and never sees the query.
pub const LEVEL_TEMPLATES: [&str; 4] = [
    include_str!("../prompts/per_level_3.txt"),
    include_str!("../prompts/per_level_2.txt"),
    include_str!("../prompts/per_level_1.txt"),
    include_str!("../prompts/per_level_0.txt"),
];

/// The built-in everyday topics of level-0 passages (one per line).
pub const TOPICS: &str = include_str!("../prompts/topics.txt");

/// A chat message of a rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A rendered prompt as chat messages: a template made of `### system`, `### user` and
/// `### assistant` blocks becomes those turns (worked examples as earlier turns); any other
/// text is one user message.
pub fn messages(prompt: &str) -> Vec<Message> {
    let text = prompt.trim();
    if !text.starts_with("### ") {
        return vec![Message {
            role: "user".into(),
            content: prompt.to_string(),
        }];
    }
    text.split("### ")
        .skip(1)
        .map(|block| {
            let (role, content) = block.split_once('\n').unwrap_or((block, ""));
            Message {
                role: role.trim().to_string(),
                content: content.trim().to_string(),
            }
        })
        .collect()
}

/// Prompt settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptConfig {
    /// Template file (`None`: the built-in one).
    pub template: Option<PathBuf>,
    /// Ask for one level per request (plain text) instead of the four in one JSON reply:
    /// small models follow one instruction at a time far better.
    pub per_level: bool,
    /// Folder with `per_level_3.txt` … `per_level_0.txt` (`None`: the built-in ones).
    pub level_templates: Option<PathBuf>,
    /// Passage lengths in words to draw from.
    pub lengths: Vec<u32>,
    /// Writing styles / registers.
    pub styles: Vec<String>,
    /// Reading levels.
    pub reading_levels: Vec<String>,
    /// Everyday topics for level-0 passages in per-level mode (`{topic}`; default: the
    /// built-in list).
    pub topics: Vec<String>,
    /// Fraction of queries whose lower levels are asked to stay topically close (hard).
    pub hard_fraction: f64,
    /// The extra instruction for those queries.
    pub hard_instruction: String,
    /// Seed of the attribute draws.
    pub seed: u64,
}

impl Default for PromptConfig {
    fn default() -> Self {
        Self {
            template: None,
            per_level: false,
            level_templates: None,
            topics: TOPICS
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            lengths: vec![40, 60, 80, 100],
            styles: [
                "an encyclopedia entry",
                "a forum answer",
                "a news report",
                "technical documentation",
            ]
            .map(String::from)
            .to_vec(),
            reading_levels: ["general", "college", "expert"].map(String::from).to_vec(),
            hard_fraction: 0.5,
            hard_instruction:
                "Make level_2, level_1 and level_0 use the same vocabulary and topic \
                               words as the query, so that only a careful reader can tell them \
                               apart from level_3."
                    .into(),
            seed: 0,
        }
    }
}

/// Attributes drawn for one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attributes {
    /// Target words per passage.
    pub length: u32,
    /// Style.
    pub style: String,
    /// Reading level.
    pub reading_level: String,
    /// Hard lower levels asked for.
    pub hard: bool,
    /// Everyday topic of the level-0 passage (per-level mode).
    #[serde(default)]
    pub topic: String,
}

/// A loaded template with its settings.
#[derive(Debug, Clone)]
pub struct Prompter {
    config: PromptConfig,
    template: String,
    /// Templates of levels 3, 2, 1, 0 (per-level mode).
    levels: Option<[String; 4]>,
}

impl Prompter {
    /// Loads the template and checks the lists and placeholders.
    pub fn new(config: PromptConfig) -> Result<Self, SynthError> {
        let template = match &config.template {
            Some(p) => std::fs::read_to_string(p).map_err(|e| SynthError::io(p, e))?,
            None => DEFAULT_TEMPLATE.to_string(),
        };
        if !template.contains("{query}") {
            return Err(SynthError::Config {
                key: "template".into(),
                detail: "the template has no `{query}` placeholder".into(),
            });
        }
        let levels = if config.per_level {
            let mut out: [String; 4] = LEVEL_TEMPLATES.map(String::from);
            if let Some(dir) = &config.level_templates {
                for (i, t) in out.iter_mut().enumerate() {
                    let p = dir.join(format!("per_level_{}.txt", 3 - i));
                    *t = std::fs::read_to_string(&p).map_err(|e| SynthError::io(&p, e))?;
                }
            }
            // Levels 3, 2 and 1 are written for the query; level 0 may be about `{topic}` only.
            let uses_input =
                |i: usize, t: &String| t.contains("{query}") || (i == 3 && t.contains("{topic}"));
            if let Some(i) = (0..4).find(|&i| !uses_input(i, &out[i])) {
                return Err(SynthError::Config {
                    key: "level_templates".into(),
                    detail: format!(
                        "the level {} template has no `{{query}}`{} placeholder",
                        3 - i,
                        if i == 3 { " or `{topic}`" } else { "" }
                    ),
                });
            }
            Some(out)
        } else {
            None
        };
        for (key, empty) in [
            ("lengths", config.lengths.is_empty()),
            ("styles", config.styles.is_empty()),
            ("reading_levels", config.reading_levels.is_empty()),
            ("topics", config.topics.is_empty()),
        ] {
            if empty {
                return Err(SynthError::Config {
                    key: key.into(),
                    detail: "needs at least one value".into(),
                });
            }
        }
        if !(0.0..=1.0).contains(&config.hard_fraction) {
            return Err(SynthError::Config {
                key: "hard_fraction".into(),
                detail: format!("must be in [0, 1], got {}", config.hard_fraction),
            });
        }
        Ok(Self {
            config,
            template,
            levels,
        })
    }

    /// The settings.
    pub fn config(&self) -> &PromptConfig {
        &self.config
    }

    /// Attributes of query number `index` (deterministic in seed and index).
    pub fn attributes(&self, index: usize) -> Attributes {
        let c = &self.config;
        let mut rng =
            ChaCha8Rng::seed_from_u64(c.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64);
        Attributes {
            length: *c.lengths.choose(&mut rng).expect("checked non-empty"),
            style: c
                .styles
                .choose(&mut rng)
                .expect("checked non-empty")
                .clone(),
            reading_level: c
                .reading_levels
                .choose(&mut rng)
                .expect("checked non-empty")
                .clone(),
            hard: rng.random_bool(c.hard_fraction),
            topic: c
                .topics
                .choose(&mut rng)
                .expect("checked non-empty")
                .clone(),
        }
    }

    /// True when each level is asked for in its own request.
    pub fn per_level(&self) -> bool {
        self.levels.is_some()
    }

    /// The prompt for a query with its attributes.
    pub fn render(&self, query: &str, a: &Attributes) -> String {
        self.fill(&self.template, query, a)
    }

    /// The one-level prompt of `level` (3…0) in per-level mode, `None` otherwise.
    pub fn render_level(&self, level: usize, query: &str, a: &Attributes) -> Option<String> {
        let levels = self.levels.as_ref()?;
        Some(self.fill(&levels[3 - level.min(3)], query, a))
    }

    fn fill(&self, template: &str, query: &str, a: &Attributes) -> String {
        template
            .replace("{query}", query)
            .replace("{length}", &a.length.to_string())
            .replace("{style}", &a.style)
            .replace("{reading_level}", &a.reading_level)
            .replace("{topic}", &a.topic)
            .replace(
                "{hard_instruction}",
                if a.hard {
                    &self.config.hard_instruction
                } else {
                    ""
                },
            )
    }
}
