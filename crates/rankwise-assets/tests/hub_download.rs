//! The real download code (hf-hub over HTTP) against a stand-in Hub on 127.0.0.1: models and
//! datasets into a Hugging Face cache, resume after a cut transfer, corruption detected, 401/404
//! named, offline mode, an unreachable endpoint.

use std::path::Path;
use std::time::Instant;

use rankwise_assets::hub::download::{HubError, HubOptions, fetch_dataset, fetch_model};
use rankwise_assets::hub::fake::{FakeHub, FakeRepo};
use rankwise_assets::hub::{RepoKind, cached_snapshot_in};

const COMMIT: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const QCOMMIT: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn options(hub: &FakeHub, dir: &Path) -> HubOptions {
    HubOptions {
        endpoint: hub.url().to_string(),
        token: None,
        offline: false,
        cache: dir.join("hub"),
        views: dir.join("views"),
        progress: false,
        retries: 0,
    }
}

/// Weights big enough that a cut transfer leaves a real partial file.
fn weights() -> Vec<u8> {
    (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn model_repo() -> FakeRepo {
    let mut repo = FakeRepo {
        commit: COMMIT.into(),
        lfs: vec!["model.safetensors".into()],
        ..Default::default()
    };
    for (name, content) in [
        ("config.json", b"{\"hidden_size\": 4}".to_vec()),
        ("tokenizer.json", b"{}".to_vec()),
        ("modules.json", b"[]".to_vec()),
        (
            "1_Pooling/config.json",
            b"{\"pooling_mode_mean_tokens\": true}".to_vec(),
        ),
        ("README.md", b"not needed".to_vec()),
        ("model.safetensors", weights()),
    ] {
        repo.files.insert(name.into(), content);
    }
    repo
}

fn requested(hub: &FakeHub, file: &str) -> Vec<String> {
    hub.log()
        .into_iter()
        .filter(|l| l.contains(&format!("/resolve/main/{file}")))
        .collect()
}

#[test]
fn a_model_is_downloaded_into_the_cache_layout_and_then_read_from_it_offline() {
    let hub = FakeHub::start().unwrap();
    hub.add(RepoKind::Model, "org/tiny", model_repo());
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&hub, dir.path());
    let got = fetch_model(&opts, "org/tiny").unwrap();
    assert_eq!(got.commit, COMMIT);
    assert_eq!(got.files, 5, "README.md is not needed");
    assert!(requested(&hub, "README.md").is_empty());
    assert_eq!(
        std::fs::read(got.folder.join("model.safetensors")).unwrap(),
        weights()
    );
    // The layout Python's huggingface_hub writes: refs/main → commit, files as links into blobs/.
    let repo = dir.path().join("hub/models--org--tiny");
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main"))
            .unwrap()
            .trim(),
        COMMIT
    );
    let link = got.folder.join("1_Pooling/config.json");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(
        std::fs::canonicalize(&link)
            .unwrap()
            .starts_with(std::fs::canonicalize(repo.join("blobs")).unwrap())
    );
    assert_eq!(
        cached_snapshot_in(&opts.cache, RepoKind::Model, "org/tiny", &["config.json"]).unwrap(),
        got.folder
    );
    // Offline, from the cache: no request.
    let before = hub.log().len();
    let again = fetch_model(
        &HubOptions {
            offline: true,
            ..opts.clone()
        },
        "org/tiny",
    )
    .unwrap();
    assert_eq!((again.folder, again.files), (got.folder, 0));
    assert_eq!(hub.log().len(), before);
}

#[test]
fn a_cut_transfer_resumes_where_it_stopped() {
    let hub = FakeHub::start().unwrap();
    hub.add(RepoKind::Model, "org/tiny", model_repo());
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&hub, dir.path());

    // Without retries the cut fails the run and leaves the partial file...
    hub.cut_once("model.safetensors", 70_000);
    let e = fetch_model(&opts, "org/tiny").unwrap_err().to_string();
    assert!(e.contains("model.safetensors"), "{e}");
    let blobs = dir.path().join("hub/models--org--tiny/blobs");
    let parts: Vec<_> = std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "part"))
        .collect();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].metadata().unwrap().len(), 70_000);
    // ...which is not used: the model is not in the cache.
    assert!(
        cached_snapshot_in(
            &opts.cache,
            RepoKind::Model,
            "org/tiny",
            &["model.safetensors"]
        )
        .is_err()
    );

    // The next run asks for the rest only.
    let got = fetch_model(&opts, "org/tiny").unwrap();
    assert!(
        requested(&hub, "model.safetensors")
            .iter()
            .any(|l| l.ends_with("bytes=70000-")),
        "{:?}",
        hub.log()
    );
    assert_eq!(
        std::fs::read(got.folder.join("model.safetensors")).unwrap(),
        weights()
    );

    // With retries, a dropped connection resumes within the same run.
    let dir2 = tempfile::tempdir().unwrap();
    hub.cut_once("model.safetensors", 123_456);
    let got = fetch_model(
        &HubOptions {
            retries: 2,
            ..options(&hub, dir2.path())
        },
        "org/tiny",
    )
    .unwrap();
    assert!(
        requested(&hub, "model.safetensors")
            .iter()
            .any(|l| l.ends_with("bytes=123456-")),
        "{:?}",
        hub.log()
    );
    assert_eq!(
        std::fs::read(got.folder.join("model.safetensors")).unwrap(),
        weights()
    );
}

#[test]
fn a_corrupted_download_is_detected_removed_and_fetched_again() {
    let hub = FakeHub::start().unwrap();
    hub.add(RepoKind::Model, "org/tiny", model_repo());
    // Both kinds of ETag: SHA-256 (large-file storage) and the git blob id.
    // The weights come last: after a corrupted tokenizer, they are still to fetch.
    for (file, refetched) in [("model.safetensors", 1), ("tokenizer.json", 2)] {
        let dir = tempfile::tempdir().unwrap();
        let opts = options(&hub, dir.path());
        hub.corrupt(file, true);
        let e = fetch_model(&opts, "org/tiny").unwrap_err();
        assert!(matches!(e, HubError::Corrupted { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(file) && msg.contains("corrupted"), "{msg}");
        assert!(cached_snapshot_in(&opts.cache, RepoKind::Model, "org/tiny", &[file]).is_err());
        hub.corrupt(file, false);
        let got = fetch_model(&opts, "org/tiny").unwrap();
        assert_eq!(
            got.files, refetched,
            "the removed file is fetched again, nothing else"
        );
        assert_eq!(
            std::fs::read(got.folder.join("model.safetensors")).unwrap(),
            weights()
        );
    }
}

#[test]
fn missing_repositories_files_and_tokens_are_named() {
    let hub = FakeHub::start().unwrap();
    let mut private = model_repo();
    private.token = Some("hf_right".into());
    hub.add(RepoKind::Model, "org/private", private);
    let mut no_weights = model_repo();
    no_weights.files.remove("model.safetensors");
    no_weights
        .files
        .insert("pytorch_model.bin".into(), b"x".to_vec());
    hub.add(RepoKind::Model, "org/old", no_weights);
    hub.add(RepoKind::Model, "org/gone", model_repo());
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&hub, dir.path());

    let e = fetch_model(&opts, "org/nothing").unwrap_err().to_string();
    assert!(
        e.contains("model `org/nothing`") && e.contains("401") && e.contains("does not exist"),
        "{e}"
    );
    let e = fetch_model(&opts, "org/private").unwrap_err().to_string();
    assert!(e.contains("401") && e.contains("set HF_TOKEN"), "{e}");
    let wrong = HubOptions {
        token: Some("hf_wrong_secret".into()),
        ..opts.clone()
    };
    let e = fetch_model(&wrong, "org/private").unwrap_err().to_string();
    assert!(
        e.contains("a token was sent") && !e.contains("hf_wrong_secret"),
        "{e}"
    );
    let right = HubOptions {
        token: Some("hf_right".into()),
        ..opts.clone()
    };
    fetch_model(&right, "org/private").unwrap();

    let e = fetch_model(&opts, "org/old").unwrap_err().to_string();
    assert!(
        e.contains("no `model.safetensors`") && e.contains("pytorch_model.bin"),
        "{e}"
    );
    hub.gone("tokenizer.json");
    let e = fetch_model(&opts, "org/gone").unwrap_err().to_string();
    assert!(
        e.contains("file `tokenizer.json`") && e.contains("404") && e.contains("no such file"),
        "{e}"
    );
}

#[test]
fn offline_and_unreachable_runs_name_the_id_the_cache_and_the_fix() {
    let hub = FakeHub::start().unwrap();
    hub.add(RepoKind::Model, "org/tiny", model_repo());
    let dir = tempfile::tempdir().unwrap();
    let offline = HubOptions {
        offline: true,
        ..options(&hub, dir.path())
    };
    let e = fetch_model(&offline, "org/tiny").unwrap_err().to_string();
    assert!(
        e.contains("`org/tiny`")
            && e.contains("models--org--tiny")
            && e.contains("huggingface-cli download org/tiny")
            && e.contains("offline"),
        "{e}"
    );
    let e = fetch_dataset(&offline, "org/beir").unwrap_err().to_string();
    assert!(e.contains("--repo-type dataset org/beir"), "{e}");
    assert!(
        hub.log().is_empty(),
        "offline touched the network: {:?}",
        hub.log()
    );

    // A closed port: fails at once, naming the endpoint and the cache.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let start = Instant::now();
    let e = fetch_model(
        &HubOptions {
            endpoint: url.clone(),
            ..options(&hub, dir.path())
        },
        "org/tiny",
    )
    .unwrap_err()
    .to_string();
    assert!(start.elapsed().as_secs_f64() < 1.0);
    assert!(
        e.contains(&format!("could not reach {url}")) && e.contains("huggingface-cli download"),
        "{e}"
    );
}

fn dataset_files(repo: &mut FakeRepo, files: &[(&str, &str)]) {
    for (name, content) in files {
        repo.files
            .insert(name.to_string(), content.as_bytes().to_vec());
    }
}

#[test]
fn datasets_in_both_hub_layouts_become_beir_folders() {
    let hub = FakeHub::start().unwrap();
    let corpus = "{\"_id\": \"d1\", \"title\": \"\", \"text\": \"scurvy\"}\n";
    let queries = "{\"_id\": \"q1\", \"text\": \"what causes scurvy\"}\n";
    let qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\n";
    // The BEIR folder itself (mteb's layout).
    let mut mteb = FakeRepo {
        commit: COMMIT.into(),
        ..Default::default()
    };
    dataset_files(
        &mut mteb,
        &[
            ("README.md", "card"),
            ("corpus.jsonl", corpus),
            ("queries.jsonl", queries),
            ("qrels/test.tsv", qrels),
        ],
    );
    hub.add(RepoKind::Dataset, "mteb/tiny", mteb);
    // Tables in folders, qrels in the companion repository (BeIR's layout).
    let mut beir = FakeRepo {
        commit: COMMIT.into(),
        ..Default::default()
    };
    dataset_files(
        &mut beir,
        &[
            ("corpus/corpus-00000-of-00001.jsonl", corpus),
            ("queries/queries-00000-of-00001.jsonl", queries),
        ],
    );
    hub.add(RepoKind::Dataset, "BeIR/tiny", beir);
    let mut companion = FakeRepo {
        commit: QCOMMIT.into(),
        ..Default::default()
    };
    dataset_files(&mut companion, &[("test.tsv", qrels)]);
    hub.add(RepoKind::Dataset, "BeIR/tiny-qrels", companion);

    let dir = tempfile::tempdir().unwrap();
    let opts = options(&hub, dir.path());
    let read = |folder: &Path, f: &str| std::fs::read_to_string(folder.join(f)).unwrap();

    let got = fetch_dataset(&opts, "mteb/tiny").unwrap();
    assert_eq!(got.files, 3, "only the tables");
    assert!(got.folder.starts_with(dir.path().join("views")) && got.folder.ends_with("tiny"));
    assert_eq!(read(&got.folder, "qrels/test.tsv"), qrels);

    let got = fetch_dataset(&opts, "BeIR/tiny").unwrap();
    assert_eq!(got.files, 3);
    assert!(got.folder.starts_with(dir.path().join("views")));
    assert_eq!(read(&got.folder, "corpus.jsonl"), corpus);
    assert_eq!(read(&got.folder, "queries.jsonl"), queries);
    assert_eq!(read(&got.folder, "qrels/test.tsv"), qrels);

    // Both again, offline, from the cache.
    let offline = HubOptions {
        offline: true,
        ..opts
    };
    for id in ["mteb/tiny", "BeIR/tiny"] {
        let again = fetch_dataset(&offline, id).unwrap();
        assert_eq!(again.files, 0);
        assert_eq!(read(&again.folder, "qrels/test.tsv"), qrels);
    }

    // A repository that is not a BEIR collection.
    let mut other = FakeRepo {
        commit: COMMIT.into(),
        ..Default::default()
    };
    dataset_files(&mut other, &[("train.csv", "a,b\n")]);
    hub.add(RepoKind::Dataset, "org/other", other);
    let e = fetch_dataset(&options(&hub, dir.path()), "org/other")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not a BEIR collection") && e.contains("train.csv"),
        "{e}"
    );
}
