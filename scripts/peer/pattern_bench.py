#!/usr/bin/env python3
"""Times the OASIS reference tools on the inputs of the Rust pattern bench.

Usage: pattern_bench.py SHARED_DIR
Prints one JSON line: seconds per pass for stix2-patterns over the corpus
indicator patterns, and for stix2-matcher over the conformance matcher cases.
"""
import json
import os
import sys
import time

from stix2matcher.matcher import match
from stix2patterns.validator import run_validator


def jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def time_passes(min_seconds, one_pass):
    one_pass()  # warm-up
    start = time.perf_counter()
    passes = 0
    while passes == 0 or time.perf_counter() - start < min_seconds:
        one_pass()
        passes += 1
    return (time.perf_counter() - start) / passes, passes


def main():
    shared = sys.argv[1]
    sys.setrecursionlimit(10000)
    patterns = [
        (d["pattern"], d.get("pattern_version") or d.get("spec_version") or "2.1")
        for d in jsonl(os.path.join(shared, "corpora/derived/indicator-patterns.jsonl"))
    ]

    def validate_pass():
        for p, v in patterns:
            try:
                run_validator(p, v)
            except Exception:
                pass

    validate_secs, validate_passes = time_passes(5, validate_pass)

    mdir = os.path.join(shared, "conformance/pattern-matcher")
    observations = {o["ref"]: o["observed_data"] for o in jsonl(os.path.join(mdir, "observations.jsonl"))}
    cases = [
        (c["pattern"], c["stix_version"], observations[c["observations_ref"]])
        for c in jsonl(os.path.join(mdir, "cases.jsonl"))
    ]
    counts = {"matched": 0}

    def match_pass():
        counts["matched"] = 0
        for p, v, obs in cases:
            try:
                if match(p, obs, stix_version=v):
                    counts["matched"] += 1
            except Exception:
                pass

    match_secs, match_passes = time_passes(5, match_pass)
    print(json.dumps({
        "validate": {"inputs": len(patterns), "seconds_per_pass": validate_secs, "passes": validate_passes},
        "match": {"inputs": len(cases), "matched": counts["matched"], "seconds_per_pass": match_secs,
                  "passes": match_passes},
    }))


if __name__ == "__main__":
    main()
