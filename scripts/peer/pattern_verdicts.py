#!/usr/bin/env python3
"""Verdicts of the OASIS pattern validator (stix2-patterns) for many patterns.

Reads JSON lines on stdin, each {"pattern": str, "stix_version": "2.0"|"2.1"},
and writes one JSON line per input: {"valid": bool} or, when the validator
itself fails, {"valid": null, "crash": "ExceptionName: message"}.
All patterns run in this one process, so the comparison costs one start-up.
"""
import json
import sys

from stix2patterns.validator import run_validator


def main():
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        try:
            errors = run_validator(case["pattern"], case.get("stix_version") or "2.1")
            result = {"valid": not errors}
        except BaseException as exc:  # RecursionError included: we report, not die
            if isinstance(exc, KeyboardInterrupt):
                raise
            result = {"valid": None, "crash": f"{type(exc).__name__}: {exc}"[:300]}
        out.write(json.dumps(result) + "\n")
    out.flush()


if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    main()
