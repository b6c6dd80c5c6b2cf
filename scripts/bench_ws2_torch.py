"""Times the SyCL reference WS2 (PyTorch, eigvals in float64 as in the paper's training script)
forward+backward at the shapes of `crates/rankwise-loss/benches/ws2.rs`; prints one median
time in microseconds per shape on one line. Exits non-zero when torch is missing."""
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("torch is not installed")

SHAPES = [(16, 4), (16, 7), (64, 4), (64, 7)]


def ws2(logits, labels, tau=1.0, eps=1e-15):
    b, n = labels.shape
    m = logits.shape[1]
    if m != n:
        # Block-diagonal widening, vectorised (one indexed write, no Python loop over rows).
        wide = torch.zeros(b, b, n, dtype=torch.float64, device=logits.device)
        idx = torch.arange(b, device=logits.device)
        wide[idx, idx] = labels.double()
        labels = wide.reshape(b, m)
    p = torch.softmax(logits / tau, dim=1).double()
    q = torch.softmax(labels.double(), dim=1)
    f = 1.0 / (b - 1) if b > 1 else 1.0
    mu_p, mu_q = p.mean(0), q.mean(0)
    pc, qc = p - mu_p, q - mu_q
    a = f * pc @ qc.T
    eig = torch.linalg.eigvals(a @ a.T)
    sqrt_tr = torch.sqrt(eig + eps).abs().sum()
    return ((mu_p - mu_q) ** 2).sum() + f * (pc ** 2).sum() + f * (qc ** 2).sum() - 2 * sqrt_tr


def main():
    torch.set_num_threads(2)
    out = []
    for b, n in SHAPES:
        logits = (1 + 0.5 * torch.randn(b, b * n)).float()
        labels = torch.tensor([[3 - (k * 5 + k // n) % 4 for k in range(i * n, (i + 1) * n)] for i in range(b)])
        times = []
        for it in range(60):
            x = logits.clone().requires_grad_(True)
            t = time.perf_counter()
            ws2(x, labels).backward()
            _ = x.grad.numpy()
            if it >= 5:
                times.append((time.perf_counter() - t) * 1e6)
        times.sort()
        out.append(times[len(times) // 2])
    print(" ".join(f"{t:.1f}" for t in out))


if __name__ == "__main__":
    main()
