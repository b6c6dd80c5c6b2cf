"""Compares generation prompts for a small instruction model on SciFact training claims.

For each prompt variant, asks an OpenAI-compatible server (llama.cpp) for passages at levels
3/2/1/0 for the first N training claims (in `qrels/train.tsv` order), then scores every passage
against its claim with all-MiniLM-L6-v2 (mean pooling, L2-normalised, as sentence-transformers)
and reports how often the four levels come out in order (s3 > s2 > s1 > s0; 1 in 24 by chance)
and how often level 3 scores above level 0 (1 in 2 by chance), with the mean cosine per level.

Variants:
* `joint`: the project's original one-request prompt (four passages as one JSON object);
* `per_level`: one request per level, plain text, with the templates in
  `crates/rankwise-synth/prompts/per_level_*.txt` (`### role` blocks become chat turns; level 0
  is about an everyday topic from `topics.txt`); a reply that echoes the claim is asked again.

Usage: python scripts/prompt_trials.py <scifact folder> <minilm folder> <out.json> N URL [URL ...] [variant]
"""

import concurrent.futures as cf
import json
import re
import sys
import urllib.request
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

PROMPTS = Path(__file__).resolve().parent.parent / "crates/rankwise-synth/prompts"


def messages(prompt):
    """A template of `### system|user|assistant` blocks as chat messages (else one user turn)."""
    if not prompt.lstrip().startswith("### "):
        return [{"role": "user", "content": prompt}]
    out = []
    for block in prompt.strip().split("### ")[1:]:
        role, _, text = block.partition("\n")
        out.append({"role": role.strip(), "content": text.strip()})
    return out


def chat(url, prompt, seed, json_mode=False, max_tokens=220):
    body = {
        "messages": messages(prompt),
        "temperature": 0.7,
        "top_p": 0.95,
        "max_tokens": max_tokens,
        "seed": seed,
    }
    if json_mode:
        body["response_format"] = {"type": "json_object"}
    req = urllib.request.Request(
        url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read())["choices"][0]["message"]["content"]


def clean(text):
    text = text.strip().strip('"').strip()
    text = re.sub(r"^(passage|level[ _]?\d)\s*:\s*", "", text, flags=re.I)
    return " ".join(text.split())


def joint(url, claim, seed):
    template = (PROMPTS / "sycl_default.txt").read_text()
    prompt = (
        template.replace("{query}", claim)
        .replace("{length}", "60")
        .replace("{style}", "a scientific abstract")
        .replace("{reading_level}", "expert")
        .replace("{hard_instruction}", "")
    )
    try:
        v = json.loads(chat(url, prompt, seed, json_mode=True, max_tokens=700))
        return [clean(str(v.get(f"level_{l}", ""))) for l in (3, 2, 1, 0)]
    except (json.JSONDecodeError, AttributeError):
        return ["", "", "", ""]


TOPICS = [t for t in (PROMPTS / "topics.txt").read_text().splitlines() if t.strip()]


def echoes(passage, claim):
    """A passage that mostly repeats the claim (or the instructions) is no passage."""
    a, b = set(passage.lower().split()), set(claim.lower().split())
    return not a or len(a & b) / len(a) > 0.7 or claim.lower() in passage.lower() or "passage must" in passage.lower()


def per_level(url, claim, seed):
    out = []
    topic = TOPICS[seed % len(TOPICS)]
    for level in (3, 2, 1, 0):
        template = (PROMPTS / f"per_level_{level}.txt").read_text()
        prompt = template.replace("{query}", claim).replace("{topic}", topic)
        text = ""
        for attempt in range(3):
            text = clean(chat(url, prompt, seed * 10 + level + 100 * attempt))
            if len(text.split()) >= 8 and not echoes(text, claim):
                break
        out.append(text)
    return out


VARIANTS = {"per_level": per_level, "joint": joint}
if len(sys.argv) > 6 and sys.argv[-1] in VARIANTS:
    VARIANTS = {sys.argv[-1]: VARIANTS[sys.argv[-1]]}


def claims(scifact, n):
    queries = {}
    for line in open(scifact / "queries.jsonl"):
        r = json.loads(line)
        queries[r["_id"]] = r["text"]
    ids = []
    for line in list(open(scifact / "qrels/train.tsv"))[1:]:
        q = line.split("\t")[0]
        if q not in ids:
            ids.append(q)
    return [(q, queries[q]) for q in ids[:n]]


def embed(tok, model, texts):
    t = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        h = model(**t).last_hidden_state
    m = t["attention_mask"].unsqueeze(-1).float()
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)


def main():
    scifact, minilm, out, n = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    urls = [u for u in sys.argv[5:] if u.startswith("http")]
    tok = AutoTokenizer.from_pretrained(minilm)
    model = AutoModel.from_pretrained(minilm).eval()
    cs = claims(scifact, n)
    report = {"claims": len(cs), "variants": {}}
    for name, fn in VARIANTS.items():
        with cf.ThreadPoolExecutor(len(urls)) as pool:
            futures = [pool.submit(fn, urls[i % len(urls)], c, 1000 + i) for i, (_, c) in enumerate(cs)]
            passages = [f.result() for f in futures]
        in_order = above = 0
        sums = [0.0] * 4
        samples = []
        for (qid, claim), ps in zip(cs, passages):
            e = embed(tok, model, [claim] + [p or "-" for p in ps])
            s = (e[1:] @ e[0]).tolist()
            in_order += int(s[0] > s[1] > s[2] > s[3])
            above += int(s[0] > s[3])
            sums = [a + b for a, b in zip(sums, s)]
            samples.append({"query_id": qid, "claim": claim, "passages": ps, "scores": s})
        report["variants"][name] = {
            "levels_in_order": in_order / len(cs),
            "level3_above_level0": above / len(cs),
            "mean_cosine_per_level_3210": [x / len(cs) for x in sums],
            "mean_words_per_level_3210": [sum(len(p[i].split()) for p in passages) / len(cs) for i in range(4)],
            "samples": samples,
        }
        print(name, {k: v for k, v in report["variants"][name].items() if k != "samples"}, flush=True)
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
