"""Writes llama.cpp reference outputs for the decoder tests (Tests/NeuralTests/Fixtures/decoder/).

Run once in a throw-away venv with llama-cpp-python installed:
    python make_fixtures.py MODEL.gguf OUT_DIR
Only the resulting numbers are committed, never the tool.
"""
import json, sys
import numpy as np
import llama_cpp.llama_cpp as llama_cpp
from llama_cpp import Llama

# This machine reports AMX but the VM faults on AMX tile instructions; keep llama.cpp off the AMX/repack
# buffer types (its plain AVX-512 kernels still run).
_default_params = llama_cpp.llama_model_default_params
def _params_without_extra_buffers():
    p = _default_params()
    p.use_extra_bufts = False
    return p
llama_cpp.llama_model_default_params = _params_without_extra_buffers

model_path, out_dir = sys.argv[1], sys.argv[2]
llm = Llama(model_path=model_path, n_ctx=2048, n_threads=2, n_batch=512, verbose=False, logits_all=False)

TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say we've done it, isn't it? WE'RE HERE. You'd",
    "Numbers: 12345, 3.14159, 2024-06-01 and 1,000,000 items cost $42.50",
    "naïve café résumé — “quotes” ‘single’ … Straße",
    "東京は日本の首都です。 Привет, мир! مرحبا بالعالم",
    "emoji 🤖🚀👍🏽 and flags 🇫🇷 ZWJ 👨‍👩‍👧",
    "    indented\n\n\n\tline\r\n  trailing   \n",
    "def add(a, b):\n    return a + b  # sum\n\nprint(add(1, 2))",
    "<|im_start|>user\nnot special here<|im_end|>",
    "https://example.com/path?q=1&r=2#frag user@mail.org",
    "  leading spaces and trailing spaces   ",
    "Mixed CASE words, ALLCAPS, camelCaseIdentifiers and snake_case_names.",
    "{\"name\": \"Ada\", \"age\": 36, \"tags\": [\"math\", \"code\"]}",
    "a" * 40 + " " + "ab" * 20,
]

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

def chat(user, system=SYSTEM):
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"

def tok(text, special=False):
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

tokens = [{"text": t, "special": False, "ids": tok(t)} for t in TEXTS]
tokens.append({"text": chat("What is 2+2?"), "special": True, "ids": tok(chat("What is 2+2?"), True)})
json.dump(tokens, open(f"{out_dir}/tokens.json", "w"), ensure_ascii=False, indent=0)

FIXED_IDS = [0, 1, 2, 198, 260, 504, 7042, 30, 28, 49151]

def last_logits():
    # Without logits_all, llama.cpp keeps only the last token's row of the last batch.
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)

LOGIT_PROMPTS = [
    ("raw", "The capital of France is"),
    ("raw", "def fibonacci(n):"),
    ("chat", chat("Write a haiku about the sea.")),
    ("chat", chat("What is the capital of France?")),
]
logits = []
for kind, text in LOGIT_PROMPTS:
    ids = tok(text, special=(kind == "chat"))
    llm.reset()
    llm.eval(ids)
    l = last_logits()
    top = np.argsort(-l)[:20]
    logits.append({"prompt_ids": ids, "top_ids": top.tolist(), "top_values": [round(float(l[i]), 4) for i in top],
                   "fixed_ids": FIXED_IDS, "fixed_values": [round(float(l[i]), 4) for i in FIXED_IDS]})
json.dump(logits, open(f"{out_dir}/logits.json", "w"), indent=0)

GREEDY_PROMPTS = [
    chat("What is the capital of France?"),
    chat("Write a short poem about autumn leaves."),
    chat("Explain what a hash map is in two sentences."),
    chat("List three fruits that are red."),
    chat("Give me a Python function that reverses a string.", system="You are a concise coding assistant."),
    chat("Summarise the plot of Romeo and Juliet."),
]
greedy = []
for text in GREEDY_PROMPTS:
    ids = tok(text, special=True)
    llm.reset()
    llm.eval(ids)
    out, gaps = [], []
    for _ in range(64):
        l = last_logits()
        order = np.argsort(-l)[:2]
        out.append(int(order[0]))
        gaps.append(round(float(l[order[0]] - l[order[1]]), 4))
        if order[0] == 2:
            break
        llm.eval([int(order[0])])
    greedy.append({"prompt_ids": ids, "output_ids": out, "top_two_gaps": gaps,
                   "text": llm.detokenize(out).decode("utf-8", "replace")})
json.dump(greedy, open(f"{out_dir}/greedy.json", "w"), ensure_ascii=False, indent=0)
print("ok", [len(g["output_ids"]) for g in greedy])
