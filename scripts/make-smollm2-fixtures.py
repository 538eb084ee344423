#!/usr/bin/env python3
"""Reference fixtures for fedmoa's SmolLM2 loader, from an implementation that is not fedmoa's.

* Token ids: a self-contained byte-level BPE written here (GPT-2 byte alphabet, llama.cpp's
  `smollm` pre-tokenizer: control tokens whole, then every digit alone, then the GPT-2
  split regex; merges applied by rank) over the GGUF vocabulary.
* Logits: a float64 numpy forward pass of the Llama architecture over the tensors the
  `gguf` PyPI package dequantises (not fedmoa's reader or dequantiser), with GGUF's
  interleaved RoPE pairs, grouped-query attention, RMSNorm, SwiGLU and tied embeddings.

For each prompt it records the token ids, the top-20 logits at the last position and a
16-token greedy continuation (with each step's top-1/top-2 margin, so a test can stop
comparing where float32 rounding could flip a near tie).

Setup (once):   python3 -m venv .cache/fixtures-venv
                .cache/fixtures-venv/bin/pip install numpy gguf regex
Run:            .cache/fixtures-venv/bin/python scripts/make-smollm2-fixtures.py \
                    "$(scripts/fetch-smollm2.sh)" fedmoa-grpo/tests/fixtures/smollm2
"""

import json
import sys
from pathlib import Path

import numpy as np
import regex
from gguf import GGUFReader
from gguf.quants import dequantize

TOP_K = 20
GREEDY_STEPS = 16

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chatml(user):
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
            f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")


# Prompts with logits and greedy continuations (each costs 17 forward passes here).
MODEL_PROMPTS = [
    "The capital of France is",
    chatml("What is 12 + 30?"),
    chatml("Natalia sold clips to 48 of her friends in April, and then she sold half as many "
           "clips in May. How many clips did Natalia sell altogether in April and May?"),
    "def fibonacci(n):\n    ",
]

# Extra texts for tokenisation only: digits, spaces, punctuation, unicode, newlines.
TOKEN_TEXTS = MODEL_PROMPTS + [
    "2024 apples, 3.14159 and 1,000,000!",
    "Hello   world\n\n\tTabs and  double  spaces.  ",
    "Zoë owes €5 — naïve café 日本語 🙂",
    "<|im_start|>user\nHi<|im_end|>\n<|endoftext|>",
    "It's they're we've I'm you'll he'd DON'T",
    "    indented code: x[i] = y ** 2 // 3",
]

GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable characters."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = keep[:]
    n = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(keep, map(chr, chars)))


class Bpe:
    def __init__(self, tokens, types, merges):
        self.vocab = {t: i for i, t in enumerate(tokens)}
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}
        self.specials = sorted((t for t, ty in zip(tokens, types) if ty in (3, 4)), key=len, reverse=True)
        self.byte_map = bytes_to_unicode()
        self.split = regex.compile(GPT2_SPLIT)

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), None), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            pairs = [p for p in pairs if p[0] is not None]
            if not pairs:
                break
            _, i = min(pairs)
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        return [self.vocab[p] for p in parts]

    def encode_plain(self, text):
        ids = []
        for chunk in regex.split(r"(\p{N})", text):  # every digit is its own piece
            if not chunk:
                continue
            for piece in self.split.findall(chunk):
                mapped = "".join(self.byte_map[b] for b in piece.encode("utf-8"))
                ids.extend(self.bpe(mapped))
        return ids

    def encode(self, text):
        pattern = "(" + "|".join(regex.escape(s) for s in self.specials) + ")"
        ids = []
        for chunk in regex.split(pattern, text):
            if chunk in self.vocab and chunk in self.specials:
                ids.append(self.vocab[chunk])
            elif chunk:
                ids.extend(self.encode_plain(chunk))
        return ids


def field(reader, key):
    f = reader.fields[key]
    if len(f.types) > 1:  # array
        if f.types[1].name == "STRING":
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
        return [int(f.parts[i][0]) for i in f.data]
    v = f.parts[f.data[0]]
    return bytes(v).decode("utf-8") if f.types[0].name == "STRING" else v[0].item()


class Llama:
    """float64 reference forward pass (no cache: recomputes the whole sequence)."""

    def __init__(self, reader):
        self.n_layers = field(reader, "llama.block_count")
        self.n_heads = field(reader, "llama.attention.head_count")
        self.n_kv = field(reader, "llama.attention.head_count_kv")
        self.d = field(reader, "llama.embedding_length")
        self.hd = self.d // self.n_heads
        self.theta = field(reader, "llama.rope.freq_base")
        self.eps = field(reader, "llama.attention.layer_norm_rms_epsilon")
        self.w = {}
        for t in reader.tensors:
            # GGUF dims are innermost first; the dequantised array is row-major [out, in].
            self.w[t.name] = dequantize(t.data, t.tensor_type).reshape(list(reversed(t.shape.tolist()))).astype(np.float64)
        self.out = self.w.get("output.weight", self.w["token_embd.weight"])

    def rms(self, x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * g

    def rope(self, x):  # x: [heads, T, hd]; pairs (2i, 2i+1) rotated by pos * theta^(-2i/hd)
        t = x.shape[1]
        inv = self.theta ** (-np.arange(0, self.hd, 2, dtype=np.float64) / self.hd)
        ang = np.arange(t, dtype=np.float64)[:, None] * inv[None, :]
        cos, sin = np.cos(ang), np.sin(ang)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * cos - x1 * sin
        out[..., 1::2] = x0 * sin + x1 * cos
        return out

    def last_logits(self, ids):
        w = self.w
        x = w["token_embd.weight"][ids]
        t = len(ids)
        causal = np.triu(np.full((t, t), -np.inf), 1)
        group = self.n_heads // self.n_kv
        for i in range(self.n_layers):
            h = self.rms(x, w[f"blk.{i}.attn_norm.weight"])
            q = (h @ w[f"blk.{i}.attn_q.weight"].T).reshape(t, self.n_heads, self.hd).transpose(1, 0, 2)
            k = (h @ w[f"blk.{i}.attn_k.weight"].T).reshape(t, self.n_kv, self.hd).transpose(1, 0, 2)
            v = (h @ w[f"blk.{i}.attn_v.weight"].T).reshape(t, self.n_kv, self.hd).transpose(1, 0, 2)
            q, k = self.rope(q), self.rope(k)
            k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(self.hd) + causal
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            a = (s / s.sum(axis=-1, keepdims=True)) @ v
            x = x + a.transpose(1, 0, 2).reshape(t, self.d) @ w[f"blk.{i}.attn_output.weight"].T
            h = self.rms(x, w[f"blk.{i}.ffn_norm.weight"])
            g = h @ w[f"blk.{i}.ffn_gate.weight"].T
            u = h @ w[f"blk.{i}.ffn_up.weight"].T
            x = x + (g / (1.0 + np.exp(-g)) * u) @ w[f"blk.{i}.ffn_down.weight"].T
        return self.rms(x[-1], w["output_norm.weight"]) @ self.out.T


def main():
    gguf_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    reader = GGUFReader(gguf_path)
    tok = Bpe(field(reader, "tokenizer.ggml.tokens"), field(reader, "tokenizer.ggml.token_type"),
              field(reader, "tokenizer.ggml.merges"))
    eos = field(reader, "tokenizer.ggml.eos_token_id")
    out_dir.mkdir(parents=True, exist_ok=True)
    tokens = [{"text": t, "ids": tok.encode(t)} for t in TOKEN_TEXTS]
    (out_dir / "tokens.json").write_text(json.dumps({"generator": "scripts/make-smollm2-fixtures.py",
                                                     "cases": tokens}, ensure_ascii=False, indent=1) + "\n")
    model = Llama(reader)
    cases = []
    for text in MODEL_PROMPTS:
        ids = tok.encode(text)
        logits = model.last_logits(ids)
        top = np.argsort(-logits)[:TOP_K]
        greedy, margins, seq, step_logits = [], [], list(ids), logits
        for _ in range(GREEDY_STEPS):
            order = np.argsort(-step_logits)
            greedy.append(int(order[0]))
            margins.append(float(step_logits[order[0]] - step_logits[order[1]]))
            if order[0] == eos:
                break
            seq.append(int(order[0]))
            step_logits = model.last_logits(seq)
        cases.append({"text": text, "ids": ids,
                      "top_ids": [int(i) for i in top], "top_logits": [round(float(logits[i]), 5) for i in top],
                      "greedy": greedy, "greedy_margins": [round(m, 5) for m in margins]})
        print(f"{len(ids):3d} tokens, greedy: {greedy}", file=sys.stderr)
    (out_dir / "logits.json").write_text(json.dumps({"generator": "scripts/make-smollm2-fixtures.py",
                                                     "precision": "float64", "top_k": TOP_K,
                                                     "cases": cases}, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
