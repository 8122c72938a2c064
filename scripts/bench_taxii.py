"""Driver for scripts/bench-taxii. Prints one table row per size."""

import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import requests

TAXII = "application/taxii+json;version=2.1"


def indicator(n):
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=n, version=4)}",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": f"bench indicator {n}", "description": "x" * 300,
        "pattern": f"[ipv4-addr:value = '10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}']",
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
    }


def run(binary, *args, stdin=""):
    return subprocess.run([binary, *args], input=stdin, text=True, check=True, capture_output=True).stdout


def sqlite_baseline(rows):
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "b.db"))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE o (c INTEGER, id TEXT, t TEXT, s TEXT, v TEXT, d INTEGER, raw TEXT)")
        db.execute("CREATE UNIQUE INDEX a ON o(c, d)")
        db.execute("CREATE UNIQUE INDEX b ON o(c, id, v)")
        db.execute("CREATE INDEX t ON o(c, t, d)")
        start = time.perf_counter()
        for i in range(0, len(rows), 1000):
            with db:
                db.executemany("INSERT INTO o VALUES (1, ?, 'indicator', '2.1', 'v', ?, ?)", rows[i:i + 1000])
        return len(rows) / (time.perf_counter() - start)


def bench(binary, size):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        run(binary, "init", "--data", data)
        collection = run(binary, "collection", "create", "--data", data, "--title", "bench").split()[-1]
        run(binary, "account", "create", "--data", data, "--name", "bench", "--password-stdin",
            "--read", collection, "--write", collection, stdin="bench-pw\n")
        server = subprocess.Popen([binary, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            base = server.stdout.readline().split()[-1].replace("/taxii2/", "")
            session = requests.Session()
            session.auth = ("bench", "bench-pw")
            session.headers["Accept"] = TAXII
            objects_url = f"{base}/api1/collections/{collection}/objects/"
            bodies = [indicator(n) for n in range(size)]
            rates = []
            start = time.perf_counter()
            for i in range(0, size, 1000):
                envelope = json.dumps({"objects": bodies[i:i + 1000]})
                t = time.perf_counter()
                answer = session.post(objects_url, data=envelope, headers={"Content-Type": TAXII})
                answer.raise_for_status()
                rates.append(1000 / (time.perf_counter() - t))
            ingest = size / (time.perf_counter() - start)
            tail = statistics.mean(rates[-max(1, len(rates) // 10):])
            head = statistics.mean(rates[:max(1, len(rates) // 10)])
            firsts = []
            for _ in range(20):
                t = time.perf_counter()
                session.get(objects_url, params={"limit": 1000}).raise_for_status()
                firsts.append((time.perf_counter() - t) * 1000)
            start, count, params = time.perf_counter(), 0, {"limit": 1000}
            while True:
                page = session.get(objects_url, params=params).json()
                count += len(page.get("objects", []))
                if not page.get("more"):
                    break
                params = {"limit": 1000, "next": page["next"]}
            paging = count / (time.perf_counter() - start)
            latencies = []
            for n in random.sample(range(size), min(1000, size)):
                t = time.perf_counter()
                session.get(f"{objects_url}{bodies[n]['id']}/").raise_for_status()
                latencies.append((time.perf_counter() - t) * 1000)
            latencies.sort()
        finally:
            server.terminate()
            server.wait()
    rows = [(o["id"], i, json.dumps(o)) for i, o in enumerate(bodies)]
    baseline = sqlite_baseline(rows)
    print(f"| {size} | {ingest:,.0f} obj/s (first 10% {head:,.0f}, last 10% {tail:,.0f}) "
          f"| {statistics.median(firsts):.1f} ms | {paging:,.0f} obj/s ({count}) "
          f"| {latencies[len(latencies) // 2]:.2f} / {latencies[int(len(latencies) * 0.99) - 1]:.2f} ms "
          f"| {baseline:,.0f} obj/s |", flush=True)


def main():
    binary, *sizes = sys.argv[1:]
    sizes = [int(s) for arg in sizes for s in arg.split()]
    print("| objects | ingest (envelopes of 1000) | first page (limit 1000, median) | full paging | GET by id p50 / p99 | plain SQLite insert |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size in sizes:
        bench(binary, size)


if __name__ == "__main__":
    main()
