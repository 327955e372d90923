#!/usr/bin/env bash
# SFT training throughput: Swift (LlamaTrainModel, LoRA r16 on all seven projections, seq 256) against the
# PyTorch + PEFT peer with the same shapes, batch and thread count, run back to back.
# Usage: Benchmarks/train/run.sh [steps=5] [threads=2] [batch=1]   (build the tests first; see docs/benchmarks/train.md)
# Env: TWIN_TRAIN_BENCH_CKPT=1 (gradient checkpointing), TWIN_TRAIN_BENCH_QLORA=q8_0|q4_1,
#      TWIN_TRAIN_BENCH_PEER=0 (Twin only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
steps="${1:-5}"
threads="${2:-2}"
batch="${3:-1}"
# OpenBLAS falls back to its generic (Prescott) kernels on CPUs it cannot name (a virtual "Intel Xeon
# Processor"), ~8x slower than its AVX-512 kernels, and some machines preset OPENBLAS_CORETYPE=Haswell
# (AVX2) on AVX-512 hardware (1.7x more CPU time per step here). The benchmark names the best core the
# CPU flags allow; TWIN_TRAIN_BENCH_CORETYPE=keep leaves a preset OPENBLAS_CORETYPE alone.
if [ "${TWIN_TRAIN_BENCH_CORETYPE:-best}" != keep ] || [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    flags=$(grep -m1 '^flags' /proc/cpuinfo)
    if [[ " $flags " == *" avx512f "* && " $flags " == *" avx512bw "* && " $flags " == *" avx512vl "* ]]; then
        export OPENBLAS_CORETYPE=SkylakeX
    elif [[ " $flags " == *" avx2 "* && " $flags " == *" fma "* ]]; then
        export OPENBLAS_CORETYPE=Haswell
    fi
fi
bin="$root/.build/release/TwinPackageTests.xctest"
[ -x "$bin" ] || { echo "run.sh: $bin is missing; build first: swift build -c release -Xswiftc -enable-testing --build-tests" >&2; exit 1; }
ours=$(cd "$root" && TWIN_TRAIN_BENCH=1 TWIN_TRAIN_BENCH_STEPS="$steps" TWIN_TRAIN_BENCH_THREADS="$threads" \
    TWIN_TRAIN_BENCH_BATCH="$batch" "$bin" --testing-library swift-testing --filter smolLM2SFTThroughput 2>&1 \
    | sed -n 's/^TRAINBENCH //p')
[ -n "$ours" ] || { echo "run.sh: the Swift benchmark printed no result (run the test by hand to see why)" >&2; exit 1; }
peer='null'
if [ "${TWIN_TRAIN_BENCH_PEER:-1}" != 0 ]; then
    [ -x "$here/.venv-train/bin/python" ] || "$here/setup.sh"
    peer=$("$here/.venv-train/bin/python" "$here/peer_peft.py" --steps "$steps" --threads "$threads" --batch "$batch")
fi
python3 - "$ours" "$peer" "$(uptime)" <<'PY'
import json, sys
ours, peer = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"load : {sys.argv[3].strip()}")
print(f"twin : {ours['tokensPerSecond']:.1f} tok/s  batch {ours['batchSize']}  median step {ours['medianStepSeconds']:.2f} s  peak RSS {ours['peakResidentBytes']/2**20:.0f} MiB  (OpenBLAS {ours['blasCore']}, steps {[round(x, 2) for x in ours['stepSeconds']]})")
if peer is None:
    print(f"cpu  : twin {ours['cpuSecondsPerStep']:.2f} CPU-s/step")
    sys.exit(0)
print(f"peer : {peer['tokens_per_second']:.1f} tok/s  batch {peer['batch']}  median step {peer['median_step_seconds']:.2f} s  peak RSS {peer['peak_rss_bytes']/2**20:.0f} MiB  ({peer['peer']}, steps {[round(x, 2) for x in peer['step_seconds']]})")
print(f"cpu  : twin {ours['cpuSecondsPerStep']:.2f} CPU-s/step, peer {peer['cpu_seconds_per_step']:.2f} CPU-s/step")
print(f"ratio: {ours['tokensPerSecond']/peer['tokens_per_second']:.2f}x throughput (wall), "
      f"{peer['cpu_seconds_per_step']/ours['cpuSecondsPerStep']:.2f}x (per CPU second), "
      f"{ours['peakResidentBytes']/peer['peak_rss_bytes']:.2f}x memory")
PY
