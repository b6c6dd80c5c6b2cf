//! Stage 2: the encoder on the device against the Hugging Face fixtures of the tiny BERT
//! (`reference/encoder/tiny-bert`): last hidden states and pooled outputs on the fixture's
//! padded batch, the loss and every parameter gradient of the fixture's contrastive step, and
//! half-precision projections (f16, bf16) against f32 on the same device.
//!
//! Tolerances: f32 values `max|Δ| ≤ 1e-4` (hidden states, pooled outputs), gradients
//! `max|Δ| ≤ 1e-4·max|ref|` per parameter, loss `1e-4` relative, as the device tests on wgpu;
//! half precision `2e-2·max|f32|` (f16) and `5e-2·max|f32|` (bf16, 8 mantissa bits).

use std::path::Path;

use anyhow::Context;
use burn::module::Param;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData, activation};
use rankwise_assets::fixtures::{ints, rows};
use rankwise_encoder::{
    BiEncoder, EncoderBackend, EncoderOptions, Pooling, Precision, Side, TokenBatch, pool,
};
use serde_json::Value;

use crate::{Check, Inputs, Outcome, max_abs, max_abs_diff, values};

fn json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
}

fn floats(v: &Value) -> Vec<f64> {
    fn walk(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Number(n) => out.push(n.as_f64().unwrap_or(f64::NAN)),
            _ => out.push(f64::NAN),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

/// The fixture's own padded batch (`input_ids`, `attention_mask`, `token_type_ids`).
fn fixture_batch(inputs: &Value) -> TokenBatch {
    TokenBatch::from_padded(
        rows(&inputs["input_ids"]),
        ints(&inputs["input_ids"]),
        ints(&inputs["token_type_ids"]),
        ints(&inputs["attention_mask"]),
    )
}

fn options(pooling: Pooling, normalize: bool, precision: Precision) -> EncoderOptions {
    EncoderOptions {
        pooling,
        normalize,
        query_max_length: 128,
        passage_max_length: 128,
        precision,
        ..Default::default()
    }
}

/// Runs every comparison.
pub fn run<B: AutodiffBackend + EncoderBackend>(
    device: &B::Device,
    inputs: &Inputs,
) -> anyhow::Result<Outcome>
where
    B::InnerBackend: EncoderBackend,
{
    let dir = inputs.tiny_bert();
    let mut out = Outcome::default();
    forward_checks::<B::InnerBackend>(&dir, device, &mut out)?;
    gradient_checks::<B>(&dir, device, &mut out)?;
    half_precision_checks::<B::InnerBackend>(&dir, device, &mut out)?;
    Ok(out)
}

fn forward_checks<B: EncoderBackend>(
    dir: &Path,
    device: &B::Device,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let fixture = json(&dir.join("expected.json"))?;
    let items = fixture["items"]
        .as_array()
        .context("expected.json: no items")?;
    let enc =
        BiEncoder::<B>::load_with(dir, options(Pooling::Mean, false, Precision::F32), device)?;
    let batch = fixture_batch(&fixture["batch"]);
    let (ids, types, mask) = batch.to_tensors::<B>(device);
    let hidden = enc.model.query.forward(ids, types, mask.clone());
    let [_, len, h] = hidden.dims();
    let all = values(hidden.clone());
    let mut worst = 0.0f64;
    for (row, item) in items.iter().enumerate() {
        let n = item["length"].as_u64().context("item without length")? as usize;
        let got = &all[row * len * h..row * len * h + n * h];
        worst = worst.max(max_abs_diff(got, &floats(&item["last_hidden_state"])));
    }
    out.checks
        .push(Check::new("last hidden states max|Δ|", worst, 1e-4));
    for (pooling, normalize, key) in [
        (Pooling::Mean, false, "mean_pooled"),
        (Pooling::Cls, false, "cls"),
        (Pooling::Mean, true, "mean_pooled_l2_normalized"),
    ] {
        let got = values(pool(hidden.clone(), mask.clone(), pooling, normalize));
        let want: Vec<f64> = items.iter().flat_map(|i| floats(&i[key])).collect();
        out.checks.push(Check::new(
            format!("{key} max|Δ|"),
            max_abs_diff(&got, &want),
            1e-4,
        ));
    }
    Ok(())
}

/// Every parameter gradient of the tower under its Hugging Face name (Linear weights as
/// `[out, in]`).
fn named_grads<B: AutodiffBackend + EncoderBackend>(
    enc: &BiEncoder<B>,
    grads: &B::Gradients,
) -> Vec<(String, Option<Vec<f64>>)> {
    let g2 = |p: &Param<Tensor<B, 2>>, transpose: bool| {
        p.val()
            .grad(grads)
            .map(|t| values(if transpose { t.transpose() } else { t }))
    };
    let g1 = |p: &Param<Tensor<B, 1>>| p.val().grad(grads).map(values);
    let bert = &enc.model.query;
    let e = &bert.embeddings;
    let mut out = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            g2(&e.word.weight, false),
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            g2(&e.position.weight, false),
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            g2(&e.token_type.weight, false),
        ),
        ("embeddings.LayerNorm.weight".into(), g1(&e.norm.gamma)),
        (
            "embeddings.LayerNorm.bias".into(),
            e.norm.beta.as_ref().and_then(g1),
        ),
    ];
    for (l, layer) in bert.layers.iter().enumerate() {
        let p = format!("encoder.layer.{l}");
        let a = &layer.attention;
        let linears = [
            ("attention.self.query", &a.query),
            ("attention.self.key", &a.key),
            ("attention.self.value", &a.value),
            ("attention.output.dense", &a.output),
            ("intermediate.dense", &layer.intermediate),
            ("output.dense", &layer.output),
        ];
        for (name, x) in linears {
            out.push((format!("{p}.{name}.weight"), g2(&x.weight, true)));
            out.push((format!("{p}.{name}.bias"), x.bias.as_ref().and_then(g1)));
        }
        for (name, x) in [
            ("attention.output.LayerNorm", &a.norm),
            ("output.LayerNorm", &layer.norm),
        ] {
            out.push((format!("{p}.{name}.weight"), g1(&x.gamma)));
            out.push((format!("{p}.{name}.bias"), x.beta.as_ref().and_then(g1)));
        }
    }
    out
}

fn gradient_checks<B: AutodiffBackend + EncoderBackend>(
    dir: &Path,
    device: &B::Device,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let fixture = json(&dir.join("grad_expected.json"))?;
    let enc =
        BiEncoder::<B>::load_with(dir, options(Pooling::Mean, false, Precision::F32), device)?;
    let q = BiEncoder::forward(
        &enc.model,
        &enc.options,
        Side::Query,
        &fixture_batch(&fixture["query_inputs"]),
        device,
    );
    let p = BiEncoder::forward(
        &enc.model,
        &enc.options,
        Side::Passage,
        &fixture_batch(&fixture["passage_inputs"]),
        device,
    );
    let targets: Vec<i64> = ints(&fixture["targets"]);
    let rows = targets.len();
    let targets = Tensor::<B, 2, Int>::from_data(TensorData::new(targets, [rows, 1]), device);
    let loss = activation::log_softmax(q.matmul(p.transpose()), 1)
        .gather(1, targets)
        .mean()
        .neg();
    let got = values(loss.clone())[0];
    let want = fixture["loss"]
        .as_f64()
        .context("grad_expected.json: no loss")?;
    out.checks.push(Check::new(
        "contrastive loss relative |Δ|",
        ((got - want) / want).abs(),
        1e-4,
    ));
    let grads = loss.backward();
    let zero: Vec<&str> = fixture["grad_mathematically_zero"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let bytes = std::fs::read(dir.join("grad_expected.safetensors"))
        .context("grad_expected.safetensors")?;
    let full = safetensors::SafeTensors::deserialize(&bytes)?;
    let f32s = |key: &str| -> anyhow::Result<Vec<f64>> {
        Ok(full
            .tensor(key)
            .with_context(|| format!("grad_expected.safetensors: no {key}"))?
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect())
    };
    let hidden = enc.config.hidden_size;
    let (mut worst_ratio, mut worst_name, mut compared) = (0.0f64, String::new(), 0usize);
    for (name, got) in named_grads(&enc, &grads) {
        let got = got.with_context(|| format!("no gradient for {name}"))?;
        if zero.contains(&name.as_str()) {
            out.checks.push(Check::new(
                format!("{name} (zero in exact arithmetic) max|g|"),
                max_abs(&got),
                1e-5,
            ));
            continue;
        }
        let reference = if name == "embeddings.word_embeddings.weight" {
            let ids = full
                .tensor("embeddings.word_embeddings.weight:row_ids")?
                .data()
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as usize)
                .collect::<Vec<_>>();
            let rows = f32s("embeddings.word_embeddings.weight:rows")?;
            let mut dense = vec![0f64; got.len()];
            for (k, id) in ids.iter().enumerate() {
                dense[id * hidden..(id + 1) * hidden]
                    .copy_from_slice(&rows[k * hidden..(k + 1) * hidden]);
            }
            dense
        } else {
            f32s(&name)?
        };
        let ratio = max_abs_diff(&got, &reference) / max_abs(&reference).max(f64::MIN_POSITIVE);
        compared += 1;
        // NaN (a non-finite gradient) is the worst of all.
        if ratio.is_nan() || (!worst_ratio.is_nan() && ratio > worst_ratio) {
            worst_ratio = ratio;
            worst_name = name;
        }
    }
    out.checks.push(Check::new(
        format!("gradients of {compared} parameters: worst max|Δ| / max|ref| ({worst_name})"),
        worst_ratio,
        1e-4,
    ));
    Ok(())
}

const TEXTS: [&str; 3] = [
    "dense retrieval with graded relevance",
    "a much longer passage about list-wise training of bi-encoders on synthetic data written by a language model",
    "short",
];

fn half_precision_checks<B: EncoderBackend>(
    dir: &Path,
    device: &B::Device,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let embed = |precision: Precision| -> anyhow::Result<Vec<f64>> {
        let enc = BiEncoder::<B>::load_with(dir, options(Pooling::Mean, false, precision), device)?;
        Ok(values(enc.embed(Side::Passage, &TEXTS, device)?))
    };
    let reference = embed(Precision::F32)?;
    let scale = max_abs(&reference);
    for (precision, name, tolerance) in [
        (Precision::F16, "f16", 2e-2),
        (Precision::Bf16, "bf16", 5e-2),
    ] {
        if !precision.supported::<B>(device) {
            out.notes
                .push(format!("{name}: the device does not run it; not compared"));
            continue;
        }
        let got = embed(precision)?;
        out.checks.push(Check::new(
            format!("{name} embeddings max|Δ| / max|f32|"),
            max_abs_diff(&got, &reference) / scale,
            tolerance,
        ));
        if got == reference {
            out.checks.push(Check::new(
                format!("{name} products ran in half precision (differ from f32)"),
                1.0,
                0.0,
            ));
        }
    }
    Ok(())
}
