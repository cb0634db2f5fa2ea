#!/usr/bin/env python3
"""Scores the three-way duplicate decision of `taskbridge eval-dedup` on both development sets.

    python3 scripts/dedup_bands.py path/to/taskbridge [--threshold M] [--suggest-at S]

dedup-dev: precision and false-alarm rate of automatic merges (decision "duplicate"), and how
often the right task is among the first 3 candidates shown for a duplicate query (suggestion
recall), next to top-1. dedup-contrast-dev: different requests merged automatically, and
paraphrases found (merged, or suggested with the right task first)."""
import argparse
import json
import os
import subprocess
import tempfile

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
ap = argparse.ArgumentParser()
ap.add_argument("taskbridge")
ap.add_argument("--threshold")
ap.add_argument("--suggest-at")
a = ap.parse_args()


def run(corpus, queries):
    cmd = [a.taskbridge, "eval-dedup", "--corpus", corpus, "--queries", queries]
    if a.threshold:
        cmd += ["--threshold", a.threshold]
    if a.suggest_at:
        cmd += ["--suggest-at", a.suggest_at]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip()]


dev = os.path.join(DATA, "dedup-dev")
truth = [json.loads(l).get("duplicate_of") for l in open(os.path.join(dev, "queries.jsonl")) if l.strip()]
preds = run(os.path.join(dev, "corpus.jsonl"), os.path.join(dev, "queries.jsonl"))
merged = [p for p in preds if p["decision"] == "duplicate"]
tp = sum(1 for p in merged if truth[p["query_index"]] is not None and p["predicted_id"] == str(truth[p["query_index"]]))
negatives = sum(1 for t in truth if t is None)
false_alarms = sum(1 for p in merged if truth[p["query_index"]] is None)
positives = [i for i, t in enumerate(truth) if t is not None]
top1 = sum(1 for i in positives if preds[i]["predicted_id"] == str(truth[i]))
top3 = sum(1 for i in positives if str(truth[i]) in preds[i]["candidates"][:3])
shown = sum(1 for i in positives if preds[i]["decision"] != "new" and str(truth[i]) in preds[i]["candidates"][:3])
suggested = sum(1 for p in preds if p["decision"] == "possible_duplicate")
noisy = sum(1 for p in preds if p["decision"] == "possible_duplicate" and truth[p["query_index"]] is None)
print(f"dedup-dev: {len(truth)} queries, {len(positives)} duplicates, {negatives} new")
print(f"  automatic merges: {len(merged)}, precision {tp / max(len(merged), 1):.3f}, "
      f"recall {tp / len(positives):.3f}, false alarms {false_alarms}/{negatives} = {false_alarms / negatives:.1%}")
print(f"  possible duplicates: {suggested}; right task among the first 3 shown (merged or suggested): "
      f"{shown}/{len(positives)} = {shown / len(positives):.3f}; new requests shown a suggestion: "
      f"{noisy}/{negatives} = {noisy / negatives:.1%}")
print(f"  top-1 {top1 / len(positives):.3f}, top-3 of the candidates {top3 / len(positives):.3f} (any decision)")

pairs = json.load(open(os.path.join(DATA, "dedup-contrast-dev", "pairs.json")))["pairs"]
tmp = tempfile.mkdtemp()
corpus, queries = os.path.join(tmp, "corpus.jsonl"), os.path.join(tmp, "queries.jsonl")
with open(corpus, "w") as f:
    for line in open(os.path.join(dev, "corpus.jsonl")):
        c = json.loads(line)
        f.write(json.dumps({"id": str(c["id"]), "title": c.get("title", ""), "body": c.get("body", "")}) + "\n")
    for i, p in enumerate(pairs):
        f.write(json.dumps({"id": f"contrast-{i}", "title": p["task"]}) + "\n")
with open(queries, "w") as f:
    for p in pairs:
        f.write(json.dumps({"text": p["contrast"]}) + "\n")
        f.write(json.dumps({"text": p["paraphrase"]}) + "\n")
preds = run(corpus, queries)
diff_merged = diff_suggested = para_merged = para_found = 0
for i in range(len(pairs)):
    c, q = preds[2 * i], preds[2 * i + 1]
    right = f"contrast-{i}"
    diff_merged += c["decision"] == "duplicate"
    diff_suggested += c["decision"] == "possible_duplicate"
    para_merged += q["decision"] == "duplicate" and q["predicted_id"] == right
    para_found += q["decision"] != "new" and q["predicted_id"] == right
print(f"dedup-contrast-dev: {len(pairs)} pairs")
print(f"  different requests merged automatically: {diff_merged}/{len(pairs)} (suggested: {diff_suggested})")
print(f"  paraphrases found: {para_found}/{len(pairs)} (merged {para_merged}, suggested {para_found - para_merged})")
