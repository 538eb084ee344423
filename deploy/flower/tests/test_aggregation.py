"""The ServerApp's aggregation against the shared test vector that fedmoa-agg is also
tested on (fedmoa-flower/tests/task_accuracy_vector.rs).

Run: .cache/flower-venv/bin/python -m unittest discover -s deploy/flower/tests
"""

import json
import math
import sys
import unittest
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fedmoa_flower_app.aggregation import (  # noqa: E402
    TaskAccuracyConfig,
    Update,
    aggregate,
    parse_temperature,
)

VECTORS = HERE.parents[2] / "fedmoa-flower" / "testdata" / "task_accuracy_vectors.json"


def tensors(spec):
    return {k: np.asarray(v["data"], np.float32).reshape(v["shape"]) for k, v in spec.items()}


class SharedVector(unittest.TestCase):
    def test_matches_expected_aggregates(self):
        cases = json.loads(VECTORS.read_text())["cases"]
        self.assertEqual(len(cases), 5)
        for case in cases:
            with self.subTest(case["name"]):
                c = case["config"]
                cfg = TaskAccuracyConfig(
                    temperature=parse_temperature(c["temperature"]),
                    task_weighting=c["task_weighting"],
                    task_aware=c["task_aware"],
                    server_lr=c["server_lr"],
                )
                updates = [
                    Update(u["id"], u["task"], u["n"], u["accuracy"], tensors(u["params"]))
                    for u in case["clients"]
                ]
                out = aggregate(tensors(case["global"]), updates, cfg.validate())
                for name, exp in tensors(case["expected"]["params"]).items():
                    np.testing.assert_allclose(out.params[name], exp, atol=1e-5)
                self.assertEqual(set(out.weights), set(case["expected"]["weights"]))
                for cid, w in case["expected"]["weights"].items():
                    self.assertAlmostEqual(out.weights[cid], w, places=9)
                self.assertEqual([r[0] for r in out.rejected], case["expected"]["rejected"])

    def test_tiny_temperature_is_stable(self):
        # exp(0.9 / 1e-3) overflows; the shifted form gives weights 1 and ~0.
        ups = [
            Update("good", "math", 1, 0.9, {"w": np.array([1.0], np.float32)}),
            Update("poor", "math", 100, 0.1, {"w": np.array([-5.0], np.float32)}),
        ]
        out = aggregate({"w": np.zeros(1, np.float32)}, ups, TaskAccuracyConfig(temperature=1e-3))
        self.assertEqual(out.weights["good"], 1.0)
        self.assertEqual(out.weights["poor"], 0.0)
        self.assertEqual(float(out.params["w"][0]), 1.0)

    def test_bad_config_names_the_field(self):
        for bad, field in [
            (TaskAccuracyConfig(temperature=0.0), "temperature"),
            (TaskAccuracyConfig(temperature=math.nan), "temperature"),
            (TaskAccuracyConfig(task_weighting="x"), "task-weighting"),
            (TaskAccuracyConfig(server_lr=-1.0), "server-lr"),
        ]:
            with self.assertRaisesRegex(ValueError, field):
                bad.validate()

    def test_all_rejected_raises(self):
        ups = [Update("x", "m", 0, 0.5, {"w": np.zeros(1, np.float32)})]
        with self.assertRaisesRegex(ValueError, "no valid update"):
            aggregate({"w": np.zeros(1, np.float32)}, ups, TaskAccuracyConfig())


if __name__ == "__main__":
    unittest.main()
