"""The FedMOA strategy on hand-made Flower reply messages: reply parsing, dropping of
malformed replies, and metrics over the keys all replies share.

Run: .cache/flower-venv/bin/python -m unittest discover -s deploy/flower/tests
"""

import math
import sys
import time
import unittest
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flwr.app import Array, ArrayRecord, ConfigRecord, Message, Metadata, MetricRecord, RecordDict  # noqa: E402

from fedmoa_flower_app.aggregation import TaskAccuracyConfig  # noqa: E402
from fedmoa_flower_app.strategy import FedMoa, reply_task  # noqa: E402


def reply(node: int, w, metrics: dict, task: str | None, extra_metrics: bool = False) -> Message:
    records = {
        "arrays": ArrayRecord({"w": Array(np.asarray(w, np.float32))}),
        "metrics": MetricRecord(metrics),
    }
    if extra_metrics:
        records["more"] = MetricRecord({"x": 1.0})
    if task is not None:
        records["fedmoa"] = ConfigRecord({"task": task, "client-id": f"c{node}"})
    meta = Metadata(
        run_id=1,
        message_id=f"m{node}",
        src_node_id=node,
        dst_node_id=1,
        reply_to_message_id="i",
        group_id="1",
        created_at=time.time(),
        ttl=60.0,
        message_type="train",
    )
    return Message(content=RecordDict(records), metadata=meta)


class FedMoaStrategy(unittest.TestCase):
    def test_aggregates_valid_replies_and_drops_malformed_ones(self):
        s = FedMoa(TaskAccuracyConfig(temperature=math.inf), min_train_nodes=1, min_available_nodes=1)
        s.global_arrays = ArrayRecord({"w": Array(np.zeros(2, np.float32))})
        replies = [
            reply(11, [2.0, 4.0], {"num-examples": 3, "accuracy": 0.5, "task-id": 7, "train-secs": 1.0}, "math"),
            reply(12, [0.0, 0.0], {"num-examples": 1, "accuracy": 0.5}, "math"),
            reply(13, [9.0, 9.0], {"num-examples": 1, "accuracy": 0.5}, "math", extra_metrics=True),
        ]
        arrays, metrics = s.aggregate_train(1, replies)
        # T = inf, one task: weights n-proportional 3/4, 1/4 -> w = 3/4 * [2, 4] = [1.5, 3].
        np.testing.assert_allclose(arrays["w"].numpy(), [1.5, 3.0], atol=1e-6)
        # Only the shared keys are averaged (the weighting key itself is left out).
        self.assertEqual(set(metrics.keys()), {"accuracy", "fedmoa-aggregated", "fedmoa-rejected"})
        self.assertAlmostEqual(metrics["accuracy"], 0.5)
        r = s.rounds[-1]
        self.assertEqual((r["replies"], r["errors"], r["aggregated"]), (2, 1, 2))
        self.assertAlmostEqual(r["weights"]["c11@11"], 0.75)

    def test_task_falls_back_to_task_id_then_one_group(self):
        with_id = reply(5, [0.0], {"num-examples": 1, "accuracy": 0.1, "task-id": 42}, None)
        plain = reply(6, [0.0], {"num-examples": 1, "accuracy": 0.1}, None)
        self.assertEqual(reply_task(reply(4, [0.0], {"num-examples": 1}, "code")), "code")
        self.assertEqual(reply_task(with_id), "task-id:42")
        self.assertEqual(reply_task(plain), "")


if __name__ == "__main__":
    unittest.main()
