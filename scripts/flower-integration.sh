#!/usr/bin/env bash
# Integration test of fedmoa Rust clients in a real Flower federation (flwr 1.42.0).
#
#   scripts/flower-integration.sh
#
# 1. creates/reuses a virtualenv in .cache/flower-venv with flwr==1.42.0 (PyPI);
# 2. builds the fedmoa TinyLm GRPO client (examples/flower_client.rs, dev profile) and
#    exports its warm-started initial model as NPY files for the ServerApp's
#    init="npy-dir:..." (scenario: 2 math + 2 code clients, seed 0);
# 3. runs the Python half of the shared aggregation test vector;
# 4. starts a SuperLink on 127.0.0.1 (insecure) and one stock Flower SuperNode running
#    the numpy ClientApp of deploy/flower;
# 5. mixed run: 2 fedmoa TinyLm clients (math-0, code-0) + the Python SuperNode, FedMOA
#    strategy, 2 rounds; asserts `flwr run` exited 0, the server's model is the TinyLm
#    layout, every round aggregated all 3 replies, the Rust clients left cleanly (exit 0);
# 6. fault run: 3 TinyLm clients + the Python SuperNode; one Rust client is killed
#    (SIGKILL) while it trains round 1; asserts both rounds complete with the others;
# 7. restart run: the SuperLink is restarted (state lost) under a connected Rust client,
#    which re-registers with backoff and serves the next run;
# 8. TLS run: a SuperLink with a certificate from a throw-away CA (openssl); a client
#    without the CA fails at once, one with --root-certificates completes 2 rounds.
#
# Every process is started in its own process group and killed by that id on exit.
# Environment: FLOWER_IT_PORT (default 18731), PYTHON (default python3.11),
# CARGO_TARGET_DIR (default target), FEDMOA_CACHE_DIR (warm-start cache; default a fresh
# folder in the log folder), KEEP_LOGS=1 to keep the log folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${FLOWER_IT_PORT:-18731}"
SUPERNODE_PORT=$((PORT + 1))
TAG=flower-it
# shellcheck source=scripts/flower-common.sh
source "$ROOT/scripts/flower-common.sh"

# --- 2. build ------------------------------------------------------------------------
build_client

# --- 3. shared test vector (Python half; the Rust half is a cargo test) ---------------
log "aggregation test vector (Python)"
python -m unittest discover -s "$ROOT/deploy/flower/tests" >"$WORK/pytest.log" 2>&1 || fail "Python aggregation tests"

# --- 4. SuperLink and a stock Python SuperNode ---------------------------------------
log "starting the SuperLink on 127.0.0.1:$PORT"
spawn superlink flower-superlink --insecure --disable-runtime-dependency-installation \
    --host 127.0.0.1 --port "$PORT"
superlink=$LAST_PID
wait_port "$PORT"
spawn supernode flower-supernode --insecure --superlink "127.0.0.1:$PORT" \
    --host 127.0.0.1 --port "$SUPERNODE_PORT"
supernode=$LAST_PID

# Scenario client indices (2 math, then 2 code clients): 0 math-0, 1 math-1, 2 code-0,
# 3 code-1.
rust_client() { # name client-index [extra args]
    local name=$1 index=$2
    shift 2
    spawn "$name" "$CLIENT" --superlink "http://127.0.0.1:$PORT" --client-index "$index" \
        --heartbeat 10 --exit-after-run "$@"
}

flwr_run() { # name run-config
    local name=$1 cfg=$2
    timeout 300 flwr run "$ROOT/deploy/flower" it --stream --run-config \
        "$cfg init=\"npy-dir:$INIT_DIR\" summary-path=\"$WORK/$name.json\"" >"$WORK/$name.log" 2>&1
}

check_summary() { # name rounds replies-per-round errors-per-round(csv) tasks(csv)
    python - "$WORK/$1.json" "$2" "$3" "$4" "$5" "$N_PARAMS" <<'EOF'
import json, sys
path, rounds, replies, errors = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tasks = set(sys.argv[5].split(","))
errors = [int(e) for e in errors.split(",")]
s = json.load(open(path))
assert s["num_params"] == int(sys.argv[6]), f"server model: {s['num_params']} parameters, TinyLm has {sys.argv[6]}"
got = s["rounds"]
assert len(got) == rounds, f"{len(got)} rounds recorded, expected {rounds}: {got}"
for r, e in zip(got, errors):
    assert r["replies"] == replies, f"round {r['round']}: {r['replies']} replies, expected {replies}"
    assert r["aggregated"] == replies, f"round {r['round']}: aggregated {r['aggregated']} of {replies}"
    assert r["errors"] == e, f"round {r['round']}: {r['errors']} errors, expected {e}"
    assert abs(sum(r["weights"].values()) - 1) < 1e-9, r["weights"]
    assert set(r["tasks"]) == tasks, r["tasks"]
print(f"ok: {rounds} rounds, {replies} replies aggregated per round, errors {errors}")
EOF
}

wait_exit() { # pid name
    local rc=0
    for _ in $(seq 1 60); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$1" 2>/dev/null && fail "$2 did not exit after the run"
    wait "$1" || rc=$?
    [[ $rc -eq 0 ]] || fail "$2 exited with $rc"
    grep -q "left the federation" "$WORK/$2.log" || fail "$2 did not leave cleanly"
}

# --- 5. mixed federation: 2 Rust clients + 1 Python SuperNode -------------------------
log "run 1: 2 fedmoa TinyLm clients (math, code) + 1 Flower SuperNode, FedMOA, 2 rounds"
rust_client rust0 0
c0=$LAST_PID
rust_client rust1 2 --weighter fixed
c1=$LAST_PID
flwr_run mixed 'num-server-rounds=2 expected-nodes=3 min-nodes=3 round-timeout=120.0' ||
    fail "flwr run (mixed) exited non-zero"
check_summary mixed 2 3 0,0 math,code,python >&2 || fail "mixed run summary"
wait_exit "$c0" rust0
wait_exit "$c1" rust1
log "run 1 passed"

# --- 6. fault: one Rust client killed in the middle of round 1 -----------------------
log "run 2: 3 fedmoa TinyLm clients (one killed mid-round) + 1 Flower SuperNode"
rust_client rust0b 0
c0=$LAST_PID
rust_client rust1b 2
c1=$LAST_PID
rust_client victim 1 --train-delay 120
victim=$LAST_PID
flwr_run fault 'num-server-rounds=2 expected-nodes=4 min-nodes=3 round-timeout=120.0' &
run_pid=$!
for _ in $(seq 1 120); do
    grep -q "received train" "$WORK/victim.log" 2>/dev/null && break
    sleep 0.5
done
grep -q "received train" "$WORK/victim.log" || fail "the victim never started training"
log "killing the victim (pid $victim) while it trains"
kill -KILL -- "-$victim"
wait "$run_pid" || fail "flwr run (fault) exited non-zero"
# Round 1: 3 replies + 1 error (node unavailable); round 2: only the 3 survivors.
check_summary fault 2 3 1,0 math,code,python >&2 || fail "fault run summary"
wait_exit "$c0" rust0b
wait_exit "$c1" rust1b
log "run 2 passed"

# --- 7. SuperLink restart: a connected client re-registers and serves the next run ---
log "run 3: restarting the SuperLink under a connected fedmoa client"
rust_client rust_restart 1
cr=$LAST_PID
for _ in $(seq 1 60); do
    grep -q "activated node" "$WORK/rust_restart.log" 2>/dev/null && break
    sleep 0.5
done
kill -TERM -- "-$supernode" 2>/dev/null || true
kill -TERM -- "-$superlink" 2>/dev/null || true
wait "$supernode" "$superlink" 2>/dev/null || true
sleep 2
spawn superlink2 flower-superlink --insecure --disable-runtime-dependency-installation \
    --host 127.0.0.1 --port "$PORT"
wait_port "$PORT"
flwr_run restart 'num-server-rounds=2 expected-nodes=1 min-nodes=1 round-timeout=120.0' ||
    fail "flwr run (restart) exited non-zero"
check_summary restart 2 1 0,0 math >&2 || fail "restart run summary"
wait_exit "$cr" rust_restart
grep -q "1 reconnects" "$WORK/rust_restart.log" || fail "rust_restart did not reconnect exactly once"
log "run 3 passed"

# --- 8. TLS: SuperLink with a certificate from a throw-away CA ----------------------
if command -v openssl >/dev/null; then
    log "run 4: TLS (SuperLink certificate signed by a test CA)"
    TLS_PORT=$((PORT + 10))
    (
        cd "$WORK"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
            -subj "/CN=fedmoa test CA" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
            -subj "/CN=127.0.0.1" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >ext.cnf
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
            -out server.crt -days 2 -extfile ext.cnf 2>/dev/null
    )
    printf '\n[superlink.tls]\naddress = "127.0.0.1:%s"\nroot-certificates = "%s"\n' \
        "$TLS_PORT" "$WORK/ca.crt" >>"$FLWR_HOME/config.toml"
    spawn superlink_tls flower-superlink --disable-runtime-dependency-installation \
        --ssl-ca-certfile "$WORK/ca.crt" --ssl-certfile "$WORK/server.crt" \
        --ssl-keyfile "$WORK/server.key" --host 127.0.0.1 --port "$TLS_PORT"
    wait_port "$TLS_PORT"
    # Without the CA the client must refuse the server at once (no retries).
    untrusted_rc=0
    timeout 20 "$CLIENT" --superlink "https://127.0.0.1:$TLS_PORT" --quiet \
        >"$WORK/untrusted.log" 2>&1 || untrusted_rc=$?
    [[ $untrusted_rc -eq 1 ]] || fail "client without the CA: exit $untrusted_rc, expected 1"
    grep -q "TLS with the SuperLink" "$WORK/untrusted.log" || fail "no TLS error reported"
    spawn rust_tls "$CLIENT" --superlink "https://127.0.0.1:$TLS_PORT" \
        --root-certificates "$WORK/ca.crt" --client-index 3 --heartbeat 10 --exit-after-run
    ct=$LAST_PID
    timeout 300 flwr run "$ROOT/deploy/flower" tls --stream --run-config \
        "num-server-rounds=2 expected-nodes=1 min-nodes=1 init=\"npy-dir:$INIT_DIR\" summary-path=\"$WORK/tls.json\"" \
        >"$WORK/tls.log" 2>&1 || fail "flwr run (tls) exited non-zero"
    check_summary tls 2 1 0,0 code >&2 || fail "TLS run summary"
    wait_exit "$ct" rust_tls
    log "run 4 passed"
else
    log "WARNING: openssl not found; TLS run skipped"
fi
log "all Flower integration checks passed in $((SECONDS - START)) s"
