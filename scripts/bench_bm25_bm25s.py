"""bm25s reference for crates/rankwise-eval/benches/bm25.rs: index a BEIR corpus (title + " " +
text) and retrieve the top 100 for each query, Lucene-style BM25 (k1 1.2, b 0.75, English stop
words, PyStemmer english), as rankwise does. Prints index and search seconds (medians of 3) on
the last line: `<index_s> <search_s>`.

    python scripts/bench_bm25_bm25s.py <beir-folder> <repeat-corpus>
"""
import json
import sys
import time

import bm25s
import Stemmer

folder, repeat = sys.argv[1], int(sys.argv[2])
docs = [json.loads(l) for l in open(f"{folder}/corpus.jsonl")]
texts = [(d.get("title", "") + " " + d["text"]).strip() for d in docs] * repeat
queries = [json.loads(l)["text"] for l in open(f"{folder}/queries.jsonl")]
stemmer = Stemmer.Stemmer("english")
index_t, search_t = [], []
for _ in range(3):
    t = time.perf_counter()
    retriever = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
                    show_progress=False)
    index_t.append(time.perf_counter() - t)
    t = time.perf_counter()
    q = bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, show_progress=False)
    retriever.retrieve(q, k=100, show_progress=False, n_threads=0)
    search_t.append(time.perf_counter() - t)
index_t.sort()
search_t.sort()
print(index_t[1], search_t[1])
