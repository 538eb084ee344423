"""The ServerApp: waits for the expected nodes, runs FedMOA (or FedAvg) and writes a
JSON summary of every round to `summary-path`."""

from __future__ import annotations

import json
import time
from logging import INFO
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.supercore import log

from .aggregation import TaskAccuracyConfig, parse_temperature
from .strategy import FedMoa, RecordingFedAvg

app = ServerApp()


def initial_arrays(spec: str) -> ArrayRecord:
    """`zeros:w=4x3,b=3` or `npy-dir:/abs/dir` (every NAME.npy, float32)."""
    kind, _, rest = spec.partition(":")
    arrays: dict[str, np.ndarray] = {}
    if kind == "zeros":
        for item in rest.split(","):
            name, _, dims = item.strip().partition("=")
            if not name or not dims:
                raise ValueError(f"init: bad tensor spec {item!r} (want NAME=DxD)")
            arrays[name] = np.zeros(tuple(int(d) for d in dims.split("x")), np.float32)
    elif kind == "npy-dir":
        for path in sorted(Path(rest).glob("*.npy")):
            arrays[path.stem] = np.load(path, allow_pickle=False).astype(np.float32)
        if not arrays:
            raise ValueError(f"init: no .npy file in {rest}")
    else:
        raise ValueError(f"init: unknown kind {kind!r} (zeros or npy-dir)")
    return ArrayRecord({k: Array(v) for k, v in arrays.items()})


def wait_for_nodes(grid: Grid, expected: int, timeout: float) -> int:
    deadline = time.time() + timeout
    while (n := len(list(grid.get_node_ids()))) < expected and time.time() < deadline:
        log(INFO, "waiting for nodes: %d of %d connected", n, expected)
        time.sleep(1.0)
    return n


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    rounds = int(cfg["num-server-rounds"])
    expected = int(cfg["expected-nodes"])
    min_nodes = int(cfg["min-nodes"])
    timeout = float(cfg["round-timeout"])
    connected = wait_for_nodes(grid, expected, timeout)
    log(INFO, "%d nodes connected (expected %d)", connected, expected)
    common = dict(
        fraction_train=1.0,
        fraction_evaluate=1.0 if bool(cfg["evaluate"]) else 0.0,
        min_train_nodes=min_nodes,
        min_evaluate_nodes=min_nodes,
        min_available_nodes=min_nodes,
    )
    if cfg["strategy"] == "fedmoa":
        rule = TaskAccuracyConfig(
            temperature=parse_temperature(cfg["temperature"]),
            task_weighting=str(cfg["task-weighting"]),
            task_aware=bool(cfg["task-aware"]),
            server_lr=float(cfg["server-lr"]),
        )
        strategy = FedMoa(rule, seed=int(cfg["seed"]), local_steps=int(cfg["local-steps"]), **common)
    elif cfg["strategy"] == "fedavg":
        strategy = RecordingFedAvg(seed=int(cfg["seed"]), **common)
    else:
        raise ValueError(f"strategy: must be 'fedmoa' or 'fedavg', got {cfg['strategy']!r}")
    init = initial_arrays(str(cfg["init"]))
    result = strategy.start(
        grid=grid,
        initial_arrays=init,
        num_rounds=rounds,
        timeout=timeout,
        train_config=ConfigRecord(),
    )
    final = {k: a.numpy() for k, a in result.arrays.items()}
    summary = {
        "strategy": cfg["strategy"],
        "rounds": strategy.rounds,
        "final_norm": float(np.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2)) for v in final.values()))),
        "num_params": int(sum(v.size for v in final.values())),
        "evaluate": {str(r): dict(m) for r, m in result.evaluate_metrics_clientapp.items()},
    }
    path = str(cfg["summary-path"])
    if path:
        Path(path).write_text(json.dumps(summary, indent=1, default=str))
    log(INFO, "fedmoa summary: %s", json.dumps(summary, default=str))
