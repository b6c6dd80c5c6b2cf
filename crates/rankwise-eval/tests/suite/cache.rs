//! The embedding cache: round trip, key sensitivity, corrupt files.

use rankwise_eval::{CacheKey, EmbeddingCache, Embeddings};

#[test]
fn round_trip_key_and_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corpus.jsonl");
    std::fs::write(&file, "a").unwrap();
    let key = |opt: &str| {
        CacheKey::default()
            .value("options", opt)
            .file(&file)
            .unwrap()
            .finish()
    };
    let k1 = key("mean");
    assert_eq!(k1, key("mean"));
    assert_ne!(k1, key("cls"), "options are part of the key");
    std::fs::write(&file, "b").unwrap();
    assert_ne!(k1, key("mean"), "file content is part of the key");
    let missing = CacheKey::default()
        .file(&dir.path().join("nope"))
        .unwrap()
        .finish();
    assert_ne!(missing, CacheKey::default().finish());

    let cache = EmbeddingCache::new(dir.path().join("cache"));
    assert_eq!(cache.load(&k1).unwrap(), None);
    let emb = Embeddings::new(2, 3, vec![1.0, -2.5, 3.0, 0.0, 1e-30, f32::MAX]).unwrap();
    cache.store(&k1, &emb).unwrap();
    assert_eq!(cache.load(&k1).unwrap(), Some(emb));
    // Truncated file: a clear error naming it.
    let path = cache.path(&k1);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let e = cache.load(&k1).unwrap_err().to_string();
    assert!(
        e.contains(&path.display().to_string()) && e.contains("truncated"),
        "{e}"
    );
    std::fs::write(&path, b"garbage").unwrap();
    assert!(
        cache
            .load(&k1)
            .unwrap_err()
            .to_string()
            .contains("not a rankwise embedding file")
    );
}
