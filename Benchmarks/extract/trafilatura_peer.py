"""Peer for `twin bench extract`: runs trafilatura on the same pages and scores it with the same rule.

Usage: trafilatura_peer.py DATA_DIR [--repeat N] [--json]
DATA_DIR holds ground-truth.json ({id: {articleBody, url}}) and html/<id>.html.gz.
Scoring (the article-extraction benchmark's rule): `\\w+` tokens, 4-token shingles with counts,
per-page tp/fp/fn normalised by their sum, precision/recall macro-averaged, F1 of the averages.
"""
import argparse
import gzip
import json
import re
import resource
import statistics
import sys
import time
from collections import Counter

import trafilatura

TOKEN = re.compile(r"\w+", re.UNICODE)


def shingles(text, size=4):
    tokens = TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    count = max(1, len(tokens) - size + 1)
    return Counter(" ".join(tokens[i:i + size]) for i in range(count))


def page_counts(truth, predicted):
    true_shingles, predicted_shingles = shingles(truth), shingles(predicted)
    tp = fp = fn = 0.0
    for key in set(true_shingles) | set(predicted_shingles):
        t, p = true_shingles.get(key, 0), predicted_shingles.get(key, 0)
        tp += min(t, p)
        fp += max(0, p - t)
        fn += max(0, t - p)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total > 0 else (0.0, 0.0, 0.0)


def score(pages):
    precisions, recalls = [], []
    for tp, fp, fn in pages:
        if fp == 0 and fn == 0:
            precisions.append(1.0)
            recalls.append(1.0)
            continue
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with open(f"{args.data}/ground-truth.json", encoding="utf-8") as handle:
        truth = json.load(handle)
    ids = sorted(truth)
    # Same input as the Swift side: decompressed bytes, decoded as UTF-8 (the set is UTF-8).
    pages = [gzip.open(f"{args.data}/html/{i}.html.gz").read().decode("utf-8", "replace") for i in ids]
    predictions = [""] * len(ids)
    durations = []
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        for index, (page_id, html) in enumerate(zip(ids, pages)):
            predictions[index] = trafilatura.extract(
                html, url=truth[page_id].get("url"), include_comments=False) or ""
        durations.append(time.perf_counter() - start)
    median = statistics.median(durations)
    f1, precision, recall = score(
        [page_counts(truth[i].get("articleBody", ""), p) for i, p in zip(ids, predictions)])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"tool": f"trafilatura {trafilatura.__version__}", "pages": len(ids), "f1": f1,
              "precision": precision, "recall": recall, "pages_per_second": len(ids) / median,
              "median_seconds": median, "peak_rss_mb": peak}
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"{result['tool']}: {len(ids)} pages  F1 {f1:.4f}  P {precision:.4f}  R {recall:.4f}  "
              f"{result['pages_per_second']:.1f} pages/s (median of {len(durations)})  peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
