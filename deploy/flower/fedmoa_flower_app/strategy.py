"""Flower strategies for fedmoa clients: FedMOA (task- and accuracy-aware) and FedAvg.

Both record a per-round summary (replies, errors, weights) that the ServerApp writes to
`summary-path` so tests can assert what was aggregated.
"""

from __future__ import annotations

from collections.abc import Iterable
from logging import INFO

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg
from flwr.serverapp.strategy.strategy_utils import aggregate_metricrecords
from flwr.supercore import log

from .aggregation import Aggregate, TaskAccuracyConfig, Update, aggregate


def reply_task(msg: Message) -> str:
    """The task tag of a reply: the `fedmoa` ConfigRecord's `task` (fedmoa clients),
    else the numeric `task-id` metric, else "" (clients that send neither form one task)."""
    content = msg.content
    if "fedmoa" in content.config_records:
        task = content.config_records["fedmoa"].get("task")
        if isinstance(task, str):
            return task
    metrics = next(iter(content.metric_records.values()))
    if "task-id" in metrics:
        return f"task-id:{int(metrics['task-id'])}"
    return ""


def reply_client_id(msg: Message) -> str:
    content = msg.content
    if "fedmoa" in content.config_records:
        cid = content.config_records["fedmoa"].get("client-id")
        if isinstance(cid, str):
            return f"{cid}@{msg.metadata.src_node_id}"
    return f"node-{msg.metadata.src_node_id}"


def to_update(msg: Message) -> Update:
    """A reply as an `Update`; missing accuracy becomes NaN (and is rejected)."""
    metrics = next(iter(msg.content.metric_records.values()))
    arrays = next(iter(msg.content.array_records.values()))
    return Update(
        client_id=reply_client_id(msg),
        task=reply_task(msg),
        n=int(metrics["num-examples"]),
        accuracy=float(metrics["accuracy"]) if "accuracy" in metrics else float("nan"),
        params={k: np.asarray(a.numpy()) for k, a in arrays.items()},
    )


def common_key_metrics(records: list[RecordDict], weighting_key: str) -> MetricRecord:
    """Weighted mean of the metrics every reply has (fedmoa and Python clients report
    different sets; Flower's default refuses replies whose keys differ)."""
    metrics = [next(iter(r.metric_records.values())) for r in records]
    common = set.intersection(*(set(m.keys()) for m in metrics)) if metrics else set()
    trimmed = [RecordDict({"metrics": MetricRecord({k: m[k] for k in common})}) for m in metrics]
    return aggregate_metricrecords(trimmed, weighting_key)


def reply_problem(msg: Message, weighting_key: str, is_train: bool, array_keys: set | None) -> str | None:
    """Why a reply cannot be aggregated, or None."""
    content = msg.content
    if len(content.metric_records) != 1:
        return f"{len(content.metric_records)} MetricRecords instead of 1"
    if weighting_key not in next(iter(content.metric_records.values())):
        return f"no {weighting_key!r} metric"
    if is_train:
        if len(content.array_records) != 1:
            return f"{len(content.array_records)} ArrayRecords instead of 1"
        keys = set(next(iter(content.array_records.values())).keys())
        if array_keys is not None and keys != array_keys:
            return f"array names {sorted(keys)} differ from the global model's"
    return None


class _Recording:
    """Mixin: remembers the global arrays of the round and a summary per round, and
    screens replies one by one instead of refusing the whole round."""

    def _init_recording(self) -> None:
        self.global_arrays: ArrayRecord | None = None
        self.rounds: list[dict] = []
        self.train_metrics_aggr_fn = common_key_metrics
        self.evaluate_metrics_aggr_fn = common_key_metrics

    def _check_and_log_replies(
        self, replies: Iterable[Message], is_train: bool, validate: bool = True
    ) -> tuple[list[Message], list[Message]]:
        valid, errors = super()._check_and_log_replies(replies, is_train, validate=False)
        if not validate:
            return valid, errors
        array_keys = set(self.global_arrays.keys()) if self.global_arrays is not None else None
        kept = []
        for msg in valid:
            problem = reply_problem(msg, self.weighted_by_key, is_train, array_keys)
            if problem is None:
                kept.append(msg)
            else:
                log(INFO, "dropping the reply of node %d: %s", msg.metadata.src_node_id, problem)
                errors.append(msg)
        return kept, errors

    def _record(self, server_round: int, n_replies: int, n_errors: int, extra: dict) -> None:
        entry = {"round": server_round, "replies": n_replies, "errors": n_errors, **extra}
        self.rounds.append(entry)
        log(INFO, "fedmoa round summary: %s", entry)


class FedMoa(_Recording, FedAvg):
    """FedAvg's sampling and messaging with FedMOA's aggregation rule."""

    def __init__(self, config: TaskAccuracyConfig, seed: int = 0, local_steps: int = 0, **kw) -> None:
        super().__init__(**kw)
        self.rule = config.validate()
        self.seed = seed
        self.local_steps = local_steps
        self._init_recording()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self.global_arrays = arrays
        config["seed"] = self.seed
        if self.local_steps > 0:
            config["local-steps"] = self.local_steps
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = list(replies)
        valid, errors = self._check_and_log_replies(replies, is_train=True)
        if not valid or self.global_arrays is None:
            self._record(server_round, len(valid), len(errors), {"aggregated": 0})
            return None, None
        global_params = {k: np.asarray(a.numpy()) for k, a in self.global_arrays.items()}
        try:
            result: Aggregate = aggregate(global_params, [to_update(m) for m in valid], self.rule)
        except ValueError as exc:
            log(INFO, "fedmoa: %s; keeping the global model", exc)
            self._record(server_round, len(valid), len(errors), {"aggregated": 0})
            return None, None
        arrays = ArrayRecord({k: Array(result.params[k]) for k in self.global_arrays.keys()})
        metrics = self.train_metrics_aggr_fn([m.content for m in valid], self.weighted_by_key)
        metrics["fedmoa-aggregated"] = len(result.weights)
        metrics["fedmoa-rejected"] = len(result.rejected)
        self._record(
            server_round,
            len(valid),
            len(errors),
            {
                "aggregated": len(result.weights),
                "weights": result.weights,
                "rejected": result.rejected,
                "tasks": sorted({reply_task(m) for m in valid}),
            },
        )
        return arrays, metrics


class RecordingFedAvg(_Recording, FedAvg):
    """Flower's FedAvg, for comparison, with the same summary."""

    def __init__(self, seed: int = 0, **kw) -> None:
        super().__init__(**kw)
        self.seed = seed
        self._init_recording()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self.global_arrays = arrays
        config["seed"] = self.seed
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = list(replies)
        valid, errors = self._check_and_log_replies(replies, is_train=True)
        arrays, metrics = super().aggregate_train(server_round, valid)
        n = sum(int(next(iter(m.content.metric_records.values()))["num-examples"]) for m in valid)
        self._record(
            server_round,
            len(valid),
            len(errors),
            {
                "aggregated": len(valid) if arrays is not None else 0,
                "weights": {
                    reply_client_id(m): int(next(iter(m.content.metric_records.values()))["num-examples"]) / n
                    for m in valid
                },
                "tasks": sorted({reply_task(m) for m in valid}),
            },
        )
        return arrays, metrics
