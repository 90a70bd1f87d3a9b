"""Numbers for bench/compare.sh: reads one run's files into a JSON line, and prints the table.

    compare.py record RESULTS KIND PREFIX CASE TOOL ROUND USERS [EXPECTED_RPS]
    compare.py table RESULTS [--markdown]

record appends one JSON line to RESULTS and prints a short line about the run. KIND is
"wrk" (PREFIX.out is wrk --latency output) or "csv" (PREFIX_stats.csv and
PREFIX_stats_history.csv, which cicada and Locust write in the same format). PREFIX.time
holds /usr/bin/time's "%U %S %M %e" of the generator's process tree; PREFIX.target, when
there, the CPU clock ticks of nginx and of the whole machine before the run, the same after
it, and the ticks per second. EXPECTED_RPS marks a
think-time run: its steady rate and p99 are read from the history once every user runs.
"""
import csv
import json
import re
import statistics
import sys


def read_time(prefix):
    usr, sys_, rss, wall = open(prefix + ".time").read().split("\n")[-2].split()
    return float(usr) + float(sys_), int(rss), float(wall)


def wrk_ms(text):
    m = re.match(r"([0-9.]+)(us|ms|s|m|h)$", text)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}[m.group(2)]


def record_wrk(prefix):
    out = open(prefix + ".out").read()
    r = {"requests": int(re.search(r"(\d+) requests in", out).group(1)),
         "rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),
         "p50": wrk_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
         "p99": wrk_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))}
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["failures"] = (int(bad.group(1)) if bad else 0) + (sum(map(int, errs.groups())) if errs else 0)
    return r


def num(x):
    try:
        return float(x)
    except ValueError:
        return None  # N/A


def record_csv(prefix, users, expected):
    agg = [row for row in csv.DictReader(open(prefix + "_stats.csv")) if row["Name"] == "Aggregated"][0]
    r = {"requests": int(agg["Request Count"]), "failures": int(agg["Failure Count"]),
         "rps": float(agg["Requests/s"]), "p50": num(agg["50%"]), "p99": num(agg["99%"])}
    hist = [row for row in csv.DictReader(open(prefix + "_stats_history.csv"))
            if row["Name"] == "Aggregated"]
    r["max_users"] = max((int(row["User Count"]) for row in hist), default=0)
    if expected:
        # Steady state: every user running, from 5 s after the last one started (the spawn
        # burst's connections and first requests settle) to the end. A tool that never
        # started them all is measured over its last 5 seconds of running users, against
        # the full expectation. Think-time runs write --csv-full-history, whose Aggregated
        # percentiles are the last ~10 s ("current"), so the last row's 99% is the p99 of
        # the steady state.
        full = [row for row in hist if int(row["User Count"]) == users]
        full = [row for row in full if int(row["Timestamp"]) >= int(full[0]["Timestamp"]) + 5] \
            if full else []
        if len(full) < 3:
            full = [row for row in hist if int(row["User Count"]) > 0][-6:]
        r["steady_rps"] = ((int(full[-1]["Total Request Count"]) - int(full[0]["Total Request Count"]))
                           / max(1, int(full[-1]["Timestamp"]) - int(full[0]["Timestamp"])))
        r["steady_p99"] = num(full[-1]["99%"])
        r["steady_users"] = int(full[-1]["User Count"])
        r["expected_rps"] = expected
    return r


def record(results, kind, prefix, case, tool, rnd, users, expected=None):
    r = record_wrk(prefix) if kind == "wrk" else record_csv(prefix, int(users), expected and float(expected))
    r["cpu"], r["rss_kib"], r["wall"] = read_time(prefix)
    try:  # nginx's CPU and everything else's over the generator's run, in % of one core
        n0, m0, n1, m1, hz = map(int, open(prefix + ".target").read().split())
        r["target_pct"] = 100 * (n1 - n0) / hz / r["wall"]
        r["other_pct"] = max(0.0, 100 * ((m1 - m0 - n1 + n0) / hz - r["cpu"]) / r["wall"])
    except (OSError, ValueError):
        r["target_pct"] = r["other_pct"] = None
    r.update(case=case, tool=tool, round=int(rnd), users=int(users))
    with open(results, "a") as f:
        f.write(json.dumps(r) + "\n")
    rate = f"steady {r['steady_rps']:,.0f} req/s of {r['expected_rps']:,.0f} expected " \
           f"(p99 {fmt(r['steady_p99'], 'g')} ms), {r['steady_users']:,} users" if expected \
        else f"{r['rps']:,.0f} req/s"
    load = "" if r["target_pct"] is None else \
        f", nginx {r['target_pct']:.0f}% and others {r['other_pct']:.0f}% of a core"
    print(f"  {tool:7} {rate}, {r['requests']:,} requests, {r['failures']:,} failed, "
          f"{r['cpu']:.2f} CPU-s ({r['requests'] / max(r['cpu'], 0.01):,.0f} req/CPU-s), "
          f"peak RSS {r['rss_kib'] / 1024:.1f} MiB, p50 {fmt(r['p50'], 'g')} ms, "
          f"p99 {fmt(r['p99'], 'g')} ms{load}")


CASES = [  # id, label
    ("a10", "(a) 10 users"),
    ("a100", "(a) 100 users"),
    ("a1000", "(a) 1,000 users"),
    ("a100big", "(a) 100 users, 10 KB"),
    ("b10k", "(b) {users:,} users"),
    ("b20k", "(b) {users:,} users"),
    ("c", "(c) 1,000 names"),
    ("dplain", "(d) plain journey"),
    ("dlang", "(d) language journey"),
]
LEGEND = """(a) no think time, keep-alive, GET of 100 bytes (10 KB where said); (b) think time
0.5-1.5 s, expected rate = users / 1 s, steady = from 5 s after the last user started;
(c) 100 users, no think time, 1,000 request names; (d) 100 users, no think time, login then
a 3-request journey. CPU-s/10k: the generator's user + system CPU seconds per 10,000
requests; gen %, nginx %: each one's CPU over the generator's run, in % of its core;
others %: the rest of the machine's busy CPU meanwhile (other people's work on a shared
machine: noise), in % of one core; p50/p99 as each tool reports them (cicada and Locust:
whole-run percentiles of their stats CSV, in whole ms; wrk: --latency); steady p99: the
last ~10 s; c/tool: cicada's number over the tool's, same round, median of rounds."""
TOOLS = [("cicada", "cicada"), ("wrk", "wrk"), ("fast", "Locust FastHttpUser"),
         ("http", "Locust HttpUser")]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def eff(r):  # requests per generator CPU-second
    return r["requests"] / r["cpu"] if r["cpu"] > 0 else None


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def table(path, markdown=False):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    head = ["case", "tool", "req/s", "of expected", "CPU-s/10k", "req/CPU-s", "gen %", "nginx %", "others %",
            "peak RSS MiB", "KiB/user", "p50 ms", "p99 ms", "steady p99", "failed", "c/tool req/s",
            "c/tool req/CPU-s"]
    out, notes = [], []
    for cid, label in CASES:
        runs = [r for r in rows if r["case"] == cid]
        if not runs:
            continue
        label = label.format(users=runs[0]["users"])
        if cid == "b20k" and runs[0]["users"] < 20000:
            label += " (fd limit)"
            notes.append(f"(fd limit): 20,000 users need more open files than the limit allows "
                         f"here; the case runs {runs[0]['users']:,} (95% of it).")
        first = True
        for tid, tname in TOOLS:
            mine = sorted((r for r in runs if r["tool"] == tid), key=lambda r: r["round"])
            if not mine:
                continue
            think = "expected_rps" in mine[0]
            rate = med(r["steady_rps"] if think else r["rps"] for r in mine)
            # Ratios from the same round, then the median over rounds.
            ratios_rps, ratios_eff = [], []
            for r in mine:
                c = [x for x in runs if x["tool"] == "cicada" and x["round"] == r["round"]]
                if tid != "cicada" and c:
                    a, b = (c[0]["steady_rps"], r["steady_rps"]) if think else (c[0]["rps"], r["rps"])
                    ratios_rps.append(a / b if b else None)
                    e1, e2 = eff(c[0]), eff(r)
                    ratios_eff.append(e1 / e2 if e1 and e2 else None)
            reached = med(r["steady_users"] for r in mine) if think else None
            of_exp = None
            if think:
                of_exp = f"{100 * rate / mine[0]['expected_rps']:.0f}%"
                if reached < mine[0]["users"]:
                    of_exp += " (capped)"
                    notes.append(f"(capped) {label}, {tname}: only {max(r['max_users'] for r in mine):,} of "
                                 f"{mine[0]['users']:,} users were running when the capped run ended; "
                                 f"its rate is that of its last seconds, against the full expectation.")
            out.append([label if first else "", tname, fmt(rate, ",.0f"), of_exp or "",
                        fmt(med(1e4 * r["cpu"] / r["requests"] if r["requests"] else None for r in mine), ".3f"),
                        fmt(med(eff(r) for r in mine), ",.0f"),
                        fmt(med(100 * r["cpu"] / r["wall"] for r in mine), ".0f"),
                        fmt(med(r.get("target_pct") for r in mine), ".0f"),
                        fmt(med(r.get("other_pct") for r in mine), ".0f"),
                        fmt(med(r["rss_kib"] / 1024 for r in mine), ".1f"),
                        fmt(med(r["rss_kib"] / max(1, r["max_users"]) for r in mine), ".1f") if think else "",
                        fmt(med(r["p50"] for r in mine), "g"), fmt(med(r["p99"] for r in mine), "g"),
                        fmt(med(r["steady_p99"] for r in mine), "g") if think else "",
                        fmt(med(r["failures"] for r in mine), ",.0f"),
                        fmt(med(ratios_rps), ".2f") + "x" if ratios_rps else "",
                        fmt(med(ratios_eff), ".2f") + "x" if ratios_eff else ""])
            first = False
    widths = [max(len(str(row[i])) for row in out + [head]) for i in range(len(head))]
    line = lambda row: "  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w)
                                 for i, (v, w) in enumerate(zip(row, widths))).rstrip()
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|")
        for row in out:
            print("| " + " | ".join(str(v) for v in row) + " |")
    else:
        print(line(head))
        print("-" * len(line(head)))
        for row in out:
            print(line(row))
    for n in notes:
        print(n)
    print(LEGEND)
    # What the scenario language costs each tool: CPU per request, language over plain.
    for tid, tname in TOOLS:
        ratios = []
        for rnd in sorted({r["round"] for r in rows}):
            p = [r for r in rows if r["case"] == "dplain" and r["tool"] == tid and r["round"] == rnd]
            lg = [r for r in rows if r["case"] == "dlang" and r["tool"] == tid and r["round"] == rnd]
            if p and lg and p[0]["requests"] and lg[0]["requests"]:
                ratios.append((lg[0]["cpu"] / lg[0]["requests"]) / (p[0]["cpu"] / p[0]["requests"]))
        if ratios:
            print(f"{tname}: the language journey costs {med(ratios):.2f}x the plain one's CPU per "
                  f"request (median of {len(ratios)} same-round ratios)")


if __name__ == "__main__":
    if sys.argv[1] == "record":
        record(*sys.argv[2:])
    elif sys.argv[1] == "table":
        table(sys.argv[2], "--markdown" in sys.argv[3:])
    else:
        sys.exit(__doc__)
