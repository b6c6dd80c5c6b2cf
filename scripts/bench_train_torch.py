"""PyTorch reference for crates/rankwise-train/benches/train_step.rs: the same WS2 training step
(all-MiniLM-L6-v2, 16 queries x group 4, length 256, SciFact text, AdamW, clipping 1.0) with
transformers on the CPU. Prints queries/s (last line)."""
import json
import sys
import time

import torch
from transformers import AutoModel, AutoTokenizer

model_dir, scifact, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
corpus = [json.loads(l) for l in open(f"{scifact}/corpus.jsonl")]
corpus = [(c.get("title", "") + " " + c["text"]).strip() for c in corpus]
queries = [json.loads(l)["text"] for l in open(f"{scifact}/queries.jsonl")]
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModel.from_pretrained(model_dir)
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-5, eps=1e-8, weight_decay=0.0)
B, G = 16, 4


def embed(texts):
    t = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    h = model(**t).last_hidden_state
    m = t["attention_mask"].unsqueeze(-1).float()
    e = (h * m).sum(1) / m.sum(1)
    return torch.nn.functional.normalize(e, dim=-1)


def ws2(scores, labels):
    b, m = scores.shape
    n = labels.shape[1]
    y = torch.zeros(b, m, dtype=torch.float64)
    for i in range(b):
        y[i, i * n:(i + 1) * n] = labels[i]
    p = torch.softmax(scores, 1).double()
    q = torch.softmax(y, 1)
    f = 1.0 / (b - 1)
    pc, qc = p - p.mean(0), q - q.mean(0)
    a = f * pc @ qc.T
    ev = torch.linalg.eigvals(a @ a.T)
    return ((p.mean(0) - q.mean(0)) ** 2).sum() + f * (pc ** 2).sum() + f * (qc ** 2).sum() - 2 * torch.sqrt(ev + 1e-15).abs().sum()


secs = 0.0
for step in range(steps + 1):
    qs = [queries[(step * B + i) % len(queries)] for i in range(B)]
    ps = [corpus[(step * B * G + i * G + j) % (len(corpus) - G)] for i in range(B) for j in range(G)]
    labels = torch.tensor([[3, 2, 1, 0]] * B, dtype=torch.float64)
    t = time.perf_counter()
    loss = ws2(embed(qs) @ embed(ps).T, labels)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if step > 0:
        secs += time.perf_counter() - t
print(steps * B / secs)
