//! [`Collection`]: texts keyed by id, in file order (a corpus or a query set).
//!
//! Ids and texts are stored column-wise, each as one string with end offsets (the layout of an
//! Arrow string column), not as a `String` per record, in segments: each reader thread fills a
//! segment of its own, which the collection then adopts without copying. A million passages are
//! a few hundred allocations instead of two million, and the heap holds the text plus about 40
//! bytes per record (offsets and the id index).

use std::hash::BuildHasher;
use std::ops::Range;
use std::path::{Path, PathBuf};

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::error::FileError;

/// Strings stored back to back, with the end of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StringColumn {
    data: String,
    ends: Vec<usize>,
}

impl StringColumn {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }
    #[inline]
    fn range(&self, i: usize) -> Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        start..self.ends[i]
    }
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &str {
        &self.data[self.range(i)]
    }
    pub(crate) fn push(&mut self, s: &str) {
        self.data.push_str(s);
        self.ends.push(self.data.len());
    }
    /// Appends a string written by `write` into the column's buffer (no intermediate `String`).
    pub(crate) fn push_with(&mut self, write: impl FnOnce(&mut String)) {
        write(&mut self.data);
        self.ends.push(self.data.len());
    }
    fn reserve(&mut self, bytes: usize) {
        self.data.reserve(bytes);
    }
    fn shrink_to_fit(&mut self) {
        self.data.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
    fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Records parsed apart from a [`Collection`] (on a worker thread), appended in one step with
/// [`Collection::append`]. Ids are hashed where they are parsed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Records {
    pub(crate) ids: StringColumn,
    pub(crate) texts: StringColumn,
    hashes: Vec<u64>,
    /// The 1-based line (or record) each came from, for duplicate-id errors.
    lines: Vec<usize>,
}

impl Records {
    /// Empty columns with room for `bytes` of text.
    pub(crate) fn with_text_capacity(bytes: usize) -> Self {
        let mut r = Records::default();
        r.texts.reserve(bytes);
        r
    }
    /// Gives back unused room.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.ids.shrink_to_fit();
        self.texts.shrink_to_fit();
    }
    /// Adds a record whose id is already in `ids` (pushed last) and text in `texts`.
    pub(crate) fn commit(&mut self, line: usize) {
        let id = self.ids.get(self.ids.len() - 1);
        self.hashes.push(FixedState::default().hash_one(id));
        self.lines.push(line);
    }
}

/// Texts keyed by id, in file order (a corpus or a query set).
#[derive(Debug, Clone, Default)]
pub struct Collection {
    path: PathBuf,
    /// The records, in runs as the readers parsed them (never copied into one buffer).
    segments: Vec<Records>,
    /// Position of the first record of each segment.
    starts: Vec<usize>,
    len: usize,
    /// `(hash of the id, position)`: the ids are stored once, in the segments, and growing the
    /// table never re-reads them.
    index: HashTable<(u64, usize)>,
    hasher: FixedState,
}

impl Collection {
    /// Builds a collection from `(id, text)` pairs; a repeated id is an error.
    pub fn from_pairs<I: AsRef<str>, T: AsRef<str>>(
        name: &str,
        pairs: impl IntoIterator<Item = (I, T)>,
    ) -> Result<Self, FileError> {
        let mut c = Collection {
            path: PathBuf::from(name),
            ..Default::default()
        };
        for (i, (id, text)) in pairs.into_iter().enumerate() {
            c.push(i + 1, id.as_ref(), text.as_ref())?;
        }
        Ok(c)
    }

    /// An empty collection labelled with the file it is read from.
    pub(crate) fn empty(path: &Path) -> Self {
        Collection {
            path: path.to_path_buf(),
            ..Default::default()
        }
    }

    /// Adds a record; a repeated id is an error naming `line` and the first record.
    pub(crate) fn push(&mut self, line: usize, id: &str, text: &str) -> Result<(), FileError> {
        let hash = self.hasher.hash_one(id);
        self.check_new(line, hash, id)?;
        if self.segments.is_empty() {
            self.segments.push(Records::default());
            self.starts.push(0);
        }
        let last = self.segments.last_mut().expect("a segment");
        last.ids.push(id);
        last.texts.push(text);
        self.index
            .insert_unique(hash, (hash, self.len), |&(h, _)| h);
        self.len += 1;
        Ok(())
    }

    /// Appends parsed records in order as one segment (no copy), stopping at the first repeated
    /// id (the collection is then only fit to be dropped).
    pub(crate) fn append(&mut self, mut records: Records) -> Result<(), FileError> {
        if records.ids.len() == 0 {
            return Ok(());
        }
        let hashes = std::mem::take(&mut records.hashes);
        let lines = std::mem::take(&mut records.lines);
        let start = self.len;
        self.starts.push(start);
        self.len += records.ids.len();
        self.segments.push(records);
        for (k, (hash, line)) in hashes.into_iter().zip(lines).enumerate() {
            let position = start + k;
            let id = self.id(position);
            if let Some(&(_, first)) = self.index.find(hash, |&(_, i)| self.id(i) == id) {
                return Err(duplicate(&self.path, line, self.id(position), first));
            }
            self.index
                .insert_unique(hash, (hash, position), |&(h, _)| h);
        }
        Ok(())
    }

    /// Fails if `id` is already indexed.
    fn check_new(&self, line: usize, hash: u64, id: &str) -> Result<(), FileError> {
        match self.index.find(hash, |&(_, i)| self.id(i) == id) {
            Some(&(_, first)) => Err(duplicate(&self.path, line, id, first)),
            None => Ok(()),
        }
    }

    /// The segment holding a position, and the position within it.
    #[inline]
    fn locate(&self, i: usize) -> (&Records, usize) {
        assert!(i < self.len, "position {i} out of range (len {})", self.len);
        let s = if self.starts.len() == 1 {
            0
        } else {
            self.starts.partition_point(|&start| start <= i) - 1
        };
        (&self.segments[s], i - self.starts[s])
    }

    /// The file this collection was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Number of records.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Position of an id.
    #[inline]
    pub fn position(&self, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.index
            .find(hash, |&(_, i)| self.id(i) == id)
            .map(|&(_, i)| i)
    }
    /// Text of an id.
    #[inline]
    pub fn get(&self, id: &str) -> Option<&str> {
        self.position(id).map(|i| self.text(i))
    }
    /// Id at a position.
    #[inline]
    pub fn id(&self, i: usize) -> &str {
        let (seg, k) = self.locate(i);
        seg.ids.get(k)
    }
    /// Text at a position.
    #[inline]
    pub fn text(&self, i: usize) -> &str {
        let (seg, k) = self.locate(i);
        seg.texts.get(k)
    }
    /// All ids, in file order.
    pub fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.segments.iter().flat_map(|s| s.ids.iter())
    }
    /// All texts, in file order.
    pub fn texts(&self) -> impl Iterator<Item = &str> + '_ {
        self.segments.iter().flat_map(|s| s.texts.iter())
    }
    /// Bytes of text held (all texts together).
    pub fn text_bytes(&self) -> usize {
        self.segments.iter().map(|s| s.texts.data.len()).sum()
    }
}

fn duplicate(path: &Path, line: usize, id: &str, first: usize) -> FileError {
    FileError::parse(
        path,
        line,
        "_id",
        format!("duplicate id {id:?} (first seen as record {})", first + 1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip_and_duplicates_name_both_records() {
        let c = Collection::from_pairs("x", [("a", "one"), ("", ""), ("ccc", "three")]).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c.ids().collect::<Vec<_>>(), ["a", "", "ccc"]);
        assert_eq!(c.texts().collect::<Vec<_>>(), ["one", "", "three"]);
        assert_eq!(c.get("ccc"), Some("three"));
        assert_eq!(c.position(""), Some(1));
        assert_eq!(c.get("b"), None);
        assert_eq!(c.text_bytes(), 8);
        let err = Collection::from_pairs("x", [("a", "1"), ("b", "2"), ("a", "3")]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x:3:") && msg.contains("record 1"), "{msg}");
    }

    #[test]
    fn appended_records_keep_order_and_check_ids_across_batches() {
        let mut c = Collection::empty(Path::new("f.jsonl"));
        c.push(1, "d0", "zero").unwrap();
        let mut r = Records::default();
        for (line, id, text) in [(2, "d1", "one"), (3, "d2", "two")] {
            r.ids.push(id);
            r.texts.push(text);
            r.commit(line);
        }
        c.append(r).unwrap();
        assert_eq!(c.ids().collect::<Vec<_>>(), ["d0", "d1", "d2"]);
        assert_eq!(c.text(2), "two");
        assert_eq!(c.get("d1"), Some("one"));
        let mut dup = Records::default();
        dup.ids.push("d1");
        dup.texts.push("again");
        dup.commit(9);
        let msg = c.append(dup).unwrap_err().to_string();
        assert!(
            msg.contains("f.jsonl:9:") && msg.contains("record 2"),
            "{msg}"
        );
    }
}
