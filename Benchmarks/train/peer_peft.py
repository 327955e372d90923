"""Peer for `twin bench train`: PyTorch + PEFT LoRA SFT steps on CPU, SmolLM2-135M shape, f32.

Same work as the Swift benchmark: --batch sequences (default 1) of --seq random tokens, loss on every
position, LoRA r=16 alpha=32 dropout 0 on q,k,v,o,gate,up,down, AdamW, grad-norm clip 1.0.
Prints one JSON line: tokens/s of the median step, step times, peak RSS (ru_maxrss), losses.
With --gguf the real SmolLM2 weights are loaded (dequantised by transformers); random otherwise
(timing and memory depend only on the shapes).
"""
import argparse
import json
import resource
import statistics
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gguf", default=None, help="path to SmolLM2-135M-Instruct GGUF (optional)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.gguf:
        import os
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained(
            os.path.dirname(args.gguf), gguf_file=os.path.basename(args.gguf), torch_dtype=torch.float32)
    else:
        config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                             num_attention_heads=9, num_key_value_heads=3, rms_norm_eps=1e-5, rope_theta=100000.0,
                             tie_word_embeddings=True, max_position_embeddings=8192)
        model = LlamaForCausalLM(config).to(torch.float32)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    ids = torch.randint(0, 49152, (args.batch, args.seq), generator=torch.Generator().manual_seed(0))
    times, losses = [], []
    cpu_start = None
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            cpu_start = time.process_time()
        t0 = time.perf_counter()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt)
            losses.append(out.loss.item())
    cpu_per_step = (time.process_time() - cpu_start) / args.steps
    median = statistics.median(times)
    print(json.dumps({
        "peer": f"torch {torch.__version__} + peft",
        "batch": args.batch,
        "tokens_per_second": args.batch * (args.seq - 1) / median,
        "median_step_seconds": median,
        "step_seconds": times,
        "cpu_seconds_per_step": cpu_per_step,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "losses": losses,
        "trainable_parameters": sum(p.numel() for p in params),
    }))


if __name__ == "__main__":
    main()
