"""Reference per-token log-probabilities of SmolLM2-135M-Instruct from transformers (fixture generator).

Loads the GGUF through transformers (dequantised to f32, Q/K rows un-permuted to Hugging Face order),
scores a fixed token-id sequence, and writes Tests/NeuralTests/Fixtures/training/smollm2_logprobs.json.
Run once with Benchmarks/train/.venv-train/bin/python; only the numbers are committed.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM

path = sys.argv[1]
out = sys.argv[2]
model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                             torch_dtype=torch.float32)
model.eval()
# A fixed sequence: ids spread over the vocabulary plus common ones, deterministic.
ids = [1, 504, 2287, 5145, 335, 260, 2943, 30, 378, 1345, 4987, 2135, 314, 3452, 28, 284, 1789, 623, 7, 2]
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0]
logp = torch.log_softmax(logits.double(), dim=-1)
values = [logp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    json.dump({"model": os.path.basename(path), "tool": "transformers " + __import__("transformers").__version__,
               "ids": ids, "logprobs": values}, f, indent=1)
print(values)
