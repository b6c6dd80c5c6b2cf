"""Step-parity fixture: a few optimiser steps of the paper's recipe in the authors' own library.

Builds a Trove (`ir-trove` 0.0.2) `BiEncoderRetriever` on the tiny BERT of the shared reference
fixtures (mean pooling, no normalisation, dropout off), once with the paper's WS2 loss and once
with Trove's InfoNCE, feeds fixed multi-level micro-batches, and runs 4 optimiser steps:
AdamW (betas 0.9/0.999, eps 1e-8, no weight decay), DeepSpeed's `WarmupDecayLR` (log warm-up),
global-norm clipping at 1.0, gradient accumulation 2 (each micro-batch's loss divided by 2, as
DeepSpeed scales by the accumulation steps). The loop is written out instead of going through
`transformers.Trainer`: from transformers 4.46 on, the Trainer no longer divides the loss by the
accumulation steps for models whose `forward` takes `**kwargs` (Trove's retriever does), which
would make it sum the micro-batch gradients; DeepSpeed, which the paper ran, averages them.

WS2 is not part of Trove 0.0.2; it is registered here as a Trove `RetrievalLoss`, written as the
paper defines it (the formula of the shared `reference/ws2` fixtures): P = softmax(S/tau) in
float32 cast to float64, Q = softmax of the widened integer labels, the squared 2-Wasserstein
distance between Gaussians fitted to the rows of P and Q, with the trace term from the
eigenvalues of A·Aᵀ (`torch.linalg.eigvals`, float64).

Recorded per step: the learning rate used, the mean micro-batch loss, the global gradient norm
before clipping, and for every parameter (by its Hugging Face name) the sum, the L2 norm and a
weighted sum of its change since the start (weights r_i = ((i·2654435761) mod 2^32)/2^32 − 0.5
over the row-major elements). The learning rate is raised to 1e-3 so that four steps move the
parameters measurably.

Usage: python scripts/trove_parity.py <tiny-bert folder> <output.json>
"""

import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import transformers

import trove
from trove import BiEncoderRetriever, ModelArguments
from trove.modeling.loss_base import RetrievalLoss

torch.set_num_threads(1)
torch.manual_seed(0)

STEPS = 4
ACCUMULATION = 2
QUERIES = 4
GROUP = 4
MAX_LENGTH = 24
PEAK_LR = 1e-3
TOTAL_STEPS = 40  # the schedule's T; only the first STEPS steps run
WARMUP_RATIO = 0.1  # W = ceil(0.1 * 40) = 4: log warm-up over the steps that run
EPS = 1e-15

WORDS = (
    "apple river engine violin glacier copper falcon desert harbor lantern meadow nickel "
    "orchid pepper quartz saddle tunnel walnut yacht zebra anchor basket candle dragon feather "
    "garlic helmet island jacket kettle ladder magnet needle oyster pillow rocket salmon tomato "
    "velvet window bridge carpet dolphin forest guitar hammer insect jungle"
).split()


class WS2Loss(RetrievalLoss):
    """The paper's WS2 loss (a sum over the batch, not a mean)."""

    _alias = "ws2"

    def __init__(self, args, **kwargs):
        super().__init__()
        self.temperature = float(args.temperature)

    def forward(self, logits, label, **kwargs):
        b, m = logits.shape
        n = label.shape[1]
        if n != m:
            label = torch.block_diag(*torch.chunk(label, b))
        p = torch.softmax(logits / self.temperature, dim=1).double()
        q = torch.softmax(label.double(), dim=1)
        f = 1.0 / (b - 1) if b >= 2 else 1.0
        mu_p, mu_q = p.mean(0), q.mean(0)
        pc, qc = p - mu_p, q - mu_q
        mean_term = ((mu_p - mu_q) ** 2).sum()
        trace_p = f * (pc**2).sum()
        trace_q = f * (qc**2).sum()
        a = f * pc @ qc.T
        eig = torch.linalg.eigvals(a @ a.T)
        sqrt_trace = torch.sqrt(eig + EPS).abs().sum()
        return mean_term + trace_p + trace_q - 2.0 * sqrt_trace


class WarmupDecayLR:
    """DeepSpeed's `WarmupDecayLR` (deepspeed/runtime/lr_schedules.py), transcribed: the
    minimum learning rate (0) is set when it is built, and `step()` follows every optimiser
    step."""

    def __init__(self, optimizer, total, warmup, peak, warmup_type="log"):
        self.optimizer = optimizer
        self.total = total
        self.warmup = max(2, warmup)
        self.inverse_log = 1.0 / math.log(self.warmup)
        self.peak = peak
        self.warmup_type = warmup_type
        self.it = -1
        self._set(0.0)

    def gamma(self, it):
        if it < self.warmup:
            if self.warmup_type == "log":
                return self.inverse_log * math.log(it + 1)
            return it / self.warmup
        return max(0.0, float(self.total - it) / float(max(1.0, self.total - self.warmup)))

    def _set(self, lr):
        for g in self.optimizer.param_groups:
            g["lr"] = lr

    def step(self):
        self.it += 1
        self._set(self.peak * self.gamma(self.it))


def texts(rng):
    def sentence(k):
        return " ".join(rng.choice(WORDS, size=k))

    return sentence(int(rng.integers(2, 5))), [sentence(int(rng.integers(4, 14))) for _ in range(GROUP)]


def micro_batches(binary):
    rng = np.random.default_rng(20251201)
    out = []
    for _ in range(STEPS * ACCUMULATION):
        queries, passages, labels = [], [], []
        for _ in range(QUERIES):
            q, ps = texts(rng)
            queries.append(q)
            passages.extend(ps)
            labels.append([1, 0, 0, 0] if binary else [int(x) for x in rng.permutation([3, 2, 1, 0])])
        out.append({"queries": queries, "passages": passages, "labels": labels})
    return out


def weights(n):
    i = np.arange(n, dtype=np.uint64)
    return ((i * np.uint64(2654435761)) % np.uint64(2**32)).astype(np.float64) / 2.0**32 - 0.5


def checksums(model, start):
    out = {}
    for name, p in model.encoder.model.named_parameters():
        d = (p.detach().double() - start[name]).flatten().numpy()
        out[name] = {
            "sum": float(d.sum()),
            "norm": float(np.sqrt((d * d).sum())),
            "dot": float((d * weights(d.size)).sum()),
        }
    return out


def run(model_dir, loss_name):
    args = ModelArguments(
        model_name_or_path=str(model_dir),
        encoder_class="default",
        pooling="mean",
        normalize="no",
        loss=loss_name,
        temperature=1.0,
    )
    model = BiEncoderRetriever.from_model_args(args)
    model.train()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(model_dir / "tokenizer.json"))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=0.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    warmup = math.ceil(WARMUP_RATIO * TOTAL_STEPS)
    sched = WarmupDecayLR(opt, TOTAL_STEPS, warmup, PEAK_LR)
    start = {n: p.detach().double().clone() for n, p in model.encoder.model.named_parameters()}
    batches = micro_batches(binary=loss_name == "infonce")

    def encode(t):
        return tok(t, padding=True, truncation=True, max_length=MAX_LENGTH, pad_to_multiple_of=8, return_tensors="pt")

    steps = []
    for s in range(STEPS):
        lr = opt.param_groups[0]["lr"]
        losses = []
        for mb in batches[s * ACCUMULATION : (s + 1) * ACCUMULATION]:
            out = model(query=encode(mb["queries"]), passage=encode(mb["passages"]), label=torch.tensor(mb["labels"]))
            losses.append(float(out.loss.detach()))
            (out.loss / ACCUMULATION).backward()
        norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
        opt.step()
        sched.step()
        opt.zero_grad()
        steps.append(
            {
                "step": s + 1,
                "lr": lr,
                "loss": sum(losses) / len(losses),
                "micro_losses": losses,
                "grad_norm": norm,
                "params": checksums(model, start),
            }
        )
    for mb in batches:
        mb["query_ids"] = encode(mb["queries"])["input_ids"].tolist()
        mb["passage_ids"] = encode(mb["passages"])["input_ids"].tolist()
    return {"loss": loss_name, "micro_batches": batches, "steps": steps}


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "tiny-bert"
        model_dir.mkdir()
        for f in ("model.safetensors", "tokenizer.json"):
            shutil.copy(src / f, model_dir / f)
        config = json.loads((src / "config.json").read_text())
        config["hidden_dropout_prob"] = 0.0
        config["attention_probs_dropout_prob"] = 0.0
        (model_dir / "config.json").write_text(json.dumps(config))
        runs = [run(model_dir, name) for name in ("ws2", "infonce")]
    fixture = {
        "description": __doc__.strip().splitlines()[0],
        "software": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "ir-trove": getattr(trove, "__version__", "0.0.2"),
        },
        "recipe": {
            "optimizer": "AdamW",
            "betas": [0.9, 0.999],
            "eps": 1e-8,
            "weight_decay": 0.0,
            "peak_lr": PEAK_LR,
            "schedule": "DeepSpeed WarmupDecayLR, log warm-up",
            "total_steps": TOTAL_STEPS,
            "warmup_ratio": WARMUP_RATIO,
            "max_grad_norm": 1.0,
            "grad_accumulation": ACCUMULATION,
            "queries_per_micro_batch": QUERIES,
            "group_size": GROUP,
            "max_length": MAX_LENGTH,
            "temperature": 1.0,
            "pooling": "mean",
            "normalize": False,
            "dropout": 0.0,
            "in_batch_negatives": True,
        },
        "runs": runs,
    }
    out.write_text(json.dumps(fixture, indent=1) + "\n")


if __name__ == "__main__":
    main()
