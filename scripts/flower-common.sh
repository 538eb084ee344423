#!/usr/bin/env bash
# Shared helpers of scripts/flower-demo.sh and scripts/flower-integration.sh (sourced,
# not run). Expects ROOT, PORT and TAG (log prefix / work-folder name) to be set.
#
# Provides: a virtualenv in .cache/flower-venv with the pinned flwr, FLWR_HOME with a
# CLI connection "it" to 127.0.0.1:$PORT, WORK (log folder), spawn (process-group
# starts, all killed by id on exit), wait_port, fail, log, build_client (sets CLIENT).
# SCENARIO_ARGS (an array, default empty) is passed to the TinyLm client's --export-init.

PYTHON="${PYTHON:-python3.11}"
VENV="$ROOT/.cache/flower-venv"
# The Flower release the Rust client is pinned to (written by recover_protos.py).
FLWR_VERSION="$(cat "$ROOT/fedmoa-flower/proto/FLWR_VERSION")"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
mkdir -p "$ROOT/.cache"
WORK="$(mktemp -d "$ROOT/.cache/$TAG.XXXXXX")"
START=$SECONDS
GROUPS_STARTED=()
if [[ -z "${SCENARIO_ARGS+x}" ]]; then SCENARIO_ARGS=(); fi

log() { echo "[$TAG $((SECONDS - START))s] $*" >&2; }

# Pids of every live descendant of the given pids (Flower's SuperLink and SuperNode
# start helper processes, some in process groups of their own).
descendants() {
    local frontier=("$@") found=() next pid
    while ((${#frontier[@]})); do
        next=()
        for pid in "${frontier[@]}"; do
            while read -r child; do
                [[ -n "$child" ]] && next+=("$child") && found+=("$child")
            done < <(ps -o pid= --ppid "$pid" 2>/dev/null || true)
        done
        frontier=("${next[@]+"${next[@]}"}")
    done
    echo "${found[@]+"${found[@]}"}"
}

cleanup() {
    local rc=$?
    local extra
    # shellcheck disable=SC2207
    extra=($(descendants "${GROUPS_STARTED[@]+"${GROUPS_STARTED[@]}"}"))
    for pgid in "${GROUPS_STARTED[@]+"${GROUPS_STARTED[@]}"}"; do
        kill -TERM -- "-$pgid" 2>/dev/null || true
    done
    for pid in "${extra[@]+"${extra[@]}"}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 2
    for pgid in "${GROUPS_STARTED[@]+"${GROUPS_STARTED[@]}"}"; do
        kill -KILL -- "-$pgid" 2>/dev/null || true
    done
    for pid in "${extra[@]+"${extra[@]}"}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    if [[ $rc -ne 0 ]]; then
        log "FAILED (rc=$rc); logs in $WORK:"
        for f in "$WORK"/*.log; do
            echo "----- $f (last 30 lines)" >&2
            tail -n 30 "$f" >&2 || true
        done
    elif [[ "${KEEP_LOGS:-0}" != 1 ]]; then
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" in a new process group (setsid: its pid is the group id); logs to $1.log.
# Sets LAST_PID (not echoed: a $(...) subshell would lose both the child and the list).
spawn() {
    local name=$1
    shift
    setsid "$@" >"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    GROUPS_STARTED+=("$LAST_PID")
}

fail() {
    log "ASSERTION FAILED: $*"
    exit 1
}

wait_port() {
    for _ in $(seq 1 60); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    fail "nothing listens on 127.0.0.1:$1"
}

# --- virtualenv and Flower CLI configuration ------------------------------------------
if [[ ! -x "$VENV/bin/flower-superlink" ]] ||
    [[ "$("$VENV/bin/python" -c 'import flwr; print(flwr.__version__)' 2>/dev/null)" != "$FLWR_VERSION" ]]; then
    log "creating $VENV with flwr==$FLWR_VERSION"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "flwr==$FLWR_VERSION"
fi
export PATH="$VENV/bin:$PATH"
export FLWR_HOME="$WORK/flwr-home"
mkdir -p "$FLWR_HOME"
cat >"$FLWR_HOME/config.toml" <<EOF
[superlink]
default = "it"

[superlink.it]
address = "127.0.0.1:$PORT"
insecure = true
EOF

# Builds the client (dev profile, $CARGO_TARGET_DIR honoured) and sets CLIENT:
#   build_client          the fedmoa TinyLm GRPO client (examples/flower_client.rs of the
#                         root crate); also sets INIT_DIR, exports the initial model there
#                         (init="npy-dir:$INIT_DIR") and N_PARAMS (its parameter count).
#                         FEDMOA_CACHE_DIR (the warm-start cache) defaults to $WORK/cache.
#   build_client toy      the protocol-only QuadraticTrainer example of fedmoa-flower.
# Both are built by `cargo test --workspace --no-run` (which builds every example): the same
# command, hence the same feature unification, as the README's test command, so after the
# tests nothing is rebuilt (a `cargo build -p …` would unify features differently and
# recompile Burn).
build_examples() {
    (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo test --workspace --no-run --quiet)
}
build_client() {
    if [[ "${1:-}" == toy ]]; then
        log "building the toy example client (fedmoa-flower)"
        build_examples
        CLIENT="$TARGET/debug/examples/quadratic_client"
        return
    fi
    log "building the TinyLm example client (fedmoa)"
    build_examples
    CLIENT="$TARGET/debug/examples/flower_client"
    export FEDMOA_CACHE_DIR="${FEDMOA_CACHE_DIR:-$WORK/cache}"
    INIT_DIR="$WORK/init"
    log "warm start and initial model (cache: $FEDMOA_CACHE_DIR)"
    "$CLIENT" "${SCENARIO_ARGS[@]}" --export-init "$INIT_DIR" >"$WORK/export-init.log" 2>&1 ||
        fail "exporting the initial model (see $WORK/export-init.log)"
    N_PARAMS="$(sed -n 's/.* tensors, \([0-9]*\) parameters .*/\1/p' "$WORK/export-init.log")"
    [[ -n "$N_PARAMS" ]] || fail "no parameter count in $WORK/export-init.log"
    log "$(grep -h "warm start" "$WORK/export-init.log" | sed 's/^flower_client: //'); $N_PARAMS parameters"
}
