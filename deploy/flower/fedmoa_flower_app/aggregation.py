"""FedMOA's task- and accuracy-aware aggregation, numpy only.

The same rule as fedmoa-agg's `TaskAccuracy` (fedmoa-agg/src/task_accuracy.rs,
docs/AGGREGATORS.md), checked against it by a shared test vector
(fedmoa-flower/testdata/task_accuracy_vectors.json):

1. within each task tau: p_i = n_i exp(a_i / T) / sum_{j in tau} n_j exp(a_j / T),
   computed stably from log-weights ln n_i + (a_i - max a) / T;
2. across tasks: lambda_tau = 1 / |tasks| ("task_balanced") or n_tau / sum n
   ("sample_proportional"); a client's weight is lambda_tau p_i;
3. theta <- theta + server_lr * sum_i w_i (theta_i - theta).

Updates with n <= 0, accuracy outside [0, 1], another layout or non-finite values are
rejected first, as fedmoa-agg's screening does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TASK_WEIGHTINGS = ("task_balanced", "sample_proportional")


@dataclass(frozen=True)
class TaskAccuracyConfig:
    """Parameters of the rule; `validate` names the bad field."""

    temperature: float = 0.1
    task_weighting: str = "task_balanced"
    task_aware: bool = True
    server_lr: float = 1.0

    def validate(self) -> "TaskAccuracyConfig":
        if not (self.temperature > 0):  # also rejects NaN; inf is allowed
            raise ValueError(f"temperature: must be > 0 (or inf), got {self.temperature}")
        if self.task_weighting not in TASK_WEIGHTINGS:
            raise ValueError(
                f"task-weighting: must be one of {TASK_WEIGHTINGS}, got {self.task_weighting!r}"
            )
        if not (math.isfinite(self.server_lr) and self.server_lr > 0):
            raise ValueError(f"server-lr: must be a finite number > 0, got {self.server_lr}")
        return self


def parse_temperature(value: object) -> float:
    """A number, or "inf"/"infinite"/"infinity" for per-task FedAvg."""
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinite", "infinity"):
        return math.inf
    return float(value)


@dataclass
class Update:
    """One client's reply: full local parameters and its metadata."""

    client_id: str
    task: str
    n: int
    accuracy: float
    params: dict[str, np.ndarray]


@dataclass
class Aggregate:
    """The new global parameters, the weight of each accepted client, the rejected."""

    params: dict[str, np.ndarray]
    weights: dict[str, float] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def rejection_reason(update: Update, global_params: dict[str, np.ndarray]) -> str | None:
    if update.n <= 0:
        return "zero samples"
    if not (0.0 <= update.accuracy <= 1.0):
        return f"accuracy {update.accuracy} outside [0, 1]"
    if set(update.params) != set(global_params):
        return "different tensor names"
    for name, g in global_params.items():
        p = update.params[name]
        if p.shape != g.shape:
            return f"tensor {name}: shape {p.shape} instead of {g.shape}"
        if not np.all(np.isfinite(p)):
            return f"tensor {name}: non-finite value"
    return None


def task_accuracy_weights(updates: list[Update], cfg: TaskAccuracyConfig) -> list[float]:
    """The weights lambda_tau * p_i of the (accepted) updates, in order."""
    groups: dict[str, list[int]] = {}
    for k, u in enumerate(updates):
        groups.setdefault(u.task if cfg.task_aware else "", []).append(k)
    n_total = float(sum(u.n for u in updates))
    weights = [0.0] * len(updates)
    for members in groups.values():
        acc = [float(updates[k].accuracy) for k in members]
        a_max = max(acc)
        logits = [
            math.log(updates[k].n) + (a - a_max) / cfg.temperature for k, a in zip(members, acc)
        ]
        s_max = max(logits)
        exps = [math.exp(s - s_max) for s in logits]
        z = sum(exps)
        if cfg.task_weighting == "task_balanced":
            lam = 1.0 / len(groups)
        else:
            lam = sum(updates[k].n for k in members) / n_total
        for k, e in zip(members, exps):
            weights[k] = lam * e / z
    return weights


def aggregate(
    global_params: dict[str, np.ndarray], updates: list[Update], cfg: TaskAccuracyConfig
) -> Aggregate:
    """Screens the updates and applies the rule; raises ValueError if none is left."""
    accepted, rejected = [], []
    for u in updates:
        reason = rejection_reason(u, global_params)
        if reason is None:
            accepted.append(u)
        else:
            rejected.append((u.client_id, reason))
    if not accepted:
        raise ValueError(f"no valid update to aggregate ({len(rejected)} rejected)")
    weights = task_accuracy_weights(accepted, cfg)
    out = {}
    for name, g in global_params.items():
        g64 = g.astype(np.float64)
        step = np.zeros_like(g64)
        for w, u in zip(weights, accepted):
            step += w * (u.params[name].astype(np.float64) - g64)
        out[name] = (g64 + cfg.server_lr * step).astype(np.float32)
    return Aggregate(
        params=out,
        weights={u.client_id: w for u, w in zip(accepted, weights)},
        rejected=rejected,
    )
