"""Driver for scripts/bench-taxii (a benchmark, not a test).

For each size it runs the same workload against tearline (release binary,
SQLite store) and against OASIS medallion (memory backend), then bulk-inserts
the same rows into a plain SQLite database with tearline's own schema:

  ingest      POST envelopes of 1,000 objects; rate = objects / time spent
              in the POST requests (building envelopes is not counted)
  first page  GET objects with limit=1000, median of up to 20 requests
  GET by id   p50 / p99 of single-object GETs of random stored ids
              (3 rounds of 2,000 for tearline, pooled; 100 for medallion);
              for tearline also the server's own view of the same requests,
              read from its Prometheus histogram (time inside the server,
              authentication included, without the client and the socket)
  paging      every page with limit=1000 following `next`, objects / s

medallion slows down quadratically with the collection's size, so each size
it runs under a time budget (--medallion-budget seconds, whole workload); a
phase that does not finish in it is reported as "did not finish" and larger
sizes are skipped for medallion.

Sizes up to 100,000 run tearline and the plain insert --repeat times each
(default 3), alternating, and report medians: single short runs on a shared
machine mostly measure its neighbours.

Usage: bench_taxii.py BINARY SIZE... [--markdown FILE] [--medallion-budget S]
                      [--repeat N] [--no-medallion]
"""

import argparse
import base64
import datetime
import http.client
import json
import os
import platform
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

TAXII = "application/taxii+json;version=2.1"
ENVELOPE = 1000
PAGE = 1000
FIRST_PAGE_RUNS = 20
# Spent on repeated first-page requests at most, once one has finished.
FIRST_PAGE_SECONDS = 10.0
GET_SAMPLES = 2000
# Rounds of GET_SAMPLES random ids each (different ids per round), pooled:
# one round's p99 rests on its 20 slowest requests, which one burst of
# load on a shared machine can decide.
GET_ROUNDS = 3
# Sizes up to this are run several times (--repeat) and reported as medians.
REPEAT_UP_TO = 100_000
# medallion copies the whole collection on every request: fewer samples.
MEDALLION_GET_SAMPLES = 100
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIGRATIONS = os.path.join(REPO, "crates", "store", "migrations", "sqlite")
STORED_VERSION = "2024-01-01T00:00:00.000000000Z"


class DidNotFinish(Exception):
    """A phase ran past the server's time budget."""


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


def envelopes(size):
    for start in range(0, size, ENVELOPE):
        objects = [indicator(n) for n in range(start, min(size, start + ENVELOPE))]
        yield len(objects), json.dumps({"objects": objects})


def percentile(sorted_values, fraction):
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * len(sorted_values))) - 1))
    return sorted_values[index]


class Budget:
    def __init__(self, seconds):
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def timeout(self):
        """Seconds left for one request."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DidNotFinish()
        return left

    def check(self):
        self.timeout()


class Client:
    """One keep-alive HTTP connection with fixed headers. http.client rather
    than requests: its per-request overhead is a fraction of requests', so
    the figures are the server's, for both servers alike."""

    def __init__(self, base, headers):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port
        self.headers = dict(headers)
        self.conn = None

    def request(self, method, path, budget, params=None, body=None, headers=None):
        """Returns the body (bytes) of a 2xx answer; exits on any other."""
        timeout = budget.timeout()
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        self.conn.timeout = timeout
        if self.conn.sock is not None:
            self.conn.sock.settimeout(timeout)
        if params:
            path = f"{path}?{urllib.parse.urlencode(params)}"
        try:
            self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            answer = self.conn.getresponse()
            data = answer.read()
        except (socket.timeout, TimeoutError) as err:
            self.conn.close()
            self.conn = None
            raise DidNotFinish() from err
        if not 200 <= answer.status < 300:
            sys.exit(f"{method} {path}: HTTP {answer.status}: {data[:300]!r}")
        return data


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def workload(client, objects_path, size, budget, get_samples=GET_SAMPLES, get_rounds=GET_ROUNDS,
             server_histogram=None):
    """Runs every phase; returns a dict of figures (None = did not finish).
    server_histogram, when given, returns the server's cumulative latency
    buckets for GET by id ({upper bound in seconds: count})."""
    result = {"ingest": None, "ingest_head": None, "ingest_tail": None, "get_p50": None,
              "get_p99": None, "first_page": None, "paging": None, "paged": None}
    if server_histogram is not None:
        result.update(server_within_1ms=None, server_within_2ms=None)
    try:
        spent, rates = 0.0, []
        for count, body in envelopes(size):
            started = time.perf_counter()
            answer = client.request("POST", objects_path, budget, body=body.encode(),
                                    headers={"Content-Type": TAXII})
            took = time.perf_counter() - started
            status = json.loads(answer)
            if status.get("success_count") != count:
                sys.exit(f"{objects_path}: {count} objects posted, status says {status.get('success_count')}")
            spent += took
            rates.append(count / took)
        tenth = max(1, len(rates) // 10)
        result.update(ingest=size / spent, ingest_head=statistics.mean(rates[:tenth]),
                      ingest_tail=statistics.mean(rates[-tenth:]))

        firsts, first_started = [], time.perf_counter()
        while len(firsts) < FIRST_PAGE_RUNS and (
                not firsts or time.perf_counter() - first_started < FIRST_PAGE_SECONDS):
            started = time.perf_counter()
            # The whole body has arrived when request returns; decoding the
            # JSON is the client's work and is not counted.
            answer = client.request("GET", objects_path, budget, params={"limit": PAGE})
            firsts.append((time.perf_counter() - started) * 1000)
            count = len(json.loads(answer).get("objects", []))
            if count != min(PAGE, size):
                sys.exit(f"first page holds {count} objects")
        result["first_page"] = statistics.median(firsts)

        latencies = []
        before = server_histogram() if server_histogram else None
        for round_number in range(get_rounds):
            picks = random.Random(size * 31 + round_number).sample(range(size), min(get_samples, size))
            for n in picks:
                started = time.perf_counter()
                answer = client.request("GET", f"{objects_path}{object_id(n)}/", budget)
                latencies.append((time.perf_counter() - started) * 1000)
                if len(json.loads(answer).get("objects", [])) != 1:
                    sys.exit(f"GET {object_id(n)}: expected one object")
        latencies.sort()
        result.update(get_p50=percentile(latencies, 0.50), get_p99=percentile(latencies, 0.99))
        if server_histogram:
            after = server_histogram()
            served = after[float("inf")] - before.get(float("inf"), 0)
            if served != len(latencies):
                sys.exit(f"server counted {served} GETs by id, the client sent {len(latencies)}")
            for bound, key in ((0.001, "server_within_1ms"), (0.002, "server_within_2ms")):
                result[key] = (after[bound] - before.get(bound, 0)) / served

        started, count, params = time.perf_counter(), 0, {"limit": PAGE}
        while True:
            page = json.loads(client.request("GET", objects_path, budget, params=params))
            count += len(page.get("objects", []))
            if not page.get("more"):
                break
            params = {"limit": PAGE, "next": page["next"]}
        if count != size:
            sys.exit(f"paging returned {count} objects of {size}")
        result.update(paging=count / (time.perf_counter() - started), paged=count)
    except DidNotFinish:
        pass
    return result


def object_histogram(metrics_port):
    """The server's cumulative request-duration buckets for GET by id."""
    connection = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=30)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    buckets = {}
    for line in text.splitlines():
        if (line.startswith("tearline_http_request_duration_seconds_bucket")
                and 'endpoint="/{api_root}/collections/{collection_id}/objects/{object_id}"' in line):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = int(line.rsplit(" ", 1)[1])
    return buckets


def run(binary, *args, stdin=""):
    return subprocess.run([binary, *args], input=stdin, text=True, check=True,
                          capture_output=True).stdout


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure_basic_auth(base):
    """Median latency of discovery with HTTP Basic credentials."""
    client = Client(base, {"Authorization": basic("bench", "bench-pw"), "Accept": TAXII})
    latencies = []
    for _ in range(50):
        started = time.perf_counter()
        client.request("GET", "/taxii2/", Budget(None))
        latencies.append((time.perf_counter() - started) * 1000)
    return statistics.median(latencies)


def bench_tearline(binary, size, basic_auth=False):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        run(binary, "init", "--data", data)
        collection = run(binary, "collection", "create", "--data", data, "--title", "bench").split()[-1]
        run(binary, "account", "create", "--data", data, "--name", "bench", "--password-stdin",
            "--read", collection, "--write", collection, stdin="bench-pw\n")
        # A bearer token, the cheapest credential, so that the figures are
        # the data path's; measure_basic_auth reports HTTP Basic on its own.
        token = run(binary, "token", "create", "--data", data, "--account", "bench").split()[-1]
        metrics_port = free_port()
        server = subprocess.Popen([binary, "serve", "--data", data, "--listen", "127.0.0.1:0",
                                   "--metrics-listen", f"127.0.0.1:{metrics_port}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            base = server.stdout.readline().split()[-1].replace("/taxii2/", "")
            client = Client(base, {"Authorization": f"Bearer {token}", "Accept": TAXII})
            if basic_auth:
                result_basic = measure_basic_auth(base)
            result = workload(client, f"/api1/collections/{collection}/objects/", size, Budget(None),
                              server_histogram=lambda: object_histogram(metrics_port))
            if basic_auth:
                result["basic_auth"] = result_basic
        finally:
            stop(server)
        result["db_bytes"] = sum(os.path.getsize(os.path.join(data, name)) for name in os.listdir(data))
    return result


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def medallion_files(tmp, port, collection):
    root = f"http://127.0.0.1:{port}/api1/"
    data = {
        "/discovery": {"title": "bench", "default": root, "api_roots": [root]},
        "api1": {
            "information": {"title": "bench", "versions": [TAXII], "max_content_length": 100_000_000},
            "status": [],
            "collections": [{
                "id": collection, "title": "bench", "can_read": True, "can_write": True,
                "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": [],
            }],
        },
    }
    data_path = os.path.join(tmp, "data.json")
    with open(data_path, "w", encoding="utf-8") as out:
        json.dump(data, out)
    config = {
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": data_path},
        "users": {"bench": "bench-pw"},
        "taxii": {"max_page_size": PAGE},
    }
    config_path = os.path.join(tmp, "config.json")
    with open(config_path, "w", encoding="utf-8") as out:
        json.dump(config, out)
    return config_path


def bench_medallion(size, budget_seconds):
    medallion = os.path.join(os.path.dirname(sys.executable), "medallion")
    collection = str(uuid.uuid4())
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = medallion_files(tmp, port, collection)
        server = subprocess.Popen([medallion, "--port", str(port), "--log-level", "ERROR", config],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            else:
                sys.exit("medallion did not start")
            client = Client(base, {"Authorization": basic("bench", "bench-pw"), "Accept": TAXII})
            client.request("GET", "/taxii2/", Budget(30))
            return workload(client, f"/api1/collections/{collection}/objects/", size,
                            Budget(budget_seconds), get_samples=MEDALLION_GET_SAMPLES, get_rounds=1)
        finally:
            stop(server)


def bench_sqlite(size):
    """Plain bulk insert of the rows tearline stores, with tearline's schema
    (every migration: the same table and indexes, without its triggers),
    pragmas (WAL, synchronous=FULL, foreign keys) and transactions of 1,000."""
    schema = ""
    for name in sorted(os.listdir(MIGRATIONS)):
        with open(os.path.join(MIGRATIONS, name), encoding="utf-8") as migration:
            schema += migration.read() + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "plain.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(schema)
        # The table and its indexes, not tearline's own bookkeeping: the
        # triggers that keep the `latest` mark are work the baseline must not
        # be charged for.
        for (trigger,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            db.execute(f'DROP TRIGGER "{trigger}"')
        db.execute("INSERT INTO api_roots VALUES ('api1', 'bench', NULL, 0)")
        db.execute("INSERT INTO collections (seq, id, api_root, title, created_at) "
                   "VALUES (1, 'c', 'api1', 'bench', 0)")
        spent = 0.0
        for start in range(0, size, ENVELOPE):
            rows = [(object_id(n), n, json.dumps(indicator(n)))
                    for n in range(start, min(size, start + ENVELOPE))]
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO objects (collection, object_id, object_type, spec_version, version, "
                f"date_added, raw) VALUES (1, ?, 'indicator', '2.1', '{STORED_VERSION}', ?, ?)", rows)
            db.execute("COMMIT")
            spent += time.perf_counter() - started
        db.close()
    return size / spent


def median_result(runs):
    """Each figure's median over several runs of the same workload."""
    merged = {}
    for key in runs[0]:
        values = [run[key] for run in runs]
        if any(value is None for value in values):
            merged[key] = None
        else:
            merged[key] = statistics.median(values)
    return merged


def rate(value):
    return "did not finish" if value is None else f"{value:,.0f}/s"


def millis(value):
    return "did not finish" if value is None else f"{value:.2f} ms"


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("sizes", nargs="+")
    parser.add_argument("--markdown", help="also write the results as Markdown to this file")
    parser.add_argument("--medallion-budget", type=float, default=600.0,
                        help="seconds for medallion's whole workload at one size")
    parser.add_argument("--no-medallion", action="store_true")
    parser.add_argument("--repeat", type=int, default=3,
                        help=f"runs of tearline and of the plain insert at sizes up to {REPEAT_UP_TO:,}")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for arg in args.sizes for s in arg.split()]

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    rows, medallion_alive = [], not args.no_medallion
    for size in sizes:
        # On a shared machine one short run is mostly noise: below
        # REPEAT_UP_TO objects tearline and the plain insert run several
        # times, alternating, and each figure is the median of its runs.
        repeats = args.repeat if size <= REPEAT_UP_TO else 1
        runs, plains = [], []
        for run_number in range(repeats):
            print(f"[{size}] tearline run {run_number + 1}/{repeats} ...", file=sys.stderr, flush=True)
            runs.append(bench_tearline(args.binary, size, basic_auth=size == sizes[0]))
            print(f"[{size}] tearline {runs[-1]}", file=sys.stderr, flush=True)
            if run_number + 1 < repeats:
                plains.append(bench_sqlite(size))
        ours = median_result(runs)
        theirs = None
        if medallion_alive:
            print(f"[{size}] medallion (budget {args.medallion_budget:.0f} s) ...", file=sys.stderr, flush=True)
            theirs = bench_medallion(size, args.medallion_budget)
            print(f"[{size}] medallion {theirs}", file=sys.stderr, flush=True)
            medallion_alive = theirs["paging"] is not None
        print(f"[{size}] plain SQLite ...", file=sys.stderr, flush=True)
        plains.append(bench_sqlite(size))
        plain = statistics.median(plains)
        print(f"[{size}] plain SQLite {plains}", file=sys.stderr, flush=True)
        rows.append((size, ours, theirs, plain))
    load_after = os.getloadavg()

    lines = ["| objects | server | ingest (envelopes of 1,000) | first 10% / last 10% of envelopes "
             "| GET by id p50 / p99 | first page (limit 1,000) | full paging |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for size, ours, theirs, plain in rows:
        for name, r in (("tearline", ours), ("medallion", theirs)):
            if r is None:
                lines.append(f"| {size:,} | {name} | not run (a smaller size did not finish) | | | | |")
                continue
            lines.append(
                f"| {size:,} | {name} | {rate(r['ingest'])} | {rate(r['ingest_head'])} / {rate(r['ingest_tail'])} "
                f"| {millis(r['get_p50'])} / {millis(r['get_p99'])} | {millis(r['first_page'])} "
                f"| {rate(r['paging'])} |")
        lines.append(f"| {size:,} | plain SQLite insert | {rate(plain)} | | | | |")

    smallest, largest = rows[0], rows[-1]
    lines += ["", "| goal | measured | met |", "| --- | --- | --- |"]
    scale = ratio(largest[1]["ingest"], smallest[1]["ingest"])
    lines.append(f"| ingest at {largest[0]:,} within 30% of {smallest[0]:,} (ratio ≥ 0.70) | {scale} "
                 f"| {'yes' if scale != 'n/a' and float(scale) >= 0.7 else 'no'} |")
    first = largest[1]["first_page"]
    lines.append(f"| first page ≤ 5 ms at {largest[0]:,} | {millis(first)} | {'yes' if first <= 5 else 'no'} |")
    p99 = largest[1]["get_p99"]
    lines.append(f"| GET by id p99 ≤ 2 ms at {largest[0]:,} | {millis(p99)} | {'yes' if p99 <= 2 else 'no'} |")
    for size, ours, _, plain in rows:
        share = ratio(ours["ingest"], plain)
        lines.append(f"| ingest ≥ 50% of plain SQLite at {size:,} | {share} "
                     f"| {'yes' if float(share) >= 0.5 else 'no'} |")
    for size, ours, theirs, _ in rows:
        if theirs is not None and theirs["ingest"] is not None:
            lines.append(f"| (info) tearline / medallion ingest at {size:,} | {ratio(ours['ingest'], theirs['ingest'])} | |")

    finished = datetime.datetime.now(datetime.timezone.utc)
    notes = [
        f"Run {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC on {platform.machine()} Linux, "
        f"{os.cpu_count()} cores shared with other work; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after. "
        f"tearline database at {largest[0]:,} objects: {largest[1]['db_bytes'] / 1e6:,.0f} MB.",
        "",
        f"Up to {REPEAT_UP_TO:,} objects, tearline and the plain insert ran {args.repeat} times "
        "each, alternating; figures are medians.",
        "",
        "tearline is driven with a bearer token. With HTTP Basic (Argon2id once, then the "
        f"server's cache of verified credentials) discovery takes {smallest[1]['basic_auth']:.1f} ms "
        "(median of 50).",
    ]
    inside = [f"{size:,}: {ours['server_within_1ms']:.1%} / {ours['server_within_2ms']:.1%}"
              for size, ours, _, _ in rows if ours.get("server_within_1ms") is not None]
    if inside:
        notes += ["", "GETs by id answered within 1 ms / 2 ms inside the server (its own latency "
                  "histogram, authentication included; the rest of the client's figure is the "
                  "client, the socket and the machine's scheduling): " + "; ".join(inside) + "."]
    text = "\n".join(lines + [""] + notes) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()
