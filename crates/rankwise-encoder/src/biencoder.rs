//! The bi-encoder: query and passage towers (shared by default), pooling, prefixes, and
//! loading/saving a Hugging Face / sentence-transformers folder.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bert::Bert;
use crate::dropout::Dropout;
use crate::ops::EncoderBackend;
use crate::precision::Precision;
use crate::tokenize::{TextTokenizer, TokenBatch};
use crate::weights::{WeightStore, save_safetensors};
use crate::{BertConfig, EncoderError, Pooling, pool};

/// Bi-encoder settings. [`EncoderOptions::detect`] reads them from a sentence-transformers
/// folder; anything it cannot find keeps the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EncoderOptions {
    /// Pooling of token states.
    pub pooling: Pooling,
    /// L2-normalise embeddings.
    pub normalize: bool,
    /// Query truncation length in tokens.
    pub query_max_length: usize,
    /// Passage truncation length in tokens.
    pub passage_max_length: usize,
    /// Text put before every query (E5: `"query: "`, BGE: its instruction).
    pub query_prefix: String,
    /// Text put before every passage (E5: `"passage: "`).
    pub passage_prefix: String,
    /// One tower for queries and passages (the paper's setting) or two.
    pub shared_towers: bool,
    /// Precision of the projections' matrix products (a run setting, not saved with the
    /// model): weights stay `f32` and are cast for the product, as in mixed-precision training.
    #[serde(skip)]
    pub precision: Precision,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            pooling: Pooling::Mean,
            normalize: false,
            query_max_length: 256,
            passage_max_length: 256,
            query_prefix: String::new(),
            passage_prefix: String::new(),
            shared_towers: true,
            precision: Precision::F32,
        }
    }
}

fn read_json(path: &Path) -> Result<Option<Value>, EncoderError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| EncoderError::io(path, e))?;
    serde_json::from_str(crate::strip_bom(&text))
        .map(Some)
        .map_err(|e| EncoderError::config(path, "<document>", format!("invalid JSON: {e}")))
}

impl EncoderOptions {
    /// Options of a model folder: `rankwise.json` when we wrote it, else sentence-transformers'
    /// `modules.json`, `1_Pooling/config.json` and `sentence_bert_config.json`.
    pub fn detect(folder: &Path) -> Result<Self, EncoderError> {
        let ours = folder.join("rankwise.json");
        if let Some(v) = read_json(&ours)? {
            return serde_json::from_value(v)
                .map_err(|e| EncoderError::config(&ours, "<document>", e.to_string()));
        }
        let mut options = Self::default();
        let modules_path = folder.join("modules.json");
        if let Some(modules) = read_json(&modules_path)? {
            let list = modules.as_array().ok_or_else(|| {
                EncoderError::config(&modules_path, "<document>", "expected a list of modules")
            })?;
            for module in list {
                let kind = module
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let sub = module
                    .get("path")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if kind.ends_with("models.Normalize") {
                    options.normalize = true;
                } else if kind.ends_with("models.Pooling") {
                    options.pooling = pooling_from(&folder.join(sub).join("config.json"))?;
                }
            }
        }
        let sbert = folder.join("sentence_bert_config.json");
        if let Some(v) = read_json(&sbert)?
            && let Some(len) = v.get("max_seq_length")
        {
            let len = len.as_u64().filter(|&l| l > 0).ok_or_else(|| {
                EncoderError::config(
                    &sbert,
                    "max_seq_length",
                    format!("expected a positive integer, got {len}"),
                )
            })?;
            options.query_max_length = len as usize;
            options.passage_max_length = len as usize;
        }
        Ok(options)
    }
}

fn pooling_from(path: &Path) -> Result<Pooling, EncoderError> {
    let Some(v) = read_json(path)? else {
        return Ok(Pooling::Mean);
    };
    let on = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    match (
        on("pooling_mode_cls_token"),
        on("pooling_mode_mean_tokens"),
        on("pooling_mode_lasttoken"),
    ) {
        (true, false, false) => Ok(Pooling::Cls),
        (false, true, false) => Ok(Pooling::Mean),
        (false, false, true) => Ok(Pooling::Last),
        _ => Err(EncoderError::config(
            path,
            "pooling_mode_*",
            "exactly one of pooling_mode_cls_token, pooling_mode_mean_tokens, pooling_mode_lasttoken must be true (max and sqrt-len pooling are not supported)",
        )),
    }
}

/// The trainable part of a bi-encoder.
#[derive(Module, Debug)]
pub struct BiEncoderModel<B: Backend> {
    /// The query tower (also the passage tower when shared).
    pub query: Bert<B>,
    /// A separate passage tower, when towers are not shared.
    pub passage: Option<Bert<B>>,
}

/// Which side of the bi-encoder a text is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Queries.
    Query,
    /// Passages.
    Passage,
}

/// A bi-encoder with its tokenizers and settings.
#[derive(Debug)]
pub struct BiEncoder<B: Backend> {
    /// Weights.
    pub model: BiEncoderModel<B>,
    /// Architecture.
    pub config: BertConfig,
    /// Settings.
    pub options: EncoderOptions,
    tokenizer_file: PathBuf,
    query_tokenizer: TextTokenizer,
    passage_tokenizer: TextTokenizer,
    weight_prefix: String,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TextTokenizer({}, max_length={})",
            self.path().display(),
            self.max_length()
        )
    }
}

impl<B: Backend> BiEncoder<B> {
    /// Loads a Hugging Face folder (`config.json`, `model.safetensors`, `tokenizer.json`),
    /// with options detected from the folder ([`EncoderOptions::detect`]).
    pub fn load(folder: &Path, device: &B::Device) -> Result<Self, EncoderError> {
        Self::load_with(folder, EncoderOptions::detect(folder)?, device)
    }

    /// Loads a folder with explicit options. With `shared_towers = false` both towers start
    /// from the same weights (or from `passage/model.safetensors` when the folder has one).
    pub fn load_with(
        folder: &Path,
        options: EncoderOptions,
        device: &B::Device,
    ) -> Result<Self, EncoderError> {
        let config_file = folder.join("config.json");
        let config = BertConfig::load(&config_file)?;
        config.check_length(&config_file, "query_max_length", options.query_max_length)?;
        config.check_length(
            &config_file,
            "passage_max_length",
            options.passage_max_length,
        )?;
        let store = WeightStore::load(&folder.join("model.safetensors"))?;
        let weight_prefix = store.prefix.clone();
        let query = store.into_bert::<B>(&config, device)?;
        let passage = if options.shared_towers {
            None
        } else {
            let separate = folder.join("passage/model.safetensors");
            Some(if separate.exists() {
                WeightStore::load(&separate)?.into_bert::<B>(&config, device)?
            } else {
                query.clone()
            })
        };
        let tokenizer_file = folder.join("tokenizer.json");
        Ok(Self {
            query_tokenizer: TextTokenizer::load(&tokenizer_file, options.query_max_length)?,
            passage_tokenizer: TextTokenizer::load(&tokenizer_file, options.passage_max_length)?,
            tokenizer_file,
            model: BiEncoderModel { query, passage },
            config,
            options,
            weight_prefix,
        })
    }

    /// The same encoder (tokenizers, settings) around other weights, possibly on another
    /// backend: a training copy, or the inference view of an `Autodiff` model.
    pub fn with_model<B2: Backend>(&self, model: BiEncoderModel<B2>) -> BiEncoder<B2> {
        BiEncoder {
            model,
            config: self.config.clone(),
            options: self.options.clone(),
            tokenizer_file: self.tokenizer_file.clone(),
            query_tokenizer: self.query_tokenizer.clone(),
            passage_tokenizer: self.passage_tokenizer.clone(),
            weight_prefix: self.weight_prefix.clone(),
        }
    }

    /// The tokenizer of one side.
    pub fn tokenizer(&self, side: Side) -> &TextTokenizer {
        match side {
            Side::Query => &self.query_tokenizer,
            Side::Passage => &self.passage_tokenizer,
        }
    }

    /// Texts with the side's prefix.
    pub fn with_prefix(&self, side: Side, texts: &[&str]) -> Vec<String> {
        let prefix = match side {
            Side::Query => &self.options.query_prefix,
            Side::Passage => &self.options.passage_prefix,
        };
        texts.iter().map(|t| format!("{prefix}{t}")).collect()
    }

    /// Tokenises texts of one side (prefix added).
    pub fn tokenize(&self, side: Side, texts: &[&str]) -> Result<TokenBatch, EncoderError> {
        let texts = self.with_prefix(side, texts);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.tokenizer(side).encode(&refs)
    }
}

/// Running the towers needs the encoder's fused blocks ([`EncoderBackend`]).
impl<B: EncoderBackend> BiEncoder<B> {
    /// Differentiable embeddings `[batch, h]` of an already tokenised batch.
    pub fn forward(
        model: &BiEncoderModel<B>,
        options: &EncoderOptions,
        side: Side,
        batch: &TokenBatch,
        device: &B::Device,
    ) -> Tensor<B, 2> {
        Self::forward_dropout(model, options, side, batch, device, None)
    }

    /// [`BiEncoder::forward`] with training-time dropout (one key per sequence of `batch`).
    pub fn forward_dropout(
        model: &BiEncoderModel<B>,
        options: &EncoderOptions,
        side: Side,
        batch: &TokenBatch,
        device: &B::Device,
        dropout: Option<&Dropout>,
    ) -> Tensor<B, 2> {
        let tower = match (side, &model.passage) {
            (Side::Passage, Some(p)) => p,
            _ => &model.query,
        };
        let (ids, types, mask) = batch.to_tensors::<B>(device);
        let hidden = tower.forward_with(ids, types, mask.clone(), options.precision, dropout);
        pool(hidden, mask, options.pooling, options.normalize)
    }

    /// Embeddings `[texts, h]` of texts on one side, one batch.
    pub fn embed(
        &self,
        side: Side,
        texts: &[&str],
        device: &B::Device,
    ) -> Result<Tensor<B, 2>, EncoderError> {
        let batch = self.tokenize(side, texts)?;
        Ok(Self::forward(
            &self.model,
            &self.options,
            side,
            &batch,
            device,
        ))
    }

    /// Embeddings of many texts, in input order, computed in batches of texts of similar
    /// length (less padding). Returns row-major `[texts.len(), h]` f32 values.
    pub fn embed_sorted(
        &self,
        side: Side,
        texts: &[&str],
        batch_size: usize,
        device: &B::Device,
        progress: impl FnMut(usize),
    ) -> Result<Vec<f32>, EncoderError> {
        self.embed_sorted_parallel(side, texts, batch_size, 1, device, progress)
    }

    /// [`BiEncoder::embed_sorted`] with `workers` threads each running whole batches. On CPU
    /// backends whose single matrix products do not use every core this multiplies throughput;
    /// GPU backends want `workers = 1`.
    pub fn embed_sorted_parallel(
        &self,
        side: Side,
        texts: &[&str],
        batch_size: usize,
        workers: usize,
        device: &B::Device,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<f32>, EncoderError> {
        let h = self.config.hidden_size;
        let prefixed = self.with_prefix(side, texts);
        let refs: Vec<&str> = prefixed.iter().map(String::as_str).collect();
        let tokenizer = self.tokenizer(side);
        let encodings = tokenizer.encodings(&refs)?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
        let chunks: Vec<&[usize]> = order.chunks(batch_size.max(1)).collect();
        let mut out = vec![0f32; texts.len() * h];
        let run = |chunk: &[usize]| -> Vec<f32> {
            let items: Vec<&tokenizers::Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            let batch = tokenizer.pad(&items);
            let emb = Self::forward(&self.model, &self.options, side, &batch, device);
            emb.into_data()
                .convert::<f32>()
                .into_vec::<f32>()
                .expect("f32 embeddings")
        };
        let mut place = |chunk: &[usize], values: &[f32]| {
            for (row, &i) in chunk.iter().enumerate() {
                out[i * h..(i + 1) * h].copy_from_slice(&values[row * h..(row + 1) * h]);
            }
        };
        if workers <= 1 || chunks.len() <= 1 {
            for chunk in &chunks {
                let values = run(chunk);
                place(chunk, &values);
                progress(chunk.len());
            }
            return Ok(out);
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<f32>)>();
        std::thread::scope(|scope| {
            for _ in 0..workers.min(chunks.len()) {
                let tx = tx.clone();
                let (next, chunks, run) = (&next, &chunks, &run);
                scope.spawn(move || {
                    loop {
                        let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if c >= chunks.len() || tx.send((c, run(chunks[c]))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            for (c, values) in rx {
                place(chunks[c], &values);
                progress(chunks[c].len());
            }
        });
        Ok(out)
    }
}

impl<B: Backend> BiEncoder<B> {
    /// Writes a folder that Hugging Face `transformers` and sentence-transformers load:
    /// `config.json`, `model.safetensors` (original key names), the tokenizer (`tokenizer.json`,
    /// and `vocab.txt` / `special_tokens_map.json` when the source has them), a
    /// `tokenizer_config.json` whose `model_max_length` makes `AutoTokenizer` truncate to what
    /// the model can read, `modules.json`, `1_Pooling/config.json`, `sentence_bert_config.json`
    /// (`max_seq_length` = the passage length), `config_sentence_transformers.json` (the query and
    /// passage prefixes as prompts `query` and `document`, the similarity), and our
    /// `rankwise.json` (all options, the query length included: sentence-transformers has one
    /// length for both sides, so a query longer than the query length is cut later there). Each
    /// file is written to a temporary name and renamed.
    pub fn save(&self, folder: &Path) -> Result<(), EncoderError> {
        let mkdir = |p: &Path| std::fs::create_dir_all(p).map_err(|e| EncoderError::io(p, e));
        mkdir(folder)?;
        mkdir(&folder.join("1_Pooling"))?;
        let write = |path: PathBuf, value: &Value| -> Result<(), EncoderError> {
            let text = serde_json::to_string_pretty(value).expect("serialisable");
            Ok(rankwise_files::write_atomic(&path, text.as_bytes())?)
        };
        write(
            folder.join("config.json"),
            &Value::Object(self.config.raw.clone()),
        )?;
        save_safetensors(
            &self.model.query,
            &self.weight_prefix,
            &folder.join("model.safetensors"),
        )?;
        if let Some(passage) = &self.model.passage {
            mkdir(&folder.join("passage"))?;
            save_safetensors(
                passage,
                &self.weight_prefix,
                &folder.join("passage/model.safetensors"),
            )?;
        }
        let source = self.tokenizer_file.parent().unwrap_or(Path::new("."));
        for name in TOKENIZER_FILES_COPIED {
            let (from, to) = (source.join(name), folder.join(name));
            if from.is_file() && from != to {
                let bytes = std::fs::read(&from).map_err(|e| EncoderError::io(&from, e))?;
                rankwise_files::write_atomic(&to, &bytes)?;
            }
        }
        write(
            folder.join("tokenizer_config.json"),
            &tokenizer_config(source, &self.tokenizer_file, &self.config)?,
        )?;
        let mut modules = vec![
            json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
            json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
        ];
        if self.options.normalize {
            modules.push(json!({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}));
        }
        write(folder.join("modules.json"), &Value::Array(modules))?;
        let p = self.options.pooling;
        write(
            folder.join("1_Pooling/config.json"),
            &json!({
                "word_embedding_dimension": self.config.hidden_size,
                "pooling_mode_cls_token": p == Pooling::Cls,
                "pooling_mode_mean_tokens": p == Pooling::Mean,
                "pooling_mode_max_tokens": false,
                "pooling_mode_mean_sqrt_len_tokens": false,
                "pooling_mode_lasttoken": p == Pooling::Last,
            }),
        )?;
        write(
            folder.join("sentence_bert_config.json"),
            &json!({"max_seq_length": self.options.passage_max_length, "do_lower_case": false}),
        )?;
        write(
            folder.join("config_sentence_transformers.json"),
            &sentence_transformers_config(&self.options),
        )?;
        write(
            folder.join("rankwise.json"),
            &serde_json::to_value(&self.options).expect("serialisable"),
        )
    }
}

/// Tokenizer files copied from the source folder into an export when it has them.
const TOKENIZER_FILES_COPIED: [&str; 3] =
    ["tokenizer.json", "vocab.txt", "special_tokens_map.json"];

/// The special tokens `transformers` looks up by these names, and the spellings BERT-family
/// vocabularies give them.
const SPECIAL_TOKENS: [(&str, [&str; 2]); 5] = [
    ("cls_token", ["[CLS]", "<s>"]),
    ("sep_token", ["[SEP]", "</s>"]),
    ("pad_token", ["[PAD]", "<pad>"]),
    ("unk_token", ["[UNK]", "<unk>"]),
    ("mask_token", ["[MASK]", "<mask>"]),
];

/// The export's `tokenizer_config.json`: the source's own when it has one, else the special
/// tokens found among `tokenizer.json`'s added tokens; in both, `model_max_length` is at most the
/// model's positions, so `AutoTokenizer(..., truncation=True)` cuts what the model cannot read.
fn tokenizer_config(
    source: &Path,
    tokenizer_file: &Path,
    config: &BertConfig,
) -> Result<Value, EncoderError> {
    let own = source.join("tokenizer_config.json");
    let mut map = match read_json(&own)? {
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(EncoderError::config(
                &own,
                "<document>",
                "not a JSON object",
            ));
        }
        None => {
            let mut map = serde_json::Map::new();
            let tokens = read_json(tokenizer_file)?.unwrap_or(Value::Null);
            let added: Vec<&str> = tokens["added_tokens"]
                .as_array()
                .map(|a| a.iter().filter_map(|t| t["content"].as_str()).collect())
                .unwrap_or_default();
            for (key, spellings) in SPECIAL_TOKENS {
                if let Some(token) = spellings.iter().find(|s| added.contains(s)) {
                    map.insert(key.into(), json!(token));
                }
            }
            map
        }
    };
    let positions = config.max_position_embeddings;
    let length = map
        .get("model_max_length")
        .and_then(Value::as_u64)
        .map_or(positions, |l| (l as usize).min(positions));
    map.insert("model_max_length".into(), json!(length));
    Ok(Value::Object(map))
}

/// sentence-transformers' `config_sentence_transformers.json`: the prefixes as prompts (`query`,
/// and `document` for passages, the names `encode_query` / `encode_document` look for) and the
/// similarity rankwise scores with (the dot product; equal to cosine on unit-norm embeddings).
fn sentence_transformers_config(options: &EncoderOptions) -> Value {
    let mut prompts = serde_json::Map::new();
    for (name, prefix) in [
        ("query", &options.query_prefix),
        ("document", &options.passage_prefix),
    ] {
        if !prefix.is_empty() {
            prompts.insert(name.into(), json!(prefix));
        }
    }
    json!({
        "__version__": {"rankwise": env!("CARGO_PKG_VERSION")},
        "prompts": prompts,
        "default_prompt_name": null,
        "similarity_fn_name": if options.normalize { "cosine" } else { "dot" },
    })
}
