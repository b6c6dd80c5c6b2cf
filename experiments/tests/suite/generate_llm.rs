//! `experiments generate` against a real OpenAI-compatible server running a real small model
//! (CI starts llama.cpp's server with SmolLM2-135M-Instruct and sets `RANKWISE_LLM_URL`).
//! The output must load through the data crate as a multi-level dataset.

use std::process::Command;

use rankwise_data::{
    GroupedDataset, MultiLevelConfig, MultiLevelDataset, PassageSelection, SourceConfig,
};

#[test]
fn generate_with_a_real_llm_and_load_the_output() {
    let Ok(url) = std::env::var("RANKWISE_LLM_URL") else {
        assert!(
            std::env::var("RANKWISE_REQUIRE_LLM").is_err(),
            "RANKWISE_REQUIRE_LLM is set but RANKWISE_LLM_URL is not"
        );
        eprintln!("skipped: set RANKWISE_LLM_URL to an OpenAI-compatible server (see .ci/run)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scifact = rankwise_assets::dataset("scifact").unwrap();
    let queries: String = std::fs::read_to_string(scifact.join("queries.jsonl"))
        .unwrap()
        .lines()
        .take(6)
        .map(|l| format!("{l}\n"))
        .collect();
    let qfile = dir.path().join("queries.jsonl");
    std::fs::write(&qfile, queries).unwrap();
    let out = dir.path().join("synthetic");
    let status = Command::new(env!("CARGO_BIN_EXE_experiments"))
        .args([
            "generate",
            "--quiet",
            "--concurrency",
            "1",
            "--attempts",
            "4",
            "--limit",
            "6",
            "--seed",
            "1",
        ])
        .args([
            "--lengths",
            "40,60",
            "--timeout",
            "60",
            "--model",
            "smollm2",
            "--base-url",
            &url,
        ])
        .arg("--queries")
        .arg(&qfile)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let generated = summary["generated"].as_u64().unwrap() as usize;
    let failed = summary["failed"].as_u64().unwrap() as usize;
    // Exit 0 only when every query has its passages.
    assert_eq!(status.status.success(), failed == 0, "{summary}");
    if failed > 0 {
        let err = String::from_utf8_lossy(&status.stderr);
        assert!(
            err.contains(&format!("{failed} of 6 queries have no passages")),
            "{err}"
        );
    }
    assert_eq!(
        generated + summary["failed"].as_u64().unwrap() as usize,
        6,
        "{summary}"
    );
    assert!(generated >= 1, "{summary}");
    assert!(summary["completion_tokens"].as_u64().unwrap() > 0);
    let d = MultiLevelDataset::load(MultiLevelConfig {
        sources: vec![SourceConfig::beir(&out, "train").unwrap()],
        group_size: 4,
        passage_selection_strategy: PassageSelection::MostRelevant,
        seed: 0,
    })
    .unwrap();
    assert_eq!(d.len(), generated);
    for i in 0..d.len() {
        let item = d.item(i, 0);
        assert_eq!(item.labels, vec![3, 2, 1, 0]);
        assert!(item.passages.iter().all(|p| !p.trim().is_empty()));
    }
    // Running again skips every finished query.
    let again = Command::new(env!("CARGO_BIN_EXE_experiments"))
        .args([
            "generate",
            "--quiet",
            "--limit",
            "6",
            "--model",
            "smollm2",
            "--base-url",
            &url,
        ])
        .arg("--queries")
        .arg(&qfile)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains(&format!(
            "0 generated now, {generated} already done, 0 failed now {{}}, {failed} failed earlier"
        )),
        "{stdout}"
    );
    assert_eq!(again.status.success(), failed == 0);
}
