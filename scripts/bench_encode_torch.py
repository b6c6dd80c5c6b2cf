"""Same workload as crates/rankwise-encoder/benches/encode.rs with sentence-transformers:
512 passages of a BEIR corpus, max length 256, batch 32. Prints passages/s.
Usage: bench_encode_torch.py MODEL_DIR CORPUS_JSONL"""
import json
import sys
import time

try:
    import torch
    from sentence_transformers import SentenceTransformer
except ImportError as e:
    sys.exit(f"missing: {e}")

model_dir, corpus = sys.argv[1], sys.argv[2]
torch.set_num_threads(max(1, torch.get_num_threads()))
texts = []
with open(corpus) as f:
    for line in f:
        d = json.loads(line)
        texts.append(f"{d.get('title', '')} {d.get('text', '')}".strip())
        if len(texts) == 512:
            break
model = SentenceTransformer(model_dir, device="cpu")
model.max_seq_length = 256
model.encode(texts[:32], batch_size=32)
t = time.perf_counter()
model.encode(texts, batch_size=32)
print(f"{len(texts) / (time.perf_counter() - t):.2f}")
