"""Checks fedmoa's PEFT adapter export against Hugging Face PEFT.

Loads the Hugging Face export of the SmolLM2 GGUF, applies the adapter that fedmoa wrote
(`peft.PeftModel.from_pretrained`), and compares the last-position logits with fedmoa's,
with and without the adapter, at the 50 top tokens of each prompt.

Usage (see docs/SMOLLM2.md):
    FEDMOA_PEFT_CHECK_DIR=DIR cargo test --workspace --test smollm2 -- \
        --ignored writes_a_peft_check_fixture
    PYTHON scripts/check-peft-export.py HF_DIR DIR
where PYTHON has torch, transformers and peft (../shared/bench/setup-trl-baseline.sh makes
one) and HF_DIR is the Hugging Face export of the same GGUF. Prints one JSON line and exits
non-zero when a difference exceeds the tolerance.
"""
import json
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

TOLERANCE = 1e-3  # float32 through 30 layers on both sides

hf_dir, check_dir = sys.argv[1], sys.argv[2]
fixture = json.load(open(f"{check_dir}/fedmoa_logits.json"))
base = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
model = PeftModel.from_pretrained(base, f"{check_dir}/adapter").eval()

worst_lora = worst_base = 0.0
adapter_effect = 0.0
for case in fixture["cases"]:
    ids = torch.tensor([case["ids"]])
    top = case["top_ids"]
    with torch.no_grad():
        with_adapter = model(ids).logits[0, -1, top]
        with model.disable_adapter():
            without = model(ids).logits[0, -1, top]
    ours_lora = torch.tensor(case["logits_lora"])
    ours_base = torch.tensor(case["logits_base"])
    worst_lora = max(worst_lora, (with_adapter - ours_lora).abs().max().item())
    worst_base = max(worst_base, (without - ours_base).abs().max().item())
    adapter_effect = max(adapter_effect, (ours_lora - ours_base).abs().max().item())

ok = worst_lora < TOLERANCE and worst_base < TOLERANCE and adapter_effect > 100 * TOLERANCE
print(json.dumps({
    "max_abs_diff_with_adapter": worst_lora,
    "max_abs_diff_base": worst_base,
    "adapter_effect_on_logits": adapter_effect,
    "tolerance": TOLERANCE,
    "ok": ok,
}))
sys.exit(0 if ok else 1)
