"""Runs Dramatiq and RQ on the same redis-server as Twin and prints their figures as JSON.

Usage: python peers.py --jobs N   (Redis database 3 of TWIN_REDIS_URL's server is flushed and used)
Measures, per peer: single enqueue rate, and burn-down throughput of N no-op jobs (time from the first
job's start to the last job's end, as recorded by the jobs themselves; worker start-up excluded).
"""
import argparse
import json
import os
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
base = os.environ.get("TWIN_REDIS_URL", "redis://127.0.0.1:16379").rstrip("/")
os.environ["PEER_REDIS"] = base + "/3"

import redis  # noqa: E402

R = redis.Redis.from_url(os.environ["PEER_REDIS"])


def wait_done(n, timeout=600):
    t0 = time.time()
    while int(R.get("peer:done") or 0) < n:
        if time.time() - t0 > timeout:
            raise SystemExit("peer did not finish")
        time.sleep(0.05)
    return float(R.get("peer:last")) - float(R.get("peer:first"))


def run_dramatiq(n):
    import peer_tasks
    R.flushdb()
    t0 = time.time()
    for _ in range(n):
        peer_tasks.dramatiq_noop.send()
    enq = n / (time.time() - t0)
    env = dict(os.environ, PYTHONPATH=here)
    # Same concurrency budget as Twin's unbatched run: 1 process, 16 threads (and 2×8).
    results = {"enqueue_per_second": enq}
    for procs, threads in ((1, 16), (2, 8)):
        if procs == 2:
            R.flushdb()
            for _ in range(n):
                peer_tasks.dramatiq_noop.send()
        w = subprocess.Popen([sys.executable, "-m", "dramatiq", "peer_tasks", "-p", str(procs), "-t", str(threads), "-Q", "peer"],
                             env=env, cwd=here, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            secs = wait_done(n)
        finally:
            w.terminate()
            w.wait()
        results[f"burn_down_{procs}x{threads}_per_second"] = n / secs
    return results


def run_rq(n):
    from rq import Queue
    import peer_tasks
    R.flushdb()
    q = Queue("peer", connection=R)
    t0 = time.time()
    for _ in range(n):
        q.enqueue(peer_tasks.rq_noop)
    enq = n / (time.time() - t0)
    env = dict(os.environ, PYTHONPATH=here)
    # SimpleWorker runs jobs in-process (RQ's fastest mode); two of them for the two cores.
    workers = [subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "--burst", "-w", "rq.worker.SimpleWorker",
                                 "-u", os.environ["PEER_REDIS"], "peer"], env=env, cwd=here,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        secs = wait_done(n)
    finally:
        for w in workers:
            w.terminate()
            w.wait()
    return {"enqueue_per_second": enq, "burn_down_2_simpleworkers_per_second": n / secs}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=20000)
    a = ap.parse_args()
    out = {"dramatiq": run_dramatiq(a.jobs), "rq": run_rq(max(1000, a.jobs // 4))}
    R.flushdb()
    print(json.dumps(out))
