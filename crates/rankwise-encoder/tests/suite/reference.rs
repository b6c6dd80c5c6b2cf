//! The encoder against Hugging Face / PyTorch fixtures: tokenisation, hidden states, pooling,
//! the real all-MiniLM-L6-v2, the backward pass, and the save/reload round trip.

use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, NdArray};
use burn::module::Param;
use burn::tensor::{Int, Tensor, TensorData, activation};
use rankwise_assets::fixtures::{ints, rows};
use rankwise_encoder::{BiEncoder, EncoderOptions, HostEncoder, Pooling, Side, TokenBatch, pool};
use serde_json::Value;

type B = NdArray;
type AD = Autodiff<NdArray>;

fn tiny_dir() -> PathBuf {
    rankwise_assets::reference("encoder/tiny-bert").expect("tiny-bert fixture")
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    fn walk(v: &Value, out: &mut Vec<f32>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Number(n) => out.push(n.as_f64().unwrap() as f32),
            _ => panic!("not a number: {v}"),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn tiny_options(pooling: Pooling, normalize: bool) -> EncoderOptions {
    EncoderOptions {
        pooling,
        normalize,
        query_max_length: 128,
        passage_max_length: 128,
        ..Default::default()
    }
}

fn batch_from_fixture(inputs: &Value) -> TokenBatch {
    TokenBatch::from_padded(
        rows(&inputs["input_ids"]),
        ints(&inputs["input_ids"]),
        ints(&inputs["token_type_ids"]),
        ints(&inputs["attention_mask"]),
    )
}

#[test]
fn tiny_bert_tokens_hidden_states_and_pooling_match() {
    let fixture = json(&tiny_dir().join("expected.json"));
    let device = Default::default();
    let enc = BiEncoder::<B>::load_with(&tiny_dir(), tiny_options(Pooling::Mean, false), &device)
        .unwrap();
    let items = fixture["items"].as_array().unwrap();

    // Tokenisation: ids and type ids exactly.
    for item in items {
        let text = item["text"].as_str().unwrap();
        let batch = match item.get("text_pair").and_then(Value::as_str) {
            Some(pair) => enc
                .tokenizer(Side::Query)
                .encode_pairs(&[(text, pair)])
                .unwrap(),
            None => enc.tokenizer(Side::Query).encode(&[text]).unwrap(),
        };
        let n = batch.lengths[0];
        assert_eq!(
            &batch.input_ids[..n],
            ints(&item["input_ids"]).as_slice(),
            "ids of {}",
            item["id"]
        );
        assert_eq!(
            &batch.token_type_ids[..n],
            ints(&item["token_type_ids"]).as_slice(),
            "types of {}",
            item["id"]
        );
        assert_eq!(batch.len % 8, 0);
    }

    // Hidden states on the fixture's own padded batch, and on ours (different padding).
    let fixture_batch = batch_from_fixture(&fixture["batch"]);
    let pairs: Vec<(String, Option<String>)> = items
        .iter()
        .map(|i| {
            (
                i["text"].as_str().unwrap().to_string(),
                i.get("text_pair")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            )
        })
        .collect();
    let our_batch = {
        // all singles except the pair item, tokenised one by one then stacked
        let rows: Vec<TokenBatch> = pairs
            .iter()
            .map(|(t, p)| match p {
                Some(p) => enc.tokenizer(Side::Query).encode_pairs(&[(t, p)]).unwrap(),
                None => enc.tokenizer(Side::Query).encode(&[t]).unwrap(),
            })
            .collect();
        let len = rows.iter().map(|r| r.len).max().unwrap();
        let mut b = TokenBatch {
            batch: rows.len(),
            len,
            input_ids: vec![],
            token_type_ids: vec![],
            attention_mask: vec![],
            lengths: vec![],
        };
        for r in rows {
            let pad = len - r.len;
            b.input_ids.extend(
                r.input_ids
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, pad)),
            );
            b.token_type_ids.extend(
                r.token_type_ids
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, pad)),
            );
            b.attention_mask.extend(
                r.attention_mask
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, pad)),
            );
            b.lengths.push(r.lengths[0]);
        }
        b
    };
    for (label, batch) in [
        ("fixture padding", &fixture_batch),
        ("our padding", &our_batch),
    ] {
        let (ids, types, mask) = batch.to_tensors::<B>(&device);
        let hidden = enc.model.query.forward(ids, types, mask.clone());
        let [_, len, h] = hidden.dims();
        let values: Vec<f32> = hidden.clone().into_data().to_vec().unwrap();
        let mut worst = 0.0f32;
        for (row, item) in items.iter().enumerate() {
            let n = item["length"].as_u64().unwrap() as usize;
            let got = &values[row * len * h..row * len * h + n * h];
            worst = worst.max(max_abs_diff(got, &floats(&item["last_hidden_state"])));
        }
        assert!(worst <= 1e-4, "{label}: hidden states differ by {worst:e}");

        // The host inference path on the same rows (it never sees the padding).
        let host = HostEncoder::new(&enc);
        let mut worst = 0.0f32;
        for (row, item) in items.iter().enumerate() {
            let n = batch.lengths[row];
            let r = row * batch.len..row * batch.len + n;
            let got = host.last_hidden_state(
                Side::Query,
                &batch.input_ids[r.clone()],
                &batch.token_type_ids[r],
            );
            worst = worst.max(max_abs_diff(&got, &floats(&item["last_hidden_state"])));
        }
        assert!(
            worst <= 1e-4,
            "{label}: host hidden states differ by {worst:e}"
        );

        for (pooling, normalize, key) in [
            (Pooling::Mean, false, "mean_pooled"),
            (Pooling::Cls, false, "cls"),
            (Pooling::Mean, true, "mean_pooled_l2_normalized"),
        ] {
            let pooled: Vec<f32> = pool(hidden.clone(), mask.clone(), pooling, normalize)
                .into_data()
                .to_vec()
                .unwrap();
            let want: Vec<f32> = items.iter().flat_map(|i| floats(&i[key])).collect();
            let d = max_abs_diff(&pooled, &want);
            assert!(d <= 1e-5, "{label}: {key} differs by {d:e}");
            let other =
                BiEncoder::<B>::load_with(&tiny_dir(), tiny_options(pooling, normalize), &device)
                    .unwrap();
            let host = HostEncoder::new(&other).embed_batch(Side::Query, batch, 2);
            let d = max_abs_diff(&host, &want);
            assert!(d <= 1e-4, "{label}: host {key} differs by {d:e}");
        }
    }
}

#[test]
fn minilm_ids_and_embeddings_match_sentence_transformers() {
    let dir = rankwise_assets::model("all-MiniLM-L6-v2").expect("MiniLM checkpoint");
    let fixture =
        json(&rankwise_assets::reference("encoder/all-MiniLM-L6-v2-expected.json").unwrap());
    let device = Default::default();
    let enc = BiEncoder::<B>::load(&dir, &device).unwrap();
    assert_eq!(enc.options.pooling, Pooling::Mean);
    assert!(enc.options.normalize);
    assert_eq!(enc.options.passage_max_length, 256);
    let texts: Vec<&str> = fixture["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    let batch = enc.tokenize(Side::Passage, &texts).unwrap();
    for (row, t) in fixture["texts"].as_array().unwrap().iter().enumerate() {
        let n = batch.lengths[row];
        assert_eq!(
            &batch.input_ids[row * batch.len..row * batch.len + n],
            ints(&t["input_ids"]).as_slice(),
            "ids of text {row}"
        );
    }
    assert_eq!(batch.lengths[7], 256, "the long text is truncated to 256");
    let emb: Vec<f32> =
        BiEncoder::forward(&enc.model, &enc.options, Side::Passage, &batch, &device)
            .into_data()
            .to_vec()
            .unwrap();
    let want: Vec<f32> = fixture["texts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| floats(&t["embedding"]))
        .collect();
    let d = max_abs_diff(&emb, &want);
    assert!(d <= 1e-5, "MiniLM embeddings differ by {d:e}");

    // The same through length-sorted batching.
    let sorted = enc
        .embed_sorted(Side::Passage, &texts, 3, &device, |_| {})
        .unwrap();
    let d = max_abs_diff(&sorted, &want);
    assert!(d <= 1e-5, "length-sorted embeddings differ by {d:e}");

    // The host inference path, on two threads.
    let host = HostEncoder::new(&enc)
        .embed_texts(Side::Passage, &texts, 2, |_| {})
        .unwrap();
    let d = max_abs_diff(&host, &want);
    assert!(d <= 1e-4, "host embeddings differ by {d:e}");
}

/// Every parameter gradient of the tower under its HF name (Linear weights as `[out, in]`).
fn named_grads(
    enc: &BiEncoder<AD>,
    grads: &<AD as burn::tensor::backend::AutodiffBackend>::Gradients,
) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let mut out = Vec::new();
    let mut put = |name: String, t: Option<Tensor<B, 2>>| {
        let t = t.unwrap_or_else(|| panic!("no gradient for {name}"));
        out.push((
            name,
            t.dims().to_vec(),
            t.into_data().to_vec::<f32>().unwrap(),
        ));
    };
    let g2 = |p: &Param<Tensor<AD, 2>>| p.val().grad(grads);
    let g1 = |p: &Param<Tensor<AD, 1>>| p.val().grad(grads).map(|t| t.unsqueeze::<2>());
    let bert = &enc.model.query;
    let e = &bert.embeddings;
    put(
        "embeddings.word_embeddings.weight".into(),
        g2(&e.word.weight),
    );
    put(
        "embeddings.position_embeddings.weight".into(),
        g2(&e.position.weight),
    );
    put(
        "embeddings.token_type_embeddings.weight".into(),
        g2(&e.token_type.weight),
    );
    put("embeddings.LayerNorm.weight".into(), g1(&e.norm.gamma));
    put(
        "embeddings.LayerNorm.bias".into(),
        g1(e.norm.beta.as_ref().unwrap()),
    );
    for (l, layer) in bert.layers.iter().enumerate() {
        let p = format!("encoder.layer.{l}");
        let lin = |name: &str, x: &burn::nn::Linear<AD>| {
            vec![
                (
                    format!("{p}.{name}.weight"),
                    g2(&x.weight).map(|t| t.transpose()),
                ),
                (format!("{p}.{name}.bias"), g1(x.bias.as_ref().unwrap())),
            ]
        };
        let norm = |name: &str, x: &burn::nn::LayerNorm<AD>| {
            vec![
                (format!("{p}.{name}.weight"), g1(&x.gamma)),
                (format!("{p}.{name}.bias"), g1(x.beta.as_ref().unwrap())),
            ]
        };
        let a = &layer.attention;
        for (name, t) in [
            lin("attention.self.query", &a.query),
            lin("attention.self.key", &a.key),
            lin("attention.self.value", &a.value),
            lin("attention.output.dense", &a.output),
            norm("attention.output.LayerNorm", &a.norm),
            lin("intermediate.dense", &layer.intermediate),
            lin("output.dense", &layer.output),
            norm("output.LayerNorm", &layer.norm),
        ]
        .into_iter()
        .flatten()
        {
            put(name, t);
        }
    }
    out
}

#[test]
fn tiny_bert_backward_matches_pytorch_gradients() {
    let fixture = json(&tiny_dir().join("grad_expected.json"));
    let device = Default::default();
    let enc = BiEncoder::<AD>::load_with(&tiny_dir(), tiny_options(Pooling::Mean, false), &device)
        .unwrap();
    let q = BiEncoder::forward(
        &enc.model,
        &enc.options,
        Side::Query,
        &batch_from_fixture(&fixture["query_inputs"]),
        &device,
    );
    let p = BiEncoder::forward(
        &enc.model,
        &enc.options,
        Side::Passage,
        &batch_from_fixture(&fixture["passage_inputs"]),
        &device,
    );
    let scores = q.matmul(p.transpose());
    let targets = Tensor::<AD, 2, Int>::from_data(TensorData::new(vec![0i64, 4], [2, 1]), &device);
    let loss = activation::log_softmax(scores, 1)
        .gather(1, targets)
        .mean()
        .neg();
    let loss_value: f32 = loss.clone().into_scalar();
    let want = fixture["loss"].as_f64().unwrap() as f32;
    assert!(
        ((loss_value - want) / want).abs() <= 1e-5,
        "loss {loss_value} vs {want}"
    );

    let grads = loss.backward();
    let named = named_grads(&enc, &grads);
    assert_eq!(named.len(), 37);
    let zero: Vec<&str> = fixture["grad_mathematically_zero"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let norms = &fixture["grad_l2_norms"];
    let full = std::fs::read(tiny_dir().join("grad_expected.safetensors")).unwrap();
    let full = safetensors::SafeTensors::deserialize(&full).unwrap();
    let read = |key: &str| -> Vec<f32> {
        full.tensor(key)
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    for (name, _shape, values) in &named {
        let norm = values
            .iter()
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let want = norms[name].as_f64().unwrap();
        if zero.contains(&name.as_str()) {
            assert!(norm <= 1e-5, "{name}: gradient norm {norm:e} should be ~0");
            continue;
        }
        assert!(
            ((norm - want) / want).abs() <= 1e-4,
            "{name}: gradient norm {norm} vs {want}"
        );
        let reference = if name == "embeddings.word_embeddings.weight" {
            let rows = full
                .tensor("embeddings.word_embeddings.weight:row_ids")
                .unwrap();
            let ids: Vec<usize> = rows
                .data()
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as usize)
                .collect();
            let sub = read("embeddings.word_embeddings.weight:rows");
            let mut dense = vec![0f32; values.len()];
            for (k, id) in ids.iter().enumerate() {
                dense[id * 32..(id + 1) * 32].copy_from_slice(&sub[k * 32..(k + 1) * 32]);
            }
            dense
        } else {
            read(name)
        };
        let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = max_abs_diff(values, &reference);
        if d > 1e-4 * scale {
            let k = (0..values.len())
                .max_by(|&a, &b| {
                    (values[a] - reference[a])
                        .abs()
                        .total_cmp(&(values[b] - reference[b]).abs())
                })
                .unwrap();
            eprintln!(
                "DEBUG {name} idx {k} row {} got {} want {}",
                k / 32,
                values[k],
                reference[k]
            );
        }
        assert!(
            d <= 1e-4 * scale,
            "{name}: max |Δgrad| {d:e} > 1e-4 · {scale:e}"
        );
    }
}

#[test]
fn save_and_reload_round_trip_is_exact() {
    let device = Default::default();
    let enc =
        BiEncoder::<B>::load_with(&tiny_dir(), tiny_options(Pooling::Cls, true), &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    enc.save(dir.path()).unwrap();
    let again = BiEncoder::<B>::load(dir.path(), &device).unwrap();
    assert_eq!(again.options, enc.options);
    let texts = [
        "a query about BM25",
        "",
        "second text, longer than the first one",
    ];
    let a: Vec<f32> = enc
        .embed(Side::Query, &texts, &device)
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    let b: Vec<f32> = again
        .embed(Side::Query, &texts, &device)
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    assert_eq!(a, b);
    // The saved tensors are the original ones, bit for bit, under the original names.
    let orig = std::fs::read(tiny_dir().join("model.safetensors")).unwrap();
    let orig = safetensors::SafeTensors::deserialize(&orig).unwrap();
    let saved = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let saved = safetensors::SafeTensors::deserialize(&saved).unwrap();
    let mut names = orig.names();
    names.sort();
    let mut saved_names = saved.names();
    saved_names.sort();
    assert_eq!(names, saved_names);
    for name in names {
        assert_eq!(
            orig.tensor(name).unwrap().data(),
            saved.tensor(name).unwrap().data(),
            "{name}"
        );
    }
    // sentence-transformers metadata
    let modules = json(&dir.path().join("modules.json"));
    assert!(modules.to_string().contains("models.Normalize"));
    assert_eq!(
        json(&dir.path().join("1_Pooling/config.json"))["pooling_mode_cls_token"],
        true
    );
    // What `AutoTokenizer` needs to truncate: the model's length and the special tokens (the
    // tiny model has no tokenizer_config.json of its own: they come from tokenizer.json).
    let tokenizer = json(&dir.path().join("tokenizer_config.json"));
    assert_eq!(
        tokenizer["model_max_length"],
        enc.config.max_position_embeddings
    );
    assert_eq!(
        (
            tokenizer["cls_token"].as_str(),
            tokenizer["pad_token"].as_str()
        ),
        (Some("[CLS]"), Some("[PAD]"))
    );
    let st = json(&dir.path().join("config_sentence_transformers.json"));
    assert_eq!(
        (
            st["prompts"].as_object().map(|p| p.len()),
            st["similarity_fn_name"].as_str()
        ),
        (Some(0), Some("cosine"))
    );
    assert_eq!(
        json(&dir.path().join("sentence_bert_config.json"))["max_seq_length"],
        128
    );
}

#[test]
fn an_export_keeps_the_prefixes_as_prompts_and_a_source_tokenizer_config() {
    let device = Default::default();
    let mut options = tiny_options(Pooling::Mean, false);
    options.query_prefix = "query: ".into();
    options.passage_prefix = "passage: ".into();
    let enc = BiEncoder::<B>::load_with(&tiny_dir(), options, &device).unwrap();
    let first = tempfile::tempdir().unwrap();
    enc.save(first.path()).unwrap();
    let st = json(&first.path().join("config_sentence_transformers.json"));
    assert_eq!(st["prompts"]["query"], "query: ");
    assert_eq!(st["prompts"]["document"], "passage: ");
    assert_eq!(st["similarity_fn_name"], "dot");
    // Saved again from the export, its own tokenizer_config.json is kept, with the length capped
    // at the model's positions.
    let mut config = json(&first.path().join("tokenizer_config.json"));
    config["model_max_length"] = serde_json::json!(1_000_000);
    config["do_lower_case"] = serde_json::json!(true);
    std::fs::write(
        first.path().join("tokenizer_config.json"),
        config.to_string(),
    )
    .unwrap();
    let second = tempfile::tempdir().unwrap();
    BiEncoder::<B>::load(first.path(), &device)
        .unwrap()
        .save(second.path())
        .unwrap();
    let config = json(&second.path().join("tokenizer_config.json"));
    assert_eq!(
        config["model_max_length"],
        enc.config.max_position_embeddings
    );
    assert_eq!(config["do_lower_case"], true);
}
