"""PyTorch side of the GPU check (see BENCHMARKS.md, "Running the GPU check").

    torch_baselines.py info OUT_JSON                 device, driver, CUDA, NVRTC and library versions
    torch_baselines.py models WORK TOKENIZER_JSON    random BERT-base and MiniLM-shaped models
    torch_baselines.py ws2-speed OUT_JSON            the paper's WS2 (eigvals in float64, autograd)
    torch_baselines.py train-step WORK OUT_JSON      one WS2 training step, BERT-base, f32 and bf16
    torch_baselines.py encode WORK OUT_JSON          sentence-transformers encoding, MiniLM-shaped

Timings use the same shapes, texts and settings as the matching stage of `gpu-check`, on the
same GPU, with the device synchronised before every clock read. For a dry run without a GPU,
GPU_CHECK_TORCH_DEVICE=cpu runs on the CPU and GPU_CHECK_SMOKE=1 shrinks every shape to the
smoke sizes of `gpu-check --smoke` (the numbers then mean nothing). Output files hold
{"timings": [{"name", "value", "unit", "lower_is_better", "extra"}], "notes": [...]}, the
format `gpu-check report` joins.
"""
import ctypes
import json
import os
import subprocess
import sys
import time


# The SyCL training script's WS2 (eigvals of A·Aᵀ in float64, autograd), on any device.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench_ws2_torch import ws2  # noqa: E402

DEVICE = os.environ.get("GPU_CHECK_TORCH_DEVICE", "cuda")
SMOKE = os.environ.get("GPU_CHECK_SMOKE") == "1"


def sync():
    import torch
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def write(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def timing(name, value, unit, lower_is_better, **extra):
    return {"name": name, "value": value, "unit": unit, "lower_is_better": lower_is_better,
            "extra": extra}


def info(out):
    import torch
    d = {"torch": torch.__version__, "torch CUDA": torch.version.cuda}
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
        name, driver, memory = [x.strip() for x in smi.stdout.strip().splitlines()[0].split(",")]
        d.update({"card": name, "driver": driver, "memory": memory})
    except Exception as e:  # reported, not fatal
        d["nvidia-smi"] = f"failed: {e}"
    for lib in ("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"):
        try:
            nvrtc = ctypes.CDLL(lib)
            major, minor = ctypes.c_int(), ctypes.c_int()
            nvrtc.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
            d["NVRTC"] = f"{major.value}.{minor.value} ({lib})"
            break
        except OSError:
            continue
    else:
        d["NVRTC"] = "not found"
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        v = ctypes.c_int()
        cuda.cuDriverGetVersion(ctypes.byref(v))
        d["CUDA driver API"] = f"{v.value // 1000}.{(v.value % 1000) // 10}"
    except OSError:
        d["CUDA driver API"] = "libcuda.so.1 not found"
    for mod in ("transformers", "sentence_transformers"):
        try:
            d[mod] = __import__(mod).__version__
        except ImportError:
            d[mod] = "not installed"
    write(out, d)


def models(work, tokenizer_json):
    """Random-weight models (seed 0) in Hugging Face layout, with the BERT uncased tokenizer."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=tokenizer_json, unk_token="[UNK]",
                                  pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                  mask_token="[MASK]", model_max_length=512)
    shapes = {
        # The paper's Contriever: BERT-base.
        "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                          intermediate_size=3072),
        # all-MiniLM-L6-v2's shape.
        "minilm": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                       intermediate_size=1536),
    }
    for name, shape in shapes.items():
        torch.manual_seed(0)
        model = BertModel(BertConfig(vocab_size=30522, **shape), add_pooling_layer=False)
        folder = os.path.join(work, name)
        model.save_pretrained(folder, safe_serialization=True)
        tok.save_pretrained(folder)


def pseudo_scores(count):
    """The same deterministic scores as gpu-check's `pseudo_scores` (64-bit LCG)."""
    state, out = 0x5C04E5, []
    mask = (1 << 64) - 1
    for _ in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) & mask
        out.append(((state >> 40) / float(1 << 24)) * 2.0)
    return out


def ws2_speed(out):
    import torch
    dev = DEVICE
    timings = []
    for b, n in [(4, 4)] if SMOKE else [(16, 4), (64, 4), (64, 7), (256, 4)]:
        m = b * n
        logits = torch.tensor(pseudo_scores(b * m), dtype=torch.float32, device=dev).reshape(b, m)
        labels = torch.tensor([[3 - (k * 5 + k // n) % 4 for k in range(i * n, (i + 1) * n)]
                               for i in range(b)], device=dev)
        times = []
        start = time.perf_counter()
        it = 0
        while it < 200 and (len(times) < 3 or time.perf_counter() - start < 3.0):
            x = logits.clone().requires_grad_(True)
            sync()
            t = time.perf_counter()
            ws2(x, labels).backward()
            _ = x.grad.cpu()
            sync()
            if it >= 5:
                times.append((time.perf_counter() - t) * 1e3)
            it += 1
        times.sort()
        timings.append(timing(f"ws2 {b}x{m}", times[len(times) // 2], "ms", True,
                              calls=len(times)))
    write(out, {"timings": timings, "notes": []})


def load_texts(work):
    with open(os.path.join(work, "texts.json")) as f:
        return json.load(f)


def train_step(work, out):
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = load_texts(work)
    b, g, length, warmup, steps = (4, 4, 32, 1, 1) if SMOKE else (64, 4, 256, 2, 5)
    folder = os.path.join(work, "bert-base")
    tok = AutoTokenizer.from_pretrained(folder)
    queries = texts["queries"][:b]
    passages = texts["passages"][:b * g]
    labels = torch.tensor([[3, 2, 1, 0]] * b, dtype=torch.float64, device=DEVICE)
    timings, notes = [], []
    for name, dtype in [("f32", None), ("bf16", torch.bfloat16)]:
        if dtype is torch.bfloat16 and DEVICE == "cpu":
            notes.append("bf16 on the CPU is emulated (minutes per step): not timed")
            continue
        if dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
            notes.append("bf16 not supported on this device")
            continue
        torch.manual_seed(0)
        model = AutoModel.from_pretrained(folder).to(DEVICE)
        model.train()  # dropout 0.1 as in the paper
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, eps=1e-8, weight_decay=0.0)
        q_in = tok(queries, padding=True, truncation=True, max_length=length, return_tensors="pt").to(DEVICE)
        p_in = tok(passages, padding=True, truncation=True, max_length=length, return_tensors="pt").to(DEVICE)
        tokens = int(q_in["attention_mask"].sum() + p_in["attention_mask"].sum())

        def embed(inputs):
            h = model(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(h.dtype)
            return (h * mask).sum(1) / mask.sum(1)

        def step():
            with torch.autocast(DEVICE, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                q, p = embed(q_in), embed(p_in)
            loss = ws2((q.float() @ p.float().T), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            return loss

        for _ in range(warmup):
            step()
        sync()
        if DEVICE == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        for _ in range(steps):
            loss = step()
        sync()
        secs = time.perf_counter() - t
        peak = torch.cuda.max_memory_allocated() / 2**20 if DEVICE == "cuda" else 0.0
        timings.append(timing(f"train {name}", steps * b / secs, "queries/s", False,
                              **{"tokens/s": steps * tokens / secs, "s/step": secs / steps,
                                 "steps timed": steps, "last loss": float(loss),
                                 "max allocated MiB": peak}))
        del model, opt
        if DEVICE == "cuda":
            torch.cuda.empty_cache()
    write(out, {"timings": timings, "notes": notes})


def encode(work, out):
    import torch
    from sentence_transformers import SentenceTransformer, models as st_models

    count, batch, length = (20, 8, 32) if SMOKE else (10_000, 256, 256)
    texts = load_texts(work)["passages"][:count]
    folder = os.path.join(work, "minilm")
    word = st_models.Transformer(folder, max_seq_length=length)
    pooling = st_models.Pooling(word.get_word_embedding_dimension(), "mean")
    model = SentenceTransformer(modules=[word, pooling], device=DEVICE)
    model.encode(texts[:2 * batch], batch_size=batch)  # warm-up
    sync()
    t = time.perf_counter()
    emb = model.encode(texts, batch_size=batch, convert_to_numpy=True)
    sync()
    secs = time.perf_counter() - t
    assert emb.shape[0] == len(texts)
    write(out, {"timings": [timing("encode", len(texts) / secs, "passages/s", False,
                                   passages=len(texts))], "notes": []})


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "info":
        info(*args)
    elif cmd == "models":
        models(*args)
    elif cmd == "ws2-speed":
        ws2_speed(*args)
    elif cmd == "train-step":
        train_step(*args)
    elif cmd == "encode":
        encode(*args)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
