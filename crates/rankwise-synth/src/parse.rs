//! Tolerant parsing of the four passages and their validation.
//!
//! Accepted shapes: a JSON object with `level_3` … `level_0` (or `3` … `0`, or `passages`: a
//! list of four, best first), optionally inside a ```json fence or surrounded by prose; or a
//! numbered / labelled list (`1.`, `Level 3:` …) of four items, best first.

use serde_json::Value;

/// Why a response was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Class: `no_passages`, `wrong_count`, `empty_passage`, `duplicate`, `too_short`,
    /// `too_long`, `truncated`.
    pub kind: &'static str,
    /// Details.
    pub detail: String,
}

fn reject(kind: &'static str, detail: impl Into<String>) -> Rejection {
    Rejection {
        kind,
        detail: detail.into(),
    }
}

fn from_json(v: &Value) -> Option<Vec<String>> {
    let text = |x: &Value| x.as_str().map(|s| s.trim().to_string());
    if let Some(list) = v.get("passages").and_then(Value::as_array) {
        return list.iter().map(text).collect();
    }
    if let Some(list) = v.as_array() {
        return list.iter().map(text).collect();
    }
    let obj = v.as_object()?;
    let mut out = Vec::new();
    for level in [3, 2, 1, 0] {
        let keys = [
            format!("level_{level}"),
            format!("level{level}"),
            level.to_string(),
        ];
        match keys.iter().find_map(|k| obj.get(k)) {
            Some(x) => out.push(text(x)?),
            None => break,
        }
    }
    (!out.is_empty()).then_some(out)
}

fn json_candidates(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    // Fenced blocks first.
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map_or(0, |i| i + 1);
        let Some(end) = after[body_start..].find("```") else {
            break;
        };
        out.push(after[body_start..body_start + end].trim());
        rest = &after[body_start + end + 3..];
    }
    if let (Some(a), Some(b)) = (text.find('{'), text.rfind('}'))
        && a < b
    {
        out.push(&text[a..=b]);
    }
    if let (Some(a), Some(b)) = (text.find('['), text.rfind(']'))
        && a < b
    {
        out.push(&text[a..=b]);
    }
    out.push(text.trim());
    out
}

/// The body of a line that starts a list item (`1. …`, `2) …`, `Level 3: …`), if it does.
fn item_start(line: &str) -> Option<&str> {
    let labelled = line.len() >= 5 && line[..5].eq_ignore_ascii_case("level");
    let rest = if labelled {
        line[5..].trim_start_matches(['_', ' '])
    } else {
        line
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits == 0 {
        return None;
    }
    let after = rest[digits..].trim_start_matches('*');
    (labelled || after.starts_with(['.', ')', ':'])).then(|| {
        after
            .trim_start_matches(['.', ')', ':', '-', '*', ' '])
            .trim()
    })
}

fn from_list(text: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for line in text.lines() {
        let l = line.trim().trim_start_matches(['*', '-', '#', ' ']).trim();
        match item_start(l) {
            Some(body) => items.push(body.to_string()),
            None if !items.is_empty() && !l.is_empty() => {
                let last = items.last_mut().expect("non-empty");
                if !last.is_empty() {
                    last.push(' ');
                }
                last.push_str(l);
            }
            None => {}
        }
    }
    items
}

/// A passage of `level` is non-empty and within `[min_words, max_words]` words.
fn check_words(p: &str, level: usize, min_words: usize, max_words: usize) -> Result<(), Rejection> {
    let words = p.split_whitespace().count();
    if words == 0 {
        return Err(reject("empty_passage", format!("level {level} is empty")));
    }
    if words < min_words {
        return Err(reject(
            "too_short",
            format!("level {level} has {words} words (< {min_words})"),
        ));
    }
    if words > max_words {
        return Err(reject(
            "too_long",
            format!("level {level} has {words} words (> {max_words})"),
        ));
    }
    Ok(())
}

/// Extracts the four passages (levels 3, 2, 1, 0) and validates them: four, non-empty,
/// distinct, each within `[min_words, max_words]`.
pub fn parse_passages(
    text: &str,
    min_words: usize,
    max_words: usize,
) -> Result<[String; 4], Rejection> {
    let found = json_candidates(text)
        .into_iter()
        .find_map(|c| {
            serde_json::from_str::<Value>(c)
                .ok()
                .as_ref()
                .and_then(from_json)
        })
        .unwrap_or_else(|| from_list(text));
    if found.is_empty() {
        return Err(reject(
            "no_passages",
            "neither JSON with four levels nor a numbered list",
        ));
    }
    if found.len() != 4 {
        return Err(reject(
            "wrong_count",
            format!("{} passages instead of 4", found.len()),
        ));
    }
    for (i, p) in found.iter().enumerate() {
        let level = 3 - i;
        check_words(p, level, min_words, max_words)?;
        if let Some(j) = found[..i]
            .iter()
            .position(|q| q.trim().eq_ignore_ascii_case(p.trim()))
        {
            return Err(reject(
                "duplicate",
                format!("level {level} repeats level {}", 3 - j),
            ));
        }
    }
    Ok([
        found[0].clone(),
        found[1].clone(),
        found[2].clone(),
        found[3].clone(),
    ])
}

/// Extracts one plain-text passage of `level` (per-level prompts): the first paragraph of the
/// reply without quotes or a leading `Passage:` label, whitespace collapsed, within
/// `[min_words, max_words]`, and not a repetition of `query` (small models often echo it:
/// the query's text inside, or more than 70 % of its distinct words taken from the query).
pub fn parse_passage(
    text: &str,
    query: &str,
    level: usize,
    min_words: usize,
    max_words: usize,
) -> Result<String, Rejection> {
    let body = text
        .trim()
        .split("\n\n")
        .map(str::trim)
        .find(|p| !p.is_empty())
        .unwrap_or("");
    let mut body = body.trim_matches(|c: char| c == '"' || c == '*' || c.is_whitespace());
    for label in [
        "passage:",
        "answer:",
        &format!("level {level}:"),
        &format!("level_{level}:"),
    ] {
        if body
            .get(..label.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(label))
        {
            body = body[label.len()..].trim_start();
        }
    }
    let passage = body
        .trim_matches(|c: char| c == '"' || c.is_whitespace())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    check_words(&passage, level, min_words, max_words)?;
    let lower = passage.to_lowercase();
    let q = query.trim().to_lowercase();
    let own: std::collections::HashSet<&str> = lower.split_whitespace().collect();
    let theirs: std::collections::HashSet<&str> = q.split_whitespace().collect();
    let shared = own.intersection(&theirs).count();
    if (!q.is_empty() && lower.contains(&q)) || shared * 10 > own.len() * 7 {
        return Err(reject(
            "echo",
            format!(
                "level {level} repeats the query ({shared} of its {} words)",
                own.len()
            ),
        ));
    }
    Ok(passage)
}
