"""BM25 reference numbers for `rankwise_eval::bm25` from bm25s (Lucene-style BM25).

Settings, as the reference the Rust BM25 must match: bm25s 0.3.x, method "lucene", k1 = 1.2,
b = 0.75; tokens by bm25s.tokenize (lower-case, regex (?u)\\b\\w\\w+\\b, bm25s' English stop
words, PyStemmer's Snowball "english" stemmer); a document's text is its title and text joined
by a space; top 100 per query; nDCG@10 / MRR@10 / Recall@100 by pytrec_eval (trec_eval 9).

Writes `crates/rankwise-eval/tests/fixtures/bm25s_reference.json`: per collection the means, the
per-query nDCG@10 and the top-10 document ids of the first 20 queries.

    python scripts/bm25_reference.py --shared ../shared --datasets scifact cranfield med \\
        --out crates/rankwise-eval/tests/fixtures/bm25s_reference.json
"""

import argparse
import json
import os
import statistics

import bm25s
import pytrec_eval
import Stemmer


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path):
    qrels = {}
    with open(path) as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue
            q, d, s = parts[0], parts[1], int(parts[2])
            qrels.setdefault(q, {})[d] = s
    return qrels


def evaluate(folder):
    corpus = read_jsonl(os.path.join(folder, "corpus.jsonl"))
    queries = {q["_id"]: q["text"] for q in read_jsonl(os.path.join(folder, "queries.jsonl"))}
    qrels = read_qrels(os.path.join(folder, "qrels", "test.tsv"))
    stemmer = Stemmer.Stemmer("english")
    texts = [(d.get("title", "") + " " + d["text"]).strip() for d in corpus]
    ids = [d["_id"] for d in corpus]
    retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
                    show_progress=False)
    qids = [q for q in queries if q in qrels]
    q_tokens = bm25s.tokenize([queries[q] for q in qids], stopwords="en", stemmer=stemmer,
                              show_progress=False)
    docs, scores = retriever.retrieve(q_tokens, k=min(100, len(ids)), show_progress=False)
    run = {}
    top10 = {}
    for row, q in enumerate(qids):
        run[q] = {ids[int(d)]: float(s) for d, s in zip(docs[row], scores[row]) if float(s) > 0}
        if row < 20:
            top10[q] = [ids[int(d)] for d in docs[row][:10]]
    measures = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank", "recall.100"})
    # MRR@10 as trec_eval: the reciprocal rank within the first 10.
    cut10 = {q: dict(sorted(r.items(), key=lambda x: (-x[1], x[0]))[:10]) for q, r in run.items()}
    rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut10)
    per = measures.evaluate(run)
    mean = lambda key, table: statistics.fmean(v[key] for v in table.values())
    return {
        "num_queries": len(per),
        "ndcg@10": mean("ndcg_cut_10", per),
        "mrr@10": mean("recip_rank", rr),
        "recall@100": mean("recall_100", per),
        "per_query_ndcg@10": {q: v["ndcg_cut_10"] for q, v in sorted(per.items())},
        "top10": top10,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("RANKWISE_SHARED", "../shared"))
    ap.add_argument("--datasets", nargs="+", default=["scifact", "cranfield", "med"])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = {
        "tool": f"bm25s {bm25s.__version__}, method lucene, k1 1.2, b 0.75, "
                "stop words bm25s 'en', PyStemmer english; title + ' ' + text",
        "collections": {},
    }
    for name in args.datasets:
        res = evaluate(os.path.join(args.shared, "datasets", name))
        out["collections"][name] = res
        print(f"{name}: nDCG@10 {res['ndcg@10']:.4f} MRR@10 {res['mrr@10']:.4f} "
              f"R@100 {res['recall@100']:.4f} ({res['num_queries']} queries)")
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
