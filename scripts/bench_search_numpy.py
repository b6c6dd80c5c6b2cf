"""numpy reference for crates/rankwise-eval/benches/search.rs: exact top-k by matmul in blocks,
argpartition and a sort of the k best; prints the median of 3 runs in seconds (last line)."""
import sys
import time

import numpy as np

folder, nd, nq, dim, k = sys.argv[1], *map(int, sys.argv[2:6])
docs = np.fromfile(f"{folder}/docs.f32", dtype="<f4").reshape(nd, dim)
queries = np.fromfile(f"{folder}/queries.f32", dtype="<f4").reshape(nq, dim)
times = []
for _ in range(3):
    t = time.perf_counter()
    top = []
    for start in range(0, nq, 256):
        scores = queries[start:start + 256] @ docs.T
        idx = np.argpartition(-scores, k, axis=1)[:, :k]
        part = np.take_along_axis(scores, idx, axis=1)
        order = np.argsort(-part, axis=1)
        top.append(np.take_along_axis(idx, order, axis=1))
    np.concatenate(top)
    times.append(time.perf_counter() - t)
times.sort()
print(times[1])
