"""llama.cpp (llama-cpp-python) side of `twin bench generate`: prefill and decode speed on the same GGUF.

Usage: peer.py MODEL.gguf THREADS PROMPT_IDS_JSON NEW_TOKENS RUNS  -> prints one JSON line.
"""
import json, resource, sys, time
import numpy as np
import llama_cpp.llama_cpp as llama_cpp
from llama_cpp import Llama

# This machine reports AMX but its VM faults on AMX tile instructions: keep llama.cpp off the AMX/repack
# buffer types (its AVX-512 kernels still run).
_default = llama_cpp.llama_model_default_params
def _params():
    p = _default()
    p.use_extra_bufts = False
    return p
llama_cpp.llama_model_default_params = _params

model, threads, ids, new_tokens, runs = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
llm = Llama(model_path=model, n_ctx=1024, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)
vocab = llm.n_vocab()
prefill, decode = [], []
for _ in range(runs):
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(ids)
    prefill.append(len(ids) / (time.perf_counter() - t0))
    tok = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocab,))))
    t0 = time.perf_counter()
    for _ in range(new_tokens):
        llm.eval([tok])
        tok = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocab,))))
    decode.append(new_tokens / (time.perf_counter() - t0))
print(json.dumps({"prefill_tps": float(np.median(prefill)), "decode_tps": float(np.median(decode)),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
