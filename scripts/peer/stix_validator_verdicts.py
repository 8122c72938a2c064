#!/usr/bin/env python3
"""Verdicts of the OASIS stix2-validator on every object of the STIX 2.1 corpus files.

Usage: stix_validator_verdicts.py CORPORA_DIR

Reads CORPORA_DIR/manifest.json, takes every file with STIX 2.1 objects, and
validates each object on its own (default options, not strict), one file per
task in a pool of worker processes (one per core: the reference validator is
slow and the corpus large). Prints one JSON line per object: {"file", "index", "id", "valid"}.
Objects are enumerated as tearline's corpus test enumerates them: a bundle's
`objects` in order, a JSON array's items, a single object, or JSON lines.
"""
import gzip
import json
import logging
import multiprocessing
import os
import sys

from stix2validator import ValidationOptions, validate_instance


def objects_of(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    if path.endswith(".jsonl") or path.endswith(".jsonl.gz"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    document = json.loads(text)
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and document.get("type") == "bundle":
        return document.get("objects", [])
    return [document]


def verdicts_of_file(job):
    corpora, name = job
    logging.disable(logging.CRITICAL)
    options = ValidationOptions(version="2.1")
    lines = []
    for index, obj in enumerate(objects_of(os.path.join(corpora, name))):
        if not isinstance(obj, dict):
            continue
        try:
            valid = validate_instance(obj, options).is_valid
        except Exception:  # the reference raises on some malformed input
            valid = False
        lines.append(json.dumps({"file": name, "index": index, "id": obj.get("id"), "valid": valid}))
    return lines


def main():
    corpora = sys.argv[1]
    with open(os.path.join(corpora, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    jobs = [
        (corpora, entry["file"])
        for entry in manifest
        if entry.get("by_spec_version", {}).get("2.1")
    ]
    # Largest files first, so that the pool's tail is short.
    jobs.sort(key=lambda job: -os.path.getsize(os.path.join(corpora, job[1])))
    with multiprocessing.Pool(os.cpu_count() or 1) as pool:
        # The test looks verdicts up by (file, index), so order is free.
        for lines in pool.imap(verdicts_of_file, jobs):
            for line in lines:
                print(line)


if __name__ == "__main__":
    main()
