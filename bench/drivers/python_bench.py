"""Driver benchmark, Python cassandra-driver side. One cell per process:

    python python_bench.py WORKLOAD INFLIGHT COUNT WARMUP

WORKLOAD is insert, select or scan; INFLIGHT the requests kept in flight
(ignored by scan); COUNT the measured requests (for scan: the rows
expected); WARMUP the requests run before measuring. Requests in flight
are kept by chaining execute_async callbacks (each completion starts the
next request), the driver's own fastest pattern. Prints one line
"RESULT {json}"; see bench/drivers/README.md.
"""
import json
import math
import resource
import sys
import threading
import time

from cassandra.cluster import Cluster
from cassandra.query import SimpleStatement

KEYSPACE = "bench_drivers"
SELECT_KEYS = 10000
VALUE = "v" * 64


def cpu_and_rss():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    i = max(1, math.ceil(p * len(sorted_values)))
    return sorted_values[i - 1]


def run(session, ps, make, n, inflight, lat):
    """n requests, inflight at a time; latencies (seconds) into lat if given."""
    done = threading.Event()
    state = {"started": 0, "finished": 0, "error": None}
    lock = threading.Lock()
    if n == 0:
        return

    def issue():
        with lock:
            i = state["started"]
            if i >= n or state["error"] is not None:
                return False
            state["started"] = i + 1
        t0 = time.perf_counter()
        fut = session.execute_async(ps, make(i))
        fut.add_callbacks(on_result, on_error, callback_args=(i, t0), errback_args=(i, t0))
        return True

    def complete(error=None):
        with lock:
            state["finished"] += 1
            if error is not None and state["error"] is None:
                state["error"] = error
            more = state["started"] < n and state["error"] is None
        if not (more and issue()):
            with lock:
                if state["finished"] == state["started"]:
                    done.set()

    def on_result(_rows, i, t0):
        if lat is not None:
            lat[i] = time.perf_counter() - t0
        complete()

    def on_error(exc, _i, _t0):
        complete(exc)

    for _ in range(min(inflight, n)):
        issue()
    done.wait(300)
    if state["error"] is not None:
        raise SystemExit("request failed: %r" % (state["error"],))
    if not done.is_set():
        raise SystemExit("timed out")


def main():
    workload = sys.argv[1]
    inflight = int(sys.argv[2])
    count = int(sys.argv[3])
    warmup = int(sys.argv[4])
    cluster = Cluster(["127.0.0.1"], compression=False)
    session = cluster.connect(KEYSPACE)  # default profile: LOCAL_ONE

    if workload in ("insert", "select"):
        if workload == "insert":
            ps = session.prepare("INSERT INTO kv (k, v) VALUES (?, ?)")

            def make(i):
                return (i % 100000, VALUE)
        else:
            ps = session.prepare("SELECT k, v FROM kv WHERE k = ?")

            def make(i):
                return (i % SELECT_KEYS,)
        run(session, ps, make, warmup, inflight, None)
        lat = [0.0] * count
        cpu0, _ = cpu_and_rss()
        t0 = time.perf_counter()
        run(session, ps, make, count, inflight, lat)
        wall = time.perf_counter() - t0
        cpu1, rss = cpu_and_rss()
        n = count
    elif workload == "scan":
        inflight = 1
        stmt = SimpleStatement("SELECT p, c, v, n FROM scan", fetch_size=5000)
        if warmup > 0:
            rows = 0
            for _row in session.execute(stmt):
                rows += 1
                if rows >= warmup:
                    break
        lat = []
        cpu0, _ = cpu_and_rss()
        t0 = time.perf_counter()
        rows = total = 0
        t = time.perf_counter()
        for row in session.execute(stmt):
            rows += 1
            total += row.c
            if rows % 5000 == 0:
                t1 = time.perf_counter()
                lat.append(t1 - t)
                t = t1
        wall = time.perf_counter() - t0
        cpu1, rss = cpu_and_rss()
        if rows != count or total != count // 1000 * 499500:
            raise SystemExit("scan returned %d rows (checksum %d), expected %d" % (rows, total, count))
        n = rows
    else:
        raise SystemExit("unknown workload " + workload)

    lat.sort()
    pool_conns = sum(len(p._connections) if hasattr(p, "_connections") else 1
                     for p in session.get_pools())
    print("RESULT " + json.dumps({
        "driver": "python", "workload": workload, "inflight": inflight, "n": n, "wall_s": wall,
        "cpu_s": cpu1 - cpu0, "p50_us": percentile(lat, 0.5) * 1e6, "p99_us": percentile(lat, 0.99) * 1e6,
        "maxrss_kb": rss, "conns": pool_conns, "protocol": cluster.protocol_version,
        "reactor": cluster.connection_class.__name__,
    }), flush=True)
    cluster.shutdown()


if __name__ == "__main__":
    main()
