"""A small numpy ClientApp for stock Flower SuperNodes, mixed into a federation of
fedmoa Rust clients. It moves every parameter half-way to a target drawn from its
node id and reports `num-examples`, `accuracy` (exp(-mse)) and its task, the keys the
FedMOA strategy reads."""

from __future__ import annotations

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()

NUM_EXAMPLES = 50
TASK = "python"


def _targets(arrays: ArrayRecord, node_id: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(node_id)
    return {k: rng.uniform(-1, 1, a.numpy().shape).astype(np.float32) for k, a in arrays.items()}


def _mse(params: dict[str, np.ndarray], targets: dict[str, np.ndarray]) -> float:
    total = sum(float(np.sum((params[k] - targets[k]) ** 2)) for k in params)
    return total / max(1, sum(v.size for v in params.values()))


@app.train()
def train(msg: Message, context: Context) -> Message:
    arrays = msg.content["arrays"]
    targets = _targets(arrays, context.node_id)
    local = {k: a.numpy() + 0.5 * (targets[k] - a.numpy()) for k, a in arrays.items()}
    mse = _mse(local, targets)
    content = RecordDict(
        {
            "arrays": ArrayRecord({k: Array(v.astype(np.float32)) for k, v in local.items()}),
            "metrics": MetricRecord(
                {"num-examples": NUM_EXAMPLES, "accuracy": float(np.exp(-mse)), "metric.mse": mse}
            ),
            "fedmoa": ConfigRecord({"task": TASK, "client-id": "python"}),
        }
    )
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    arrays = msg.content["arrays"]
    params = {k: a.numpy() for k, a in arrays.items()}
    mse = _mse(params, _targets(arrays, context.node_id))
    metrics = MetricRecord({"num-examples": NUM_EXAMPLES, "accuracy": float(np.exp(-mse))})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)
