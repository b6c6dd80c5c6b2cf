//! Reading and writing BERT weights in the Hugging Face safetensors layout.
//!
//! Keys may carry a `bert.` prefix and LayerNorm parameters may be named `gamma`/`beta`; the
//! `embeddings.position_ids` buffer and task heads (`cls.*`) are ignored. Anything else that is
//! missing, unexpected or mis-shaped is an error naming the file and key. HF stores Linear
//! weights `[out, in]`; Burn's `Linear` is `[in, out]`, so they are transposed on the way in and
//! out.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Tensor, TensorData, backend::Backend};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::bert::{Bert, BertAttention, BertEmbeddings, BertLayer};
use crate::{BertConfig, EncoderError};

/// Tensors of a safetensors file, by normalised key, as f32.
pub struct WeightStore {
    path: PathBuf,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    /// `"bert."` when the file's keys carried that prefix.
    pub prefix: String,
}

/// Normalises a key: strips `bert.` and renames LayerNorm `gamma`/`beta`.
fn normalise(key: &str) -> (String, bool) {
    let (stripped, had_prefix) = match key.strip_prefix("bert.") {
        Some(rest) => (rest, true),
        None => (key, false),
    };
    let mut k = stripped.to_string();
    if k.contains("LayerNorm.") {
        if let Some(base) = k.strip_suffix(".gamma") {
            k = format!("{base}.weight");
        } else if let Some(base) = k.strip_suffix(".beta") {
            k = format!("{base}.bias");
        }
    }
    (k, had_prefix)
}

fn to_f32(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let bytes = view.data();
    Some(match view.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| burn::tensor::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| burn::tensor::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        _ => return None,
    })
}

impl WeightStore {
    /// Reads every tensor of `path`.
    pub fn load(path: &Path) -> Result<Self, EncoderError> {
        let bytes = std::fs::read(path).map_err(|e| EncoderError::io(path, e))?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| {
            EncoderError::weights(
                path,
                "<header>",
                format!("not a valid safetensors file: {e}"),
            )
        })?;
        let mut tensors = HashMap::new();
        let mut prefixed = false;
        for (name, view) in file.iter() {
            let (key, had_prefix) = normalise(name);
            prefixed |= had_prefix;
            if key == "embeddings.position_ids" {
                continue;
            }
            let values = to_f32(&view).ok_or_else(|| {
                EncoderError::weights(
                    path,
                    name,
                    format!(
                        "unsupported dtype {:?} (supported: F32, F64, F16, BF16)",
                        view.dtype()
                    ),
                )
            })?;
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(EncoderError::weights(
                    path,
                    name,
                    format!("value {} at flat index {i} is not finite", values[i]),
                ));
            }
            if tensors
                .insert(key.clone(), (view.shape().to_vec(), values))
                .is_some()
            {
                return Err(EncoderError::weights(
                    path,
                    name,
                    "present twice (with and without `bert.` prefix)",
                ));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            tensors,
            prefix: if prefixed {
                "bert.".into()
            } else {
                String::new()
            },
        })
    }

    fn take(&mut self, key: &str, shape: &[usize]) -> Result<Vec<f32>, EncoderError> {
        let (got, values) = self.tensors.remove(key).ok_or_else(|| {
            EncoderError::weights(&self.path, format!("{}{key}", self.prefix), "missing")
        })?;
        if got != shape {
            return Err(EncoderError::weights(
                &self.path,
                format!("{}{key}", self.prefix),
                format!("shape {got:?}, expected {shape:?} from config.json"),
            ));
        }
        Ok(values)
    }

    fn tensor<B: Backend, const D: usize>(
        &mut self,
        key: &str,
        shape: [usize; D],
        device: &B::Device,
    ) -> Result<Tensor<B, D>, EncoderError> {
        let values = self.take(key, &shape)?;
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    fn linear<B: Backend>(
        &mut self,
        key: &str,
        d_in: usize,
        d_out: usize,
        device: &B::Device,
    ) -> Result<Linear<B>, EncoderError> {
        let weight = self
            .tensor::<B, 2>(&format!("{key}.weight"), [d_out, d_in], device)?
            .transpose();
        let bias = self.tensor::<B, 1>(&format!("{key}.bias"), [d_out], device)?;
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias: Some(Param::from_tensor(bias)),
        })
    }

    fn layer_norm<B: Backend>(
        &mut self,
        key: &str,
        config: &BertConfig,
        device: &B::Device,
    ) -> Result<LayerNorm<B>, EncoderError> {
        let h = config.hidden_size;
        let mut norm = LayerNormConfig::new(h)
            .with_epsilon(config.layer_norm_eps)
            .init(device);
        norm.gamma = Param::from_tensor(self.tensor(&format!("{key}.weight"), [h], device)?);
        norm.beta = Some(Param::from_tensor(self.tensor(
            &format!("{key}.bias"),
            [h],
            device,
        )?));
        Ok(norm)
    }

    fn embedding<B: Backend>(
        &mut self,
        key: &str,
        rows: usize,
        h: usize,
        device: &B::Device,
    ) -> Result<Embedding<B>, EncoderError> {
        Ok(Embedding {
            weight: Param::from_tensor(self.tensor(&format!("{key}.weight"), [rows, h], device)?),
        })
    }

    /// Builds the encoder from the stored tensors, consuming them; fails on anything missing,
    /// mis-shaped or left over.
    pub fn into_bert<B: Backend>(
        mut self,
        config: &BertConfig,
        device: &B::Device,
    ) -> Result<Bert<B>, EncoderError> {
        let h = config.hidden_size;
        let embeddings = BertEmbeddings {
            word: self.embedding("embeddings.word_embeddings", config.vocab_size, h, device)?,
            position: self.embedding(
                "embeddings.position_embeddings",
                config.max_position_embeddings,
                h,
                device,
            )?,
            token_type: self.embedding(
                "embeddings.token_type_embeddings",
                config.type_vocab_size,
                h,
                device,
            )?,
            norm: self.layer_norm("embeddings.LayerNorm", config, device)?,
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            layers.push(BertLayer {
                attention: BertAttention {
                    query: self.linear(&format!("{p}.attention.self.query"), h, h, device)?,
                    key: self.linear(&format!("{p}.attention.self.key"), h, h, device)?,
                    value: self.linear(&format!("{p}.attention.self.value"), h, h, device)?,
                    output: self.linear(&format!("{p}.attention.output.dense"), h, h, device)?,
                    norm: self.layer_norm(
                        &format!("{p}.attention.output.LayerNorm"),
                        config,
                        device,
                    )?,
                    heads: config.num_attention_heads,
                },
                intermediate: self.linear(
                    &format!("{p}.intermediate.dense"),
                    h,
                    config.intermediate_size,
                    device,
                )?,
                output: self.linear(
                    &format!("{p}.output.dense"),
                    config.intermediate_size,
                    h,
                    device,
                )?,
                norm: self.layer_norm(&format!("{p}.output.LayerNorm"), config, device)?,
            });
        }
        let pooler = if self.tensors.contains_key("pooler.dense.weight") {
            Some(self.linear("pooler.dense", h, h, device)?)
        } else {
            None
        };
        let mut extra: Vec<&String> = self
            .tensors
            .keys()
            .filter(|k| !k.starts_with("cls."))
            .collect();
        extra.sort();
        if let Some(key) = extra.first() {
            return Err(EncoderError::weights(
                &self.path,
                format!("{}{key}", self.prefix),
                format!(
                    "unexpected tensor ({} unexpected in all); config.json declares {} layers",
                    extra.len(),
                    config.num_hidden_layers
                ),
            ));
        }
        Ok(Bert {
            embeddings,
            layers,
            pooler,
        })
    }
}

/// Every parameter of `bert` under its Hugging Face name, as `(shape, f32 values)`, Linear
/// weights transposed back to `[out, in]`.
pub fn hf_tensors<B: Backend>(
    bert: &Bert<B>,
    prefix: &str,
) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    fn put<B: Backend, const D: usize>(
        out: &mut BTreeMap<String, (Vec<usize>, Vec<f32>)>,
        key: String,
        t: Tensor<B, D>,
    ) {
        let shape = t.dims().to_vec();
        let values = t
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .expect("f32 data");
        out.insert(key, (shape, values));
    }
    fn linear<B: Backend>(
        out: &mut BTreeMap<String, (Vec<usize>, Vec<f32>)>,
        key: String,
        l: &Linear<B>,
    ) {
        put(out, format!("{key}.weight"), l.weight.val().transpose());
        if let Some(b) = &l.bias {
            put(out, format!("{key}.bias"), b.val());
        }
    }
    fn norm<B: Backend>(
        out: &mut BTreeMap<String, (Vec<usize>, Vec<f32>)>,
        key: String,
        n: &LayerNorm<B>,
    ) {
        put(out, format!("{key}.weight"), n.gamma.val());
        if let Some(b) = &n.beta {
            put(out, format!("{key}.bias"), b.val());
        }
    }
    let mut out = BTreeMap::new();
    let e = &bert.embeddings;
    put(
        &mut out,
        format!("{prefix}embeddings.word_embeddings.weight"),
        e.word.weight.val(),
    );
    put(
        &mut out,
        format!("{prefix}embeddings.position_embeddings.weight"),
        e.position.weight.val(),
    );
    put(
        &mut out,
        format!("{prefix}embeddings.token_type_embeddings.weight"),
        e.token_type.weight.val(),
    );
    norm(&mut out, format!("{prefix}embeddings.LayerNorm"), &e.norm);
    for (l, layer) in bert.layers.iter().enumerate() {
        let p = format!("{prefix}encoder.layer.{l}");
        let a = &layer.attention;
        linear(&mut out, format!("{p}.attention.self.query"), &a.query);
        linear(&mut out, format!("{p}.attention.self.key"), &a.key);
        linear(&mut out, format!("{p}.attention.self.value"), &a.value);
        linear(&mut out, format!("{p}.attention.output.dense"), &a.output);
        norm(&mut out, format!("{p}.attention.output.LayerNorm"), &a.norm);
        linear(
            &mut out,
            format!("{p}.intermediate.dense"),
            &layer.intermediate,
        );
        linear(&mut out, format!("{p}.output.dense"), &layer.output);
        norm(&mut out, format!("{p}.output.LayerNorm"), &layer.norm);
    }
    if let Some(pooler) = &bert.pooler {
        linear(&mut out, format!("{prefix}pooler.dense"), pooler);
    }
    out
}

/// Writes `bert` as `model.safetensors` (f32, HF key names, metadata `format = pt`), atomically.
pub fn save_safetensors<B: Backend>(
    bert: &Bert<B>,
    prefix: &str,
    path: &Path,
) -> Result<(), EncoderError> {
    let tensors = hf_tensors(bert, prefix);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(k, (shape, values))| {
            (
                k,
                shape,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(k, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (k.clone(), v))
                .map_err(|e| EncoderError::weights(path, k, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| EncoderError::weights(path, "<file>", e.to_string()))?;
    Ok(rankwise_files::write_atomic(path, &bytes)?)
}
