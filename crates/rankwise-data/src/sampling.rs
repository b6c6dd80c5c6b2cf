//! Deterministic randomness: every item's draws come from a generator seeded by
//! (seed, epoch, item index), so any item of any epoch can be rebuilt exactly (resumable runs,
//! multi-worker loading in any order).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::source::{Candidate, Source};

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of one item in one epoch.
pub fn item_rng(seed: u64, epoch: u64, index: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(splitmix(splitmix(splitmix(seed) ^ epoch) ^ index as u64))
}

/// A passage chosen for an item: its source, corpus position and level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pick {
    /// Index of the source.
    pub source: usize,
    /// Position in that source's corpus.
    pub doc: usize,
    /// Level.
    pub level: i64,
}

/// A query's candidates from one source after `group_random_k` (a fresh draw each call).
pub fn source_candidates(source: &Source, query: &str, rng: &mut ChaCha8Rng) -> Vec<Candidate> {
    let Some(group) = source.groups.get(query) else {
        return Vec::new();
    };
    let mut group = group.clone();
    if let Some(k) = source.config.group_random_k
        && group.len() > k
    {
        group.shuffle(rng);
        group.truncate(k);
    }
    group
}

/// Merges a query's candidates over sources: a passage listed twice (same document id) keeps
/// its first position and takes the last source's label.
pub fn merge(sources: &[Source], query: &str, rng: &mut ChaCha8Rng) -> Vec<Pick> {
    merge_with(sources, query, Some(rng))
}

/// [`merge`] without `group_random_k` (every candidate of every source).
pub fn merge_all(sources: &[Source], query: &str) -> Vec<Pick> {
    merge_with(sources, query, None)
}

fn merge_with(sources: &[Source], query: &str, mut rng: Option<&mut ChaCha8Rng>) -> Vec<Pick> {
    let mut picks: Vec<Pick> = Vec::new();
    let mut position: std::collections::HashMap<&str, usize> = Default::default();
    for (s, source) in sources.iter().enumerate() {
        let candidates = match rng.as_deref_mut() {
            Some(rng) => source_candidates(source, query, rng),
            None => source.groups.get(query).cloned().unwrap_or_default(),
        };
        for c in candidates {
            let id = source.corpus.id(c.doc);
            match position.get(id) {
                Some(&p) => picks[p].level = c.level,
                None => {
                    position.insert(id, picks.len());
                    picks.push(Pick {
                        source: s,
                        doc: c.doc,
                        level: c.level,
                    });
                }
            }
        }
    }
    picks
}

/// Repeats `items` in order until `n` are taken (cycle), or truncates to `n`.
pub fn cycle_to<T: Copy>(items: &[T], n: usize) -> Vec<T> {
    items.iter().copied().cycle().take(n).collect()
}
