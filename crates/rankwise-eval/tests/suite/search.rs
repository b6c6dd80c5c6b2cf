//! Exact search against a brute-force full sort, and its error cases.

use rankwise_eval::{Embeddings, SearchError, Similarity, search};

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}

fn brute(q: &Embeddings, d: &Embeddings, k: usize, cosine: bool) -> Vec<Vec<(usize, f32)>> {
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    (0..q.rows)
        .map(|i| {
            let mut all: Vec<(usize, f64)> = (0..d.rows)
                .map(|j| {
                    let dot: f64 = q
                        .row(i)
                        .iter()
                        .zip(d.row(j))
                        .map(|(a, b)| *a as f64 * *b as f64)
                        .sum();
                    let s = if cosine {
                        dot / (norm(q.row(i)) * norm(d.row(j)))
                    } else {
                        dot
                    };
                    (j, s)
                })
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(k);
            all.into_iter().map(|(j, s)| (j, s as f32)).collect()
        })
        .collect()
}

#[test]
fn matches_brute_force_dot_and_cosine() {
    // Sizes that are not multiples of the blocks (64 queries, 1024 documents).
    let (nq, nd, dim) = (131, 2500, 48);
    let q = Embeddings::new(nq, dim, values(nq * dim, 1)).unwrap();
    let d = Embeddings::new(nd, dim, values(nd * dim, 2)).unwrap();
    for (sim, cosine) in [(Similarity::Dot, false), (Similarity::Cosine, true)] {
        let got = search(&q, &d, 25, sim).unwrap();
        let want = brute(&q, &d, 25, cosine);
        assert_eq!(got.len(), nq);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.len(), 25);
            for (hit, (j, s)) in g.iter().zip(w) {
                assert!(
                    (hit.score - s).abs() < 1e-4,
                    "{sim:?}: {} vs {s}",
                    hit.score
                );
                // Equal documents unless two scores are within rounding of each other.
                if hit.doc != *j {
                    let other = w.iter().find(|(jj, _)| *jj == hit.doc).map(|x| x.1);
                    assert!(
                        other.is_some_and(|o| (o - s).abs() < 1e-5),
                        "{sim:?}: doc {} vs {j}",
                        hit.doc
                    );
                }
            }
        }
    }
}

#[test]
fn ties_prefer_lower_rows_and_k_is_capped() {
    let q = Embeddings::new(1, 2, vec![1.0, 0.0]).unwrap();
    let d = Embeddings::new(4, 2, vec![0.5, 1.0, 0.5, 0.0, 0.9, 0.0, 0.5, 3.0]).unwrap();
    let hits = search(&q, &d, 10, Similarity::Dot).unwrap();
    let order: Vec<usize> = hits[0].iter().map(|h| h.doc).collect();
    assert_eq!(order, vec![2, 0, 1, 3]);
    let hits = search(&q, &d, 2, Similarity::Dot).unwrap();
    assert_eq!(
        hits[0].iter().map(|h| h.doc).collect::<Vec<_>>(),
        vec![2, 0]
    );
}

#[test]
fn errors() {
    let q = Embeddings::new(1, 3, vec![1.0, 0.0, 0.0]).unwrap();
    let d = Embeddings::new(1, 2, vec![1.0, 0.0]).unwrap();
    let e = search(&q, &d, 5, Similarity::Dot).unwrap_err();
    assert_eq!(
        e.to_string(),
        "dimension mismatch: queries have dimension 3, documents 2"
    );
    assert!(matches!(
        Embeddings::new(2, 3, vec![0.0; 5]),
        Err(SearchError::Dims(_))
    ));
    let empty = Embeddings::new(0, 3, vec![]).unwrap();
    assert!(matches!(
        search(&q, &empty, 5, Similarity::Dot),
        Err(SearchError::Empty(_))
    ));
    assert!(matches!(
        search(&empty, &q, 5, Similarity::Dot),
        Err(SearchError::Empty(_))
    ));
    let nan = Embeddings::new(2, 3, vec![0.0, 0.0, 0.0, 1.0, f32::NAN, 0.0]).unwrap();
    assert_eq!(
        search(&q, &nan, 5, Similarity::Dot).unwrap_err(),
        SearchError::NonFinite {
            what: "document",
            row: 1
        }
    );
}
