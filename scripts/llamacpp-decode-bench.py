#!/usr/bin/env python3
"""llama.cpp's decode rate on the SmolLM2 GGUF, measured the way `smollm2_perf` measures ours.

The peer for #18's decode targets, run in the same sitting as `smollm2_perf --decode-only`:
the same GGUF, the same chat prompt (the GSM8K question about Natalia's clips with
SmolLM2's default system prompt), `b` identical rows prefilled at once, then 32 greedy
steps of one new token per row, each step's logits read back (as our sampler does).
Prints one line per batch size and a JSON line at the end.

Setup (compiles llama.cpp from the PyPI sdist of llama-cpp-python; ~5 min on 2 cores):
    python3 -m venv ~/.cache/llamacpp-venv
    CMAKE_ARGS="-DGGML_NATIVE=ON" ~/.cache/llamacpp-venv/bin/pip install llama-cpp-python numpy
On a VM whose CPU lists AMX but traps its instructions (SIGILL in `tileloadd`), add
    CFLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" CXXFLAGS="$CFLAGS"
to the install command (measured that way on 2026-12-07, llama-cpp-python 0.3.36).
Usage:
    ~/.cache/llamacpp-venv/bin/python scripts/llamacpp-decode-bench.py "$FEDMOA_SMOLLM2_GGUF" [THREADS]
"""

import ctypes
import json
import sys
import time

import llama_cpp as lc
import numpy as np

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
QUESTION = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether in April and May?"
)
STEPS = 32


def tokenize(vocab, text):
    raw = text.encode()
    buf = (lc.llama_token * (len(raw) + 16))()
    n = lc.llama_tokenize(vocab, raw, len(raw), buf, len(buf), False, True)
    if n < 0:
        raise RuntimeError("tokenize failed")
    return list(buf[:n])


def fill(batch, entries):
    """entries: (token, position, sequence, wants_logits)."""
    for i, (token, pos, seq, logits) in enumerate(entries):
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits
    batch.n_tokens = len(entries)


def run(ctx, vocab, prompt, rows):
    n_vocab = lc.llama_vocab_n_tokens(vocab)
    lc.llama_memory_clear(lc.llama_get_memory(ctx), True)
    batch = lc.llama_batch_init(rows * len(prompt), 0, rows)
    try:
        last = len(prompt) - 1
        t = time.perf_counter()
        fill(
            batch,
            [(tok, p, r, p == last) for r in range(rows) for p, tok in enumerate(prompt)],
        )
        if lc.llama_decode(ctx, batch) != 0:
            raise RuntimeError("prefill failed")
        heads = [r * len(prompt) + last for r in range(rows)]
        nxt = [argmax(ctx, i, n_vocab) for i in heads]
        prefill = time.perf_counter() - t
        t = time.perf_counter()
        for step in range(STEPS):
            fill(batch, [(nxt[r], len(prompt) + step, r, True) for r in range(rows)])
            if lc.llama_decode(ctx, batch) != 0:
                raise RuntimeError("decode failed")
            nxt = [argmax(ctx, r, n_vocab) for r in range(rows)]
        decode = time.perf_counter() - t
    finally:
        lc.llama_batch_free(batch)
    return prefill, rows * STEPS / decode


def argmax(ctx, i, n_vocab):
    ptr = lc.llama_get_logits_ith(ctx, i)
    return int(np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), (n_vocab,)).argmax())


def main():
    path = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    lc.llama_backend_init()
    model = lc.llama_model_load_from_file(path.encode(), lc.llama_model_default_params())
    params = lc.llama_context_default_params()
    params.n_ctx = 4096
    params.n_batch = 4096
    params.n_ubatch = 512
    params.n_seq_max = 8
    params.n_threads = threads
    params.n_threads_batch = threads
    ctx = lc.llama_init_from_model(model, params)
    vocab = lc.llama_model_get_vocab(model)
    text = (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
        f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n"
    )
    prompt = tokenize(vocab, text)
    print(f"prompt: {len(prompt)} tokens, {threads} threads")
    rates = {}
    for rows in (1, 8):
        run(ctx, vocab, prompt, rows)  # warm-up
        prefill, rate = run(ctx, vocab, prompt, rows)
        print(
            f"batch {rows}: prefill {rows * len(prompt) / prefill:.0f} tok/s ({prefill:.2f} s), "
            f"decode {rate:.1f} tok/s ({1000 * rows / rate:.0f} ms/step)"
        )
        rates[f"decode_tok_s_b{rows}"] = round(rate, 1)
    lc.llama_free(ctx)
    lc.llama_model_free(model)
    print(json.dumps(rates))


if __name__ == "__main__":
    main()
