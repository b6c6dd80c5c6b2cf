"""Checks that a model folder exported by rankwise loads in Hugging Face `transformers` and in
sentence-transformers, and that both give rankwise's embeddings.

Usage:
    experiments embed --model EXPORT --output q.json "a query" ...
    experiments embed --model EXPORT --passage --output p.json "a passage" ...
    python scripts/check_export.py EXPORT q.json p.json

Checks (a JSON report on stdout; exit status 1 when one fails):
  1. `AutoTokenizer`: a 2,000-word text with `truncation=True` is cut to `model_max_length`,
     which is at most the model's `max_position_embeddings`.
  2. `AutoModel` runs on that text.
  3. `AutoModel` + the export's pooling (and normalisation) gives rankwise's embeddings of each
     file's texts, with the side's prefix (the prompt in `config_sentence_transformers.json`) and
     the side's length (`rankwise.json`).
  4. `SentenceTransformer(EXPORT)` gives the same embeddings (the side's prompt by name).
Embeddings agree when the largest absolute difference is below 1e-4 (f32 on both sides).
"""

import json
import os
import sys
from pathlib import Path

# A local folder: never ask the Hub about it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoConfig, AutoModel, AutoTokenizer

TOLERANCE = 1e-4


def pooled(model, tokenizer, texts, max_length, pooling, normalize):
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    if pooling["pooling_mode_cls_token"]:
        out = hidden[:, 0]
    elif pooling["pooling_mode_mean_tokens"]:
        out = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    else:
        raise SystemExit(f"pooling not covered by this check: {pooling}")
    if normalize:
        out = torch.nn.functional.normalize(out, dim=-1)
    return out.numpy()


def main(folder, *embedding_files):
    folder = Path(folder).resolve()
    report = {"model": str(folder), "checks": []}

    def check(name, ok, **detail):
        report["checks"].append({"check": name, "passed": bool(ok), **detail})

    config = AutoConfig.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    long_text = " ".join(f"word{i % 97} text" for i in range(1000))  # 2,000 words
    ids = tokenizer(long_text, truncation=True)["input_ids"]
    check(
        "AutoTokenizer truncates a 2,000-word text to the model's length",
        len(ids) == tokenizer.model_max_length <= config.max_position_embeddings,
        tokens=len(ids),
        model_max_length=tokenizer.model_max_length,
        max_position_embeddings=config.max_position_embeddings,
    )
    model = AutoModel.from_pretrained(folder).eval()
    try:
        with torch.no_grad():
            out = model(**tokenizer(long_text, truncation=True, return_tensors="pt"))
        check("AutoModel runs on the 2,000-word text", True, shape=list(out.last_hidden_state.shape))
    except Exception as e:  # noqa: BLE001 - the failure is the result
        check("AutoModel runs on the 2,000-word text", False, error=str(e))

    pooling = json.loads((folder / "1_Pooling/config.json").read_text())
    modules = json.loads((folder / "modules.json").read_text())
    normalize = any(m["type"].endswith("Normalize") for m in modules)
    st_config = json.loads((folder / "config_sentence_transformers.json").read_text())
    lengths = json.loads((folder / "rankwise.json").read_text())
    prompts = st_config.get("prompts", {})
    st = SentenceTransformer(str(folder), device="cpu")
    for path in embedding_files:
        data = json.loads(Path(path).read_text())
        prompt_name = "query" if data["side"] == "query" else "document"
        prefix = prompts.get(prompt_name, "")
        want = np.asarray(data["embeddings"], dtype=np.float32)
        length = lengths[f"{data['side']}_max_length"]
        got = pooled(model, tokenizer, [prefix + t for t in data["texts"]], length, pooling, normalize)
        diff = float(np.abs(got - want).max())
        check(f"transformers embeds the {data['side']} texts as rankwise", diff < TOLERANCE, max_abs_diff=diff)
        kwargs = {"prompt_name": prompt_name} if prompt_name in prompts else {}
        got = st.encode(data["texts"], convert_to_numpy=True, **kwargs)
        diff = float(np.abs(got - want).max())
        check(f"sentence-transformers embeds the {data['side']} texts as rankwise", diff < TOLERANCE, max_abs_diff=diff)
    report["passed"] = all(c["passed"] for c in report["checks"])
    print(json.dumps(report, indent=2))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    sys.exit(main(*sys.argv[1:]))
