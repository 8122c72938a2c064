"""Driver for scripts/bench-nodes (a benchmark, not a test).

The same TAXII workload on three deployments, in one run on one machine:

  sqlite      one node on the embedded SQLite store
  pg-1        one node on PostgreSQL
  pg-2        two nodes on the same PostgreSQL, clients split between them

  ingest      POST envelopes of 1,000 objects from 4 client threads
              (spread over the nodes); objects / s of wall time
  paging      every page with limit=1000 following `next`, alternating
              nodes; objects / s
  GET by id   p50 / p99 of single-object GETs of random stored ids

PostgreSQL is a throwaway cluster made with initdb in a temporary directory
(fsync on, as in production, to compare fairly with SQLite's
synchronous=FULL), listening on a unix socket only. As root, the server runs
as the `postgres` user.

Usage: bench_nodes.py BINARY SIZE [--markdown FILE]
"""

import argparse
import glob
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests

TAXII = "application/taxii+json;version=2.1"
ENVELOPE = 1000
CLIENTS = 4
GET_SAMPLES = 1000


def object_id(n):
    return f"indicator--{uuid.UUID(int=n, version=4)}"


def indicator(n):
    return {
        "type": "indicator", "spec_version": "2.1", "id": object_id(n),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": f"bench indicator {n}", "description": "x" * 300,
        "pattern": f"[ipv4-addr:value = '10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}']",
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
    }


def pg_bin():
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        sys.exit("bench-nodes: PostgreSQL's initdb not found")
    return os.path.dirname(candidates[-1])


class Cluster:
    """A PostgreSQL cluster in a temporary directory, unix socket only."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="tearline-bench-pg-")
        self.bin = pg_bin()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        data = os.path.join(self.root, "data")
        self.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                 "--locale=C")
        options = f"-k {self.root} -c listen_addresses='' -c max_connections=200"
        self.run("pg_ctl", "-D", data, "-l", os.path.join(self.root, "log"), "-o", options,
                 "-w", "start")
        self.data = data

    def run(self, tool, *args):
        subprocess.run(self.as_user + [os.path.join(self.bin, tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def database(self, name):
        subprocess.run(self.as_user + [os.path.join(self.bin, "createdb"), "-h", self.root,
                                       "-U", "postgres", name], check=True)
        return f"postgres://postgres@localhost:5432/{name}?host={self.root}"

    def stop(self):
        try:
            self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def tearline(binary, *args, stdin=None):
    done = subprocess.run([binary, *args], input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"tearline {' '.join(args)}: {done.stderr}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def start_node(binary, store_args):
    child = subprocess.Popen([binary, "serve", *store_args, "--listen", "127.0.0.1:0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = child.stdout.readline().strip()
    prefix = "listening on http://"
    if not line.startswith(prefix):
        child.kill()
        sys.exit(f"bench-nodes: unexpected first line {line!r}")
    return child, line[len(prefix):].removesuffix("/taxii2/")


def deployment(binary, workdir, label, store_args, nodes):
    node_args = list(store_args)
    if "--database" in store_args:
        # Without a data directory the ledger key lives in a file every node reads.
        node_args += ["--ledger-key", os.path.join(workdir, f"{label}.key")]
    tearline(binary, "init", *node_args)
    collection = tearline(binary, "collection", "create", *store_args, "--title", "bench")
    tearline(binary, "account", "create", *store_args, "--name", "bench", "--read", collection,
             "--write", collection)
    token = tearline(binary, "token", "create", *store_args, "--account", "bench")
    started = [start_node(binary, node_args) for _ in range(nodes)]
    return collection, token, started


def measure(label, urls, collection, token, size):
    headers = {"Accept": TAXII, "Content-Type": TAXII, "Authorization": f"Bearer {token}"}
    path = f"/api1/collections/{collection}/objects/"
    starts = list(range(0, size, ENVELOPE))
    errors = []

    def client(worker):
        session = requests.Session()
        for k, start in enumerate(starts[worker::CLIENTS]):
            body = json.dumps({"objects": [indicator(n) for n in
                                           range(start, min(size, start + ENVELOPE))]})
            url = urls[(worker + k) % len(urls)] + path
            try:
                answer = session.post(url, data=body, headers=headers, timeout=600)
            except requests.RequestException as err:
                errors.append(str(err))
                return
            if answer.status_code != 202 or answer.json().get("failure_count", 0):
                errors.append(answer.text[:200])

    threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ingest = size / (time.perf_counter() - began)
    if errors:
        sys.exit(f"{label}: ingest failed: {errors[0]}")

    session = requests.Session()
    seen = 0
    cursor = None
    began = time.perf_counter()
    page = 0
    while True:
        url = urls[page % len(urls)] + path + "?limit=1000" + (f"&next={cursor}" if cursor else "")
        body = session.get(url, headers=headers, timeout=600).json()
        seen += len(body.get("objects", []))
        cursor = body.get("next")
        page += 1
        if not body.get("more"):
            break
    paging = seen / (time.perf_counter() - began)
    if seen != size:
        sys.exit(f"{label}: paging saw {seen} of {size}")

    samples = []
    for k in range(GET_SAMPLES):
        url = urls[k % len(urls)] + path + object_id(random.randrange(size)) + "/"
        began = time.perf_counter()
        answer = session.get(url, headers=headers, timeout=60)
        samples.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            sys.exit(f"{label}: GET by id answered {answer.status_code}")
    samples.sort()
    return {"ingest": ingest, "paging": paging, "p50": statistics.median(samples),
            "p99": samples[int(len(samples) * 0.99) - 1]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("size", type=int)
    parser.add_argument("--markdown")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="tearline-bench-nodes-")
    cluster = Cluster()
    results = {}
    children = []
    try:
        plans = [
            ("sqlite", ["--data", os.path.join(workdir, "data")], 1),
            ("pg-1", ["--database", cluster.database("one")], 1),
            ("pg-2", ["--database", cluster.database("two")], 2),
        ]
        for label, store_args, nodes in plans:
            collection, token, started = deployment(args.binary, workdir, label, store_args,
                                                    nodes)
            children += [child for child, _ in started]
            urls = ["http://" + address for _, address in started]
            print(f"{label}: {nodes} node(s), {args.size} objects ...", file=sys.stderr)
            results[label] = measure(label, urls, collection, token, args.size)
            for child, _ in started:
                child.kill()
                child.wait()
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    base = results["sqlite"]
    lines = [f"| deployment ({args.size} objects) | ingest obj/s | paging obj/s | GET p50 ms | "
             f"GET p99 ms | ingest vs sqlite |", "|---|---|---|---|---|---|"]
    for label, r in results.items():
        lines.append(f"| {label} | {r['ingest']:,.0f} | {r['paging']:,.0f} | {r['p50']:.2f} | "
                     f"{r['p99']:.2f} | {r['ingest'] / base['ingest']:.2f}x |")
    two, one = results["pg-2"], results["pg-1"]
    lines.append("")
    lines.append(f"two PostgreSQL nodes vs one: ingest {two['ingest'] / one['ingest']:.2f}x, "
                 f"paging {two['paging'] / one['paging']:.2f}x "
                 f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
