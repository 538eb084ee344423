"""PyTorch's figures for `cargo run --release --example bench_matmul`.

The same products, shapes and counting as the example: `forward` is `y = x @ W` without
autograd; `train` is `y = x @ W` with a gradient for `x` only, then the backward
(`dx = dy @ W.T`), with `W` stored `[in, out]` and `[out, in]` (the layout of
`torch.nn.Linear`, used through `.t()`). Two threads, as on the 2-core machine.

    python scripts/torch-matmul-bench.py [rows] [reps]

Use the TRL baseline's interpreter (`../shared/bench/README.md`), which has torch.
"""

import json
import sys
import time

import torch

SHAPES = [
    ("q_proj, o_proj", 576, 576, 2),
    ("k_proj, v_proj", 576, 192, 2),
    ("gate_proj, up_proj", 576, 1536, 2),
    ("down_proj", 1536, 576, 1),
    ("lm_head (tied)", 576, 49152, 0),
]


def mean_secs(reps, f):
    f()
    t = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - t) / reps


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {rows} rows, {reps} repetitions, 2 threads")
    print("| product | in → out | forward GFLOP/s | train, W [in, out] | train, W [out, in] |")
    print("|---|---|---:|---:|---:|")
    block = [0.0, 0.0, 0.0]
    out = {"rows": rows}
    for name, d_in, d_out, per_block in SHAPES:
        flops = 2.0 * rows * d_in * d_out
        x0 = torch.rand(rows, d_in)
        w = torch.rand(d_in, d_out)
        wt = torch.rand(d_out, d_in)

        def forward():
            with torch.no_grad():
                x0 @ w

        def train(weight):
            def step():
                x = x0.detach().requires_grad_()
                (x @ weight).sum().backward()
                x.grad.sum()

            return step

        secs = [
            mean_secs(reps, forward),
            mean_secs(reps, train(w)),
            mean_secs(reps, train(wt.t())),
        ]
        for i, s in enumerate(secs):
            block[i] += s * per_block
        rates = [flops / secs[0] / 1e9, 2 * flops / secs[1] / 1e9, 2 * flops / secs[2] / 1e9]
        print(f"| {name} | {d_in} → {d_out} | {rates[0]:.1f} | {rates[1]:.1f} | {rates[2]:.1f} |")
        out[f"{d_in}x{d_out}"] = [round(r, 1) for r in rates]
    print(
        f"one block's 7 projections: forward {block[0] * 1e3:.2f} ms; "
        f"train {block[1] * 1e3:.2f} ms ([in, out]), {block[2] * 1e3:.2f} ms ([out, in])"
    )
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
