"""Prints the driver benchmark table from RESULT lines (JSON, one per cell).

    python3 report.py results.jsonl

Standard library only. Ratios are cqlua over the peer: throughput ratio
above 1 means cqlua is faster; CPU ratio below 1 means cqlua uses less CPU
per request. The issue's aims: throughput >= gocql's (ratio >= 1.00), CPU
per request <= gocql's (ratio <= 1.00), and CPU per request at most a fifth
of the Python driver's (ratio <= 0.20).
"""
import json
import sys

ORDER = ["cqlua", "cqlua-2conn", "capi", "gocql", "gocql-1conn", "gocql-nocoalesce", "python"]
GOCQLS = ["gocql", "gocql-1conn", "gocql-nocoalesce"]
CELLS = [("insert", 1), ("insert", 32), ("insert", 256), ("select", 1), ("select", 32), ("select", 256),
         ("scan", 1)]


def load(path):
    results, failures = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("RESULT "):
                r = json.loads(line[len("RESULT "):])
                results[(r["workload"], int(r["inflight"]), r["driver"])] = r
            elif line.startswith("FAILED "):
                failures.append(line[len("FAILED "):])
    return results, failures


def cell_name(workload, inflight):
    return "scan 1M rows" if workload == "scan" else "%s x%d" % (workload, inflight)


def rate(r):
    return r["n"] / r["wall_s"] if r["wall_s"] > 0 else 0.0


def cpu10k(r):
    return r["cpu_s"] / r["n"] * 10000


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def print_failures(failures):
    if failures:
        print()
        print("Cells that failed (see the log):")
        for f in failures:
            print("  - " + f)


def main():
    results, failures = load(sys.argv[1])
    drivers = [d for d in ORDER if any(k[2] == d for k in results)]
    print("Figures (requests/s; for the scan rows/s and latency per 5,000-row page; CPU = user+sys "
          "seconds per 10,000 requests or rows; RSS = peak of the process)")
    print("%-14s %-17s %10s %10s %10s %10s %8s %6s %6s" % (
        "workload", "driver", "req/s", "p50 ms", "p99 ms", "CPU/10k s", "RSS MB", "conns", "proto"))
    for w, n in CELLS:
        for d in drivers:
            r = results.get((w, n, d))
            if not r:
                continue
            print("%-14s %-17s %10.0f %10.3f %10.3f %10.3f %8.1f %6s %6s" % (
                cell_name(w, n), d, rate(r), r["p50_us"] / 1000, r["p99_us"] / 1000, cpu10k(r),
                r["maxrss_kb"] / 1024, r.get("conns", "?"), r.get("protocol", "?")))
    print()
    peers = [p for p in GOCQLS + ["python"] if p in drivers]
    if not peers:
        print("No peer columns in this run: no ratios.")
        print_failures(failures)
        return
    short = {"gocql": "gocql", "gocql-1conn": "gocql1", "gocql-nocoalesce": "gocqlNC", "python": "python"}
    print("Ratios cqlua / peer (throughput: >= 1.00 is the aim vs gocql; CPU per request: <= 1.00 vs gocql, "
          "<= 0.20 vs python)")
    print("%-14s %-12s" % ("workload", "") + "".join(
        "%13s%13s" % ("tput/" + short[p], "cpu/" + short[p]) for p in peers))
    missed, missed_best, compared = [], [], 0
    for w, n in CELLS:
        name = cell_name(w, n)
        for mine in ("cqlua", "cqlua-2conn", "capi"):
            c = results.get((w, n, mine))
            if not c:
                continue
            line = "%-14s %-12s" % (name, mine)
            for p in peers:
                r = results.get((w, n, p))
                line += "%13s%13s" % ((ratio(rate(c), rate(r)), ratio(cpu10k(c), cpu10k(r))) if r else ("-", "-"))
            print(line)
        c = results.get((w, n, "cqlua"))
        if not c:
            continue
        g = results.get((w, n, "gocql"))
        if g:
            compared += 1
            if rate(c) < rate(g):
                missed.append("%s: throughput %.2fx gocql's" % (name, rate(c) / rate(g)))
            if cpu10k(c) > cpu10k(g):
                missed.append("%s: CPU per request %.2fx gocql's" % (name, cpu10k(c) / cpu10k(g)))
        py = results.get((w, n, "python"))
        if py:
            compared += 1
            if cpu10k(c) > 0.2 * cpu10k(py):
                missed.append("%s: CPU per request %.2fx the Python driver's (aim <= 0.20)" % (
                    name, cpu10k(c) / cpu10k(py)))
        gs = [results[(w, n, p)] for p in GOCQLS if (w, n, p) in results]
        if gs:
            best_rate = max(gs, key=rate)
            best_cpu = min(gs, key=cpu10k)
            if rate(c) < rate(best_rate):
                missed_best.append("%s: throughput %.2fx %s's" % (name, rate(c) / rate(best_rate),
                                                                   best_rate["driver"]))
            if cpu10k(c) > cpu10k(best_cpu):
                missed_best.append("%s: CPU per request %.2fx %s's" % (name, cpu10k(c) / cpu10k(best_cpu),
                                                                        best_cpu["driver"]))
    print()
    if compared == 0:
        print("No cqlua cell with a peer to compare it with in this run.")
    elif missed:
        print("Aims not met in this run (cqlua against gocql with its defaults and the Python driver):")
        for m in missed:
            print("  - " + m)
    else:
        print("Every aim met in this run (cqlua against gocql with its defaults and the Python driver).")
    if missed_best:
        print("cqlua behind the best gocql column of each cell:")
        for m in missed_best:
            print("  - " + m)
    print_failures(failures)


if __name__ == "__main__":
    main()
