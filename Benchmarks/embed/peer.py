#!/usr/bin/env python3
"""The peer of `twin bench embed`: sentence-transformers on torch CPU, same model files, same sentences.

Prints one JSON object: batch throughput (sentences/s and sentences per CPU-second, median of --repeats),
single-sentence latency (median ms) and peak RSS. Called by `twin bench embed --peer-python ...`; runnable alone.
"""
import argparse, json, resource, statistics, time

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--sentences", required=True)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--latency-samples", type=int, default=50)
args = parser.parse_args()

import torch
torch.set_num_threads(args.threads)
from sentence_transformers import SentenceTransformer
import sentence_transformers

sentences = [line.rstrip("\n") for line in open(args.sentences, encoding="utf-8") if line.strip()]
model = SentenceTransformer(args.model, device="cpu")
model.encode(sentences[: args.batch], batch_size=args.batch)  # warm-up

rates, cpu_rates = [], []
for _ in range(args.repeats):
    start, cpu_start = time.perf_counter(), time.process_time()  # process_time: user + system, all threads
    model.encode(sentences, batch_size=args.batch)
    rates.append(len(sentences) / (time.perf_counter() - start))
    cpu_rates.append(len(sentences) / (time.process_time() - cpu_start))

latencies = []
for text in sentences[: args.latency_samples]:
    start = time.perf_counter()
    model.encode([text], batch_size=1)
    latencies.append((time.perf_counter() - start) * 1000)

print(json.dumps({
    "peer": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
    "threads": torch.get_num_threads(),
    "sentences_per_second": statistics.median(rates),
    "sentences_per_cpu_second": statistics.median(cpu_rates),
    "single_latency_ms": statistics.median(latencies),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
