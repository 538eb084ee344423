#!/usr/bin/env bash
# One-command loopback demo: a Flower SuperLink, N fedmoa Rust clients (and optionally
# one stock Flower SuperNode) and the FedMOA ServerApp of deploy/flower, all on
# 127.0.0.1. Everything started is stopped on exit.
#
#   scripts/flower-demo.sh [N_CLIENTS]            # default 3
#
# The clients are fedmoa TinyLm GRPO clients (examples/flower_client.rs --quickstart): the
# quickstart's scenario (six math clients; client i trains scenario client i, so N ≤ 6),
# model, fallible-teacher warm start and trainer, so the federation learns. The ServerApp
# starts from their shared warm start (exported as NPY files), which is the quickstart's
# cache entry (.cache/fedmoa; about 3.5 minutes to train if the quickstart has not run).
# TINY=1 runs the protocol-sized scenario instead (ceil(N/2) math and floor(N/2) code
# clients on a one-block TinyLm: fast, learns nothing); TOY=1 runs the protocol-only
# QuadraticTrainer example of fedmoa-flower (no Burn, instant rounds; model layout from
# INIT).
#
# Environment:
#   STRATEGY=fedmoa|fedavg   aggregation (default fedmoa)
#   ROUNDS=3                 server rounds
#   TINY=1                   the protocol-sized TinyLm scenario instead of the quickstart's
#   TOY=1                    protocol-only toy clients instead of TinyLm
#   INIT="zeros:w=64x64,b=64"  model layout of the toy run (see deploy/flower/pyproject.toml)
#   WEIGHTER=hypergradient   TinyLm clients' objective weighter (or fixed)
#   TEMPERATURE=0.1          FedMOA softmax temperature ("inf": per-task FedAvg)
#   EVALUATE=true            federated evaluation after each round
#   PYTHON_CLIENT=1          also start one stock Flower SuperNode (numpy ClientApp)
#   FLOWER_DEMO_PORT=18741   SuperLink port
#   KEEP_LOGS=1              keep the log folder (.cache/flower-demo.*)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${FLOWER_DEMO_PORT:-18741}"
N="${1:-3}"
STRATEGY="${STRATEGY:-fedmoa}"
ROUNDS="${ROUNDS:-3}"
INIT="${INIT:-zeros:w=64x64,b=64}"
WEIGHTER="${WEIGHTER:-hypergradient}"
TEMPERATURE="${TEMPERATURE:-0.1}"
EVALUATE="${EVALUATE:-true}"
TAG=flower-demo
# shellcheck source=scripts/flower-common.sh
source "$ROOT/scripts/flower-common.sh"

[[ "$N" =~ ^[1-9][0-9]*$ ]] || fail "N_CLIENTS must be a positive integer, got $N"
if [[ "${TOY:-0}" == 1 ]]; then
    build_client toy
    tasks=(math code)
    client_args() { echo "--index $1 --task ${tasks[$(($1 % 2))]} --samples $((100 + 50 * $1))"; }
else
    if [[ "${TINY:-0}" == 1 ]]; then
        SCENARIO_ARGS=(--math $(((N + 1) / 2)) --code $((N / 2)))
    else
        ((N <= 6)) || fail "the quickstart's scenario has 6 clients; N_CLIENTS must be at most 6"
        SCENARIO_ARGS=(--quickstart)
        export FEDMOA_CACHE_DIR="${FEDMOA_CACHE_DIR:-$ROOT/.cache/fedmoa}"
    fi
    build_client
    INIT="npy-dir:$INIT_DIR"
    client_args() { echo "${SCENARIO_ARGS[*]} --client-index $1 --weighter $WEIGHTER"; }
fi

log "SuperLink on 127.0.0.1:$PORT"
spawn superlink flower-superlink --insecure --disable-runtime-dependency-installation \
    --host 127.0.0.1 --port "$PORT"
wait_port "$PORT"

nodes=$N
if [[ "${PYTHON_CLIENT:-0}" == 1 ]]; then
    spawn supernode flower-supernode --insecure --superlink "127.0.0.1:$PORT" \
        --host 127.0.0.1 --port $((PORT + 1))
    nodes=$((N + 1))
fi
for ((i = 0; i < N; i++)); do
    # shellcheck disable=SC2046  # client_args is a list of plain words
    spawn "client$i" "$CLIENT" --superlink "http://127.0.0.1:$PORT" $(client_args "$i") \
        --heartbeat 10 --exit-after-run
done

log "flwr run: $STRATEGY, $ROUNDS rounds, $nodes clients, init $INIT"
flwr run "$ROOT/deploy/flower" it --stream --run-config \
    "strategy=\"$STRATEGY\" num-server-rounds=$ROUNDS expected-nodes=$nodes min-nodes=$nodes \
evaluate=$EVALUATE temperature=\"$TEMPERATURE\" init=\"$INIT\" summary-path=\"$WORK/summary.json\"" \
    2>&1 | tee "$WORK/run.log" | grep --line-buffered -E "ROUND|fedmoa round summary|Aggregated|accuracy" || true
[[ -s "$WORK/summary.json" ]] || fail "the run wrote no summary (see $WORK/run.log)"

sleep 3 # let the clients notice the end of the run and leave
for ((i = 0; i < N; i++)); do
    grep -h "flower_client: done" "$WORK/client$i.log" | sed "s/^/client$i: /" >&2 || true
done
initial="$(cat "$WORK"/client*.log 2>/dev/null | sed -n 's/.* initial model accuracy \([0-9.]*\) .*/\1/p' |
    awk '{ s += $1; n += 1 } END { if (n) printf "%.4f (mean of %d clients)", s / n, n }')"
[[ -z "$initial" ]] || echo "before round 1: initial model's validation accuracy $initial"
python - "$WORK/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"\nstrategy {s['strategy']}: {s['num_params']} parameters, final norm {s['final_norm']:.4f}")
for r in s["rounds"]:
    ws = ", ".join(f"{k.split('@')[0]} {v:.3f}" for k, v in sorted(r.get("weights", {}).items()))
    print(f"round {r['round']}: {r['aggregated']} aggregated, {r['errors']} errors; weights: {ws}")
for rnd, m in sorted(s["evaluate"].items()):
    print(f"after round {rnd}: federated evaluation accuracy {m.get('accuracy', float('nan')):.4f}")
PY
