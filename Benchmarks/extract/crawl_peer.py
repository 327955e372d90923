"""Peer for `twin bench extract --crawl`: a plain Python crawler over the same loopback corpus.

Usage: crawl_peer.py CORPUS_DIR [--workers 1,2,4] [--links 480] [--json]
Serves CORPUS_DIR with python3's http.server on 127.0.0.1 (as the twin side does), then for each worker
count runs that many processes, each fetching its share of the links with urllib and extracting them
with trafilatura.extract — the fetch + extract half of a crawl, with no queue and no database, so it is
a lower bound on what a Python crawl job costs. Reports links/s (wall clock) and the workers' CPU.
"""
import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import urllib.request

import trafilatura


def pages(corpus):
    found = []
    for folder, _, files in os.walk(corpus):
        for name in files:
            path = os.path.relpath(os.path.join(folder, name), corpus)
            if name.endswith(".html") and path != "index.html":
                found.append(path)
    return sorted(found)


def crawl(links):
    extracted = 0
    for link in links:
        with urllib.request.urlopen(link, timeout=30) as response:
            html = response.read().decode("utf-8", "replace")
        if trafilatura.extract(html, url=link, include_comments=False):
            extracted += 1
    return extracted


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--links", type=int, default=480)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", args.corpus, "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 41234 (...) ..."
        port = int(line.split(" port ")[1].split()[0])
        names = pages(args.corpus)
        rounds = []
        for workers in [int(w) for w in args.workers.split(",")]:
            links = ["http://127.0.0.1:%d/%s?round=%d&n=%d" % (port, names[i % len(names)], workers, i)
                     for i in range(args.links)]
            shares = [links[i::workers] for i in range(workers)]
            before = children_cpu()
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                # Timed from the first link, not from process start-up (as the twin side is).
                start = time.perf_counter()
                extracted = sum(pool.map(crawl, shares, chunksize=1))
                seconds = time.perf_counter() - start
            cpu = children_cpu() - before
            rounds.append({"workers": workers, "links": len(links), "succeeded": extracted, "seconds": seconds,
                           "links_per_second": extracted / seconds, "worker_cpu_seconds": cpu,
                           "cpu_ms_per_link": cpu * 1000 / max(1, extracted)})
            if not args.json:
                print("peer (urllib + trafilatura), %d process(es): %d/%d links in %.2f s = %.1f links/s, "
                      "worker CPU %.2f s (%.1f ms/link)" % (workers, extracted, len(links), seconds,
                                                           extracted / seconds, cpu, cpu * 1000 / max(1, extracted)))
        if args.json:
            print(json.dumps({"tool": "urllib+trafilatura", "benchmark": "crawl", "rounds": rounds}, sort_keys=True))
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
