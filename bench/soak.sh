#!/bin/bash
# make soak: a long run that must leave no trace in memory or descriptors.
#
# A master with its dashboard on 127.0.0.1 and two workers run SOAK_USERS users (think time
# 0.5-1.5 s) against nginx for SOAK_MINUTES. Meanwhile /stats/requests is polled every
# SOAK_POLL seconds, as an open dashboard does; at the midpoint worker 2 is killed
# (SIGKILL) and a new one takes its place 5 s later, so the survivor carries every user
# for a while and users move back. Every SOAK_SAMPLE seconds each process's RSS, open
# descriptors and statistics memory (the "Statistics memory" line all processes log at
# --loglevel DEBUG, with the number of task stacks mapped) go into samples.csv; the
# verdict at the end says whether each series stayed flat after warm-up (see below).
#
# Results stay in build/soak/: samples.csv, verdict.txt, the processes' logs and the CSV
# statistics.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MINUTES=${SOAK_MINUTES:-60}
USERS=${SOAK_USERS:-3000}
SAMPLE=${SOAK_SAMPLE:-60}
POLL=${SOAK_POLL:-5}
RATE=${SOAK_RATE:-100}
bench_start soak "${SOAK_PORT:-18090}"
out=$PWD/build/soak
rm -rf "$out"
mkdir -p "$out"

mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
wport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Three kinds of request: two pages and one that fails (404), so the failures table is
# exercised too; its key never changes, so it must not grow.
cat > "$dir/soak.json" <<JSON
{"users": [{"name": "Visitor", "wait_time": {"between": [0.5, 1.5]},
  "tasks": [{"request": "GET /small", "weight": 6},
            {"request": "GET /big", "weight": 3},
            {"request": "GET /missing", "weight": 1}]}]}
JSON

secs=$((MINUTES * 60))
cd "$dir"
"$bin" -f soak.json -H "http://127.0.0.1:$port" --master --master-bind-host 127.0.0.1 \
    --master-bind-port "$mport" --web-host 127.0.0.1 -P "$wport" --autostart --autoquit 1 \
    --expect-workers 2 -u "$USERS" -r "$RATE" -t "${secs}s" --csv soak --only-summary \
    --exit-code-on-error 0 --loglevel DEBUG >master.out 2>master.err &
master=$!
pids+=("$master")
start_worker() { # NAME: a worker logging to NAME.err; sets $wpid
    "$bin" --worker --master-host 127.0.0.1 --master-port "$mport" --loglevel DEBUG \
        >"$1.out" 2>"$1.err" &
    wpid=$!
    pids+=("$wpid")
}
start_worker w1
w1=$wpid
start_worker w2
w2=$wpid
w2log=w2

# The latest "Statistics memory: E entries, R errors, B bytes; task stacks: S mapped, ..."
# of a log, as "E,R,B,S".
footprint() {
    grep -a "Statistics memory:" "$1" 2>/dev/null | tail -1 |
        sed -E 's/.*Statistics memory: ([0-9]+) entries, ([0-9]+) errors, ([0-9]+) bytes; task stacks: ([0-9]+) mapped.*/\1,\2,\3,\4/' |
        grep -E '^[0-9]+,[0-9]+,[0-9]+,[0-9]+$' || echo ",,,"
}
# The users a process runs, from the last poll: the total for the master, a worker's own
# count (its id in the workers list holds its pid).
users_of() {
    python3 - "$1" "$2" <<'PY' 2>/dev/null || echo ""
import json, sys
doc = json.load(open("last.json"))
if sys.argv[1] == "master":
    print(doc["user_count"])
else:
    print(next((w["user_count"] for w in doc.get("workers", [])
                if w["id"].split("_")[1] == sys.argv[2]), ""))
PY
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo ""; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# A process that has exited (worker 2 between its kill and the sample, or everyone at the
# very end) gives no row rather than zeros.

echo "soak: $USERS users for $MINUTES min, master $master, workers $w1 $w2, dashboard" \
     "http://127.0.0.1:$wport, samples every $SAMPLE s into $out/samples.csv"
echo "t_s,process,pid,rss_kib,fds,stats_entries,stats_errors,stats_bytes,stacks,users" > samples.csv
t0=$(date +%s)
next_sample=$SAMPLE
restarted=0
polls=0
poll_fail=0
while kill -0 "$master" 2>/dev/null; do
    sleep "$POLL"
    now=$(( $(date +%s) - t0 ))
    # The dashboard's own poll: the whole statistics document, as the page fetches it.
    if curl -sf --max-time 5 -o poll.json "http://127.0.0.1:$wport/stats/requests"; then
        mv poll.json last.json
    elif kill -0 "$master" 2>/dev/null; then
        poll_fail=$((poll_fail + 1))
    fi
    polls=$((polls + 1))
    if [ "$restarted" = 0 ] && [ "$now" -ge $((secs / 2)) ]; then
        echo "soak: t=${now}s killing worker 2 ($w2)"
        kill -KILL "$w2"
        wait "$w2" 2>/dev/null || true
        sleep 5
        start_worker w2b
        w2=$wpid
        w2log=w2b
        restarted=$now
        echo "soak: t=$(( $(date +%s) - t0 ))s worker 2 restarted ($w2)"
    fi
    if [ "$now" -ge "$next_sample" ] && [ "$now" -lt "$secs" ]; then
        next_sample=$((next_sample + SAMPLE))
        for p in master:$master:master w1:$w1:w1 w2:$w2:$w2log; do
            IFS=: read -r name pid log <<<"$p"
            rss=$(rss_kib "$pid")
            [ -n "$rss" ] || continue
            echo "$now,$name,$pid,$rss,$(fds "$pid"),$(footprint "$log.err"),$(users_of "$name" "$pid")" >> samples.csv
        done
    fi
done
wait "$master" && rc=0 || rc=$?
for p in "$w1" "$w2"; do
    # The workers quit when the master tells them to.
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
cp samples.csv soak.json master.err w1.err w2.err soak_stats.csv soak_failures.csv "$out/" 2>/dev/null || true
[ -f w2b.err ] && cp w2b.err "$out/"

python3 - "$out" "$USERS" "$restarted" "$secs" "$rc" "$polls" "$poll_fail" <<'PY' | tee "$out/verdict.txt"
import csv, sys
out, users, restart, secs, rc, polls, poll_fail = sys.argv[1], *map(int, sys.argv[2:])
rows = list(csv.DictReader(open(f"{out}/samples.csv")))
agg = [r for r in csv.DictReader(open(f"{out}/soak_stats.csv")) if r["Name"] == "Aggregated"][0]

def slope_per_hour(pts):
    """Least-squares slope of (t s, v) points, per hour."""
    n = len(pts)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in pts) / n
    mv = sum(v for _, v in pts) / n
    den = sum((t - mt) ** 2 for t, _ in pts)
    return 3600 * sum((t - mt) * (v - mv) for t, v in pts) / den if den else 0.0

# What "flat" allows: the last sample of a window may exceed the window's lowest by at
# most this much (RSS: allocator noise; fds: a few connections being replaced; stats: a
# histogram widening to a new slowest response).
def bound(series, low):
    return {"rss_kib": 2048 + 0.02 * low, "fds": max(16, users // 100),
            "stats_bytes": 64 * 1024}[series]

times = sorted({int(r["t_s"]) for r in rows})
warm = max(1, len(times) // 5)           # the first 20% of the samples
warm_s = times[warm - 1] if times else 0
# Two windows: after warm-up up to the restart, and after the restart has settled (as
# long again as the warm-up) to the end. A restart moves users, so it may step a
# process's high-water mark once; a leak keeps climbing inside a window.
windows = [("before restart", warm_s, restart), ("after restart", restart + warm_s, secs)]
print(f"soak verdict: {len(times)} samples every {times[1] - times[0] if len(times) > 1 else 0} s, "
      f"warm-up = first {warm} samples ({warm_s} s), worker 2 restarted at {restart} s")
print(f"requests {agg['Request Count']}, failures {agg['Failure Count']} (the 404s asked for), "
      f"master exit code {rc}, dashboard polls {polls}, failed polls {poll_fail}")
ok = rc == 0 and poll_fail == 0
print(f"{'process':8} {'series':12} {'window':15} {'first':>10} {'min':>10} {'last':>10} "
      f"{'last-min':>9} {'at peaks':>9} {'bound':>8} {'slope/h':>10}  verdict")
for proc in ("master", "w1", "w2"):
    for series in ("rss_kib", "fds", "stats_bytes"):
        for wname, lo, hi in windows:
            sel = [r for r in rows if r["process"] == proc and r[series]
                   and lo <= int(r["t_s"]) < hi]
            pts = [(int(r["t_s"]), int(r[series])) for r in sel]
            # worker 2 before the restart and after it are two processes
            if len(pts) < 2:
                print(f"{proc:8} {series:12} {wname:15} {'(too few samples)':>40}")
                continue
            vals = [v for _, v in pts]
            low, last = min(vals), vals[-1]
            b = bound(series, low)
            # RSS rises with the pools (task stacks and the easy handles their users hold),
            # which grow only to a new peak of users inside a task at once: a stall of the
            # machine or the target. A rise between two samples counts "at peaks" when the
            # number of stacks mapped rose then (or at the next sample: the count is up to
            # 10 s older than the RSS); a leak rises between peaks too, so whatever rose
            # elsewhere must stay within the bound.
            at_peaks = 0
            if series == "rss_kib":
                st = [int(r["stacks"] or 0) for r in sel]
                for i in range(1, len(vals)):
                    grew = st[i] > st[i - 1] or (i + 1 < len(st) and st[i + 1] > st[i])
                    if grew and vals[i] > vals[i - 1]:
                        at_peaks += vals[i] - vals[i - 1]
            flat = last - low - at_peaks <= b
            ok &= flat
            print(f"{proc:8} {series:12} {wname:15} {vals[0]:>10} {low:>10} {last:>10} "
                  f"{last - low:>9} {at_peaks:>9} {b:>8.0f} {slope_per_hour(pts):>10.1f}  "
                  f"{'flat' if flat else 'GROWING'}")
    sel = [r for r in rows if r["process"] == proc and r["stacks"]]
    if sel:
        print(f"{proc:8} task stacks mapped: {sel[0]['stacks']} at {sel[0]['t_s']} s, "
              f"{sel[-1]['stacks']} at {sel[-1]['t_s']} s (worker 2: the restarted process)")
print("VERDICT:", "flat" if ok else "NOT flat")
sys.exit(0 if ok else 1)
PY
