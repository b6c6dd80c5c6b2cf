"""Quality report of a synthetic multi-level folder written by `experiments generate`.

Reads `queries.jsonl`, `corpus.jsonl` and `qrels/train.tsv` (levels 3/2/1/0), scores every
passage against its query with all-MiniLM-L6-v2 (mean pooling, L2-normalised, as
sentence-transformers) and writes `quality.json` and `QUALITY.md` into the folder: queries with
all four levels, words per level, how often the four levels come out in order under the model
(s3 > s2 > s1 > s0; 1 in 24 by chance) and how often level 3 scores above level 0 (1 in 2 by
chance), the mean cosine per level, and the passages of the first three queries.

Usage: python scripts/synthetic_quality.py <folder> <all-MiniLM-L6-v2 folder> [queries to expect]
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

torch.set_num_threads(1)


def main():
    folder, minilm = Path(sys.argv[1]), sys.argv[2]
    expected = int(sys.argv[3]) if len(sys.argv) > 3 else None
    queries = {}
    for line in open(folder / "queries.jsonl"):
        r = json.loads(line)
        queries[r["_id"]] = r["text"]
    corpus = {}
    for line in open(folder / "corpus.jsonl"):
        r = json.loads(line)
        corpus[r["_id"]] = r["text"]
    levels = defaultdict(dict)
    for line in open(folder / "qrels/train.tsv"):
        q, d, s = line.rstrip("\n").split("\t")
        if q == "query-id":
            continue
        levels[q][int(float(s))] = corpus[d]
    complete = [q for q in levels if set(levels[q]) == {0, 1, 2, 3}]
    tok = AutoTokenizer.from_pretrained(minilm)
    model = AutoModel.from_pretrained(minilm).eval()

    def embed(texts):
        t = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.no_grad():
            h = model(**t).last_hidden_state
        m = t["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)

    in_order = above = 0
    cos = [0.0] * 4
    words = [0] * 4
    for q in complete:
        e = embed([queries[q]] + [levels[q][l] for l in (3, 2, 1, 0)])
        s = (e[1:] @ e[0]).tolist()
        in_order += int(s[0] > s[1] > s[2] > s[3])
        above += int(s[0] > s[3])
        cos = [a + b for a, b in zip(cos, s)]
        words = [w + len(levels[q][l].split()) for w, l in zip(words, (3, 2, 1, 0))]
    n = max(len(complete), 1)
    report = {
        "queries_with_four_levels": len(complete),
        "queries_expected": expected,
        "share_complete": len(complete) / expected if expected else None,
        "levels_in_order": in_order / n,
        "level3_above_level0": above / n,
        "mean_cosine_per_level_3210": [c / n for c in cos],
        "mean_words_per_level_3210": [w / n for w in words],
        "scorer": "all-MiniLM-L6-v2, mean pooling, L2-normalised, max 256 tokens",
    }
    (folder / "quality.json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        "# Quality report",
        "",
        "Written by `scripts/synthetic_quality.py` (MiniLM scores of each passage against its query).",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| queries with all four levels | {len(complete)}" + (f" of {expected} ({len(complete) / expected:.1%})" if expected else "") + " |",
        f"| levels in order (s3 > s2 > s1 > s0; chance 4.2 %) | {in_order / n:.1%} |",
        f"| level 3 above level 0 (chance 50 %) | {above / n:.1%} |",
        "| mean cosine, levels 3 / 2 / 1 / 0 | " + " / ".join(f"{c / n:.3f}" for c in cos) + " |",
        "| mean words, levels 3 / 2 / 1 / 0 | " + " / ".join(f"{w / n:.1f}" for w in words) + " |",
        "",
        "## Samples (the first three queries)",
        "",
    ]
    for q in complete[:3]:
        lines.append(f"**Query {q}:** {queries[q]}")
        lines.append("")
        for l in (3, 2, 1, 0):
            lines.append(f"- level {l}: {levels[q][l]}")
        lines.append("")
    (folder / "QUALITY.md").write_text("\n".join(lines))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
