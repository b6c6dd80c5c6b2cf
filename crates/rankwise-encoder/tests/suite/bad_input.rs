//! Broken checkpoint folders give one clear error naming the file and key, never a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::backend::NdArray;
use rankwise_encoder::{BiEncoder, EncoderError, EncoderOptions};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

type B = NdArray;

/// A copy of the tiny-bert folder to break.
fn copy_tiny() -> tempfile::TempDir {
    let src = rankwise_assets::reference("encoder/tiny-bert").unwrap();
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    dir
}

fn load(dir: &Path) -> EncoderError {
    BiEncoder::<B>::load_with(dir, EncoderOptions::default(), &Default::default()).unwrap_err()
}

/// Rewrites model.safetensors through `edit(name, shape, bytes)`; `None` drops the tensor.
fn rewrite(
    dir: &Path,
    edit: impl Fn(&str, Vec<usize>, Vec<u8>) -> Option<(String, Vec<usize>, Vec<u8>)>,
    extra: Option<(&str, Vec<usize>)>,
) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = file
        .iter()
        .filter_map(|(n, v)| edit(n, v.shape().to_vec(), v.data().to_vec()))
        .collect();
    if let Some((name, shape)) = extra {
        let n: usize = shape.iter().product();
        owned.push((name.to_string(), shape, vec![0u8; 4 * n]));
    }
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, s, d)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), d).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None::<HashMap<String, String>>, &path).unwrap();
}

fn assert_names(err: &EncoderError, file: &str, key: &str) {
    let msg = err.to_string();
    assert!(
        msg.contains(file) && msg.contains(key),
        "error should name {file} and {key}: {msg}"
    );
}

#[test]
fn missing_config_field() {
    let dir = copy_tiny();
    let path: PathBuf = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"num_hidden_layers\": 2,", "");
    std::fs::write(&path, text).unwrap();
    assert_names(&load(dir.path()), "config.json", "num_hidden_layers");
}

#[test]
fn inconsistent_config() {
    let dir = copy_tiny();
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5");
    std::fs::write(&path, text).unwrap();
    assert_names(&load(dir.path()), "config.json", "num_attention_heads");
    std::fs::write(&path, "{ not json").unwrap();
    assert_names(&load(dir.path()), "config.json", "invalid JSON");
}

#[test]
fn missing_tensor() {
    let dir = copy_tiny();
    rewrite(
        dir.path(),
        |n, s, d| (n != "encoder.layer.1.output.dense.bias").then(|| (n.into(), s, d)),
        None,
    );
    let err = load(dir.path());
    assert_names(
        &err,
        "model.safetensors",
        "encoder.layer.1.output.dense.bias",
    );
    assert!(err.to_string().contains("missing"));
}

#[test]
fn misshaped_tensor() {
    let dir = copy_tiny();
    rewrite(
        dir.path(),
        |n, s, d| {
            if n == "encoder.layer.0.intermediate.dense.weight" {
                Some((n.into(), vec![32, 64], d))
            } else {
                Some((n.into(), s, d))
            }
        },
        None,
    );
    let err = load(dir.path());
    assert_names(
        &err,
        "model.safetensors",
        "encoder.layer.0.intermediate.dense.weight",
    );
    assert!(err.to_string().contains("[32, 64]"), "{err}");
}

#[test]
fn extra_tensor() {
    let dir = copy_tiny();
    rewrite(
        dir.path(),
        |n, s, d| Some((n.into(), s, d)),
        Some(("encoder.layer.2.output.dense.bias", vec![32])),
    );
    let err = load(dir.path());
    assert_names(
        &err,
        "model.safetensors",
        "encoder.layer.2.output.dense.bias",
    );
    assert!(err.to_string().contains("unexpected"), "{err}");
}

#[test]
fn prefixed_and_gamma_beta_keys_load() {
    let dir = copy_tiny();
    rewrite(
        dir.path(),
        |n, s, d| {
            let n = n
                .replace("LayerNorm.weight", "LayerNorm.gamma")
                .replace("LayerNorm.bias", "LayerNorm.beta");
            Some((format!("bert.{n}"), s, d))
        },
        Some(("bert.embeddings.position_ids", vec![1, 512])),
    );
    BiEncoder::<B>::load_with(dir.path(), EncoderOptions::default(), &Default::default()).unwrap();
}

#[test]
fn corrupt_weights_file() {
    let dir = copy_tiny();
    std::fs::write(dir.path().join("model.safetensors"), b"garbage").unwrap();
    assert_names(&load(dir.path()), "model.safetensors", "safetensors");
}

#[test]
fn tokenizer_without_pad_token() {
    let dir = copy_tiny();
    let path = dir.path().join("tokenizer.json");
    let mut tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    tok["padding"] = serde_json::Value::Null;
    let vocab = tok["model"]["vocab"].as_object_mut().unwrap();
    let id = vocab.remove("[PAD]").unwrap();
    vocab.insert("[NOTPAD]".into(), id);
    // the added-token list mentions [PAD] too
    for t in tok["added_tokens"].as_array_mut().unwrap() {
        if t["content"] == "[PAD]" {
            t["content"] = "[NOTPAD]".into();
        }
    }
    std::fs::write(&path, tok.to_string()).unwrap();
    assert_names(&load(dir.path()), "tokenizer.json", "pad token");
}
