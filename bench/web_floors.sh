#!/usr/bin/env bash
# The dashboard issue's floors, measured (not asserted):
#   1. GET /stats/requests answers in under 5 ms with 1,000 distinct names while 10,000
#      users run (0.5-1.5 s think time);
#   2. polling the dashboard every second lowers requests/s by less than 5% (100 users,
#      no think time: the generator is CPU-bound there, so any cost shows).
# nginx runs on core 0, cicada on core 1. Usage: bench/web_floors.sh [seconds]
set -euo pipefail
secs=${1:-30}
web=18433
. "$(dirname "$0")/lib.sh"
bench_start webfloors 18432

/usr/bin/python3 - "$dir/names.json" "$port" <<'PY'
import json, sys
tasks = [{"request": f"GET /small?item={i}"} for i in range(1000)]
json.dump({"host": f"http://127.0.0.1:{sys.argv[2]}", "users": [
    {"name": "U", "wait_time": {"between": [0.5, 1.5]}, "tasks": tasks}]}, open(sys.argv[1], "w"))
PY
cat > "$dir/nothink.json" <<JSON
{"host": "http://127.0.0.1:$port", "users": [{"name": "U", "tasks": [{"request": "GET /small"}]}]}
JSON

echo "== /stats/requests latency: 1,000 names, 10,000 users =="
taskset -c 1 "$bin" -f "$dir/names.json" --web-host 127.0.0.1 -P $web --autostart \
    -u 10000 -r 2000 -t 70s --autoquit 0 >/dev/null 2>"$dir/names.log" &
pids+=($!)
sleep 12
# The first call finds no answer ready and builds it (what a page opened mid-test waits);
# then the dashboard's own rhythm, a poll every 2 s, answered from the table the server
# rebuilds each second while it is polled.
for i in $(seq 21); do
    curl -s -o /dev/null -w "%{time_total}\n" "http://127.0.0.1:$web/stats/requests" || true
    sleep 2
done > "$dir/latency.txt"
names=$(curl -s "http://127.0.0.1:$web/stats/requests" | /usr/bin/python3 -c \
    'import json,sys; d=json.load(sys.stdin); print(len(d["stats"]) - 1, d["user_count"], round(d["current_rps"]))')
wait "${pids[-1]}" || true
/usr/bin/python3 - "$dir/latency.txt" "$names" <<'PY'
import statistics, sys
calls = [float(x) * 1000 for x in open(sys.argv[1])]
first, t = calls[0], sorted(calls[1:])
rows, users, rps = sys.argv[2].split()
print(f"rows={rows} (capped at 500, as Locust) users={users} current_rps={rps}")
print(f"/stats/requests: first call (built on demand) {first:.2f} ms; polled every 2 s: "
      f"median {statistics.median(t):.2f} ms, max {t[-1]:.2f} ms over {len(t)} calls")
PY

echo "== 100 users, no think time: requests/s without and with polling every second =="
rate() { # polling(0|1): prints the steady requests/s from the history CSV
    taskset -c 1 "$bin" -f "$dir/nothink.json" --web-host 127.0.0.1 -P $web --autostart \
        -u 100 -r 100 -t "${secs}s" --autoquit 0 --csv "$dir/p$1" >/dev/null 2>&1 &
    local pid=$!
    if [ "$1" = 1 ]; then
        # A browser's polling, from one keep-alive connection, beside nginx on core 0 (a
        # real browser would be on another machine; a process per request would cost
        # more than the answers).
        taskset -c 0 /usr/bin/python3 - "$web" "$pid" <<'PY'
import http.client, os, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
conn = None
def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
while alive():
    try:
        conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        for path in ("/stats/requests", "/stats/history?since=0", "/tasks"):
            conn.request("GET", path)
            conn.getresponse().read()
    except OSError:
        conn = None
    time.sleep(1)
PY
    fi
    wait $pid || true
    /usr/bin/python3 - "$dir/p$1_stats_history.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["Name"] == "Aggregated" and r["User Count"] == "100"][3:]
print((int(rows[-1]["Total Request Count"]) - int(rows[0]["Total Request Count"])) /
      (int(rows[-1]["Timestamp"]) - int(rows[0]["Timestamp"])))
PY
}
a=(); b=()
for i in 1 2 3; do a+=("$(rate 0)"); b+=("$(rate 1)"); done
/usr/bin/python3 - "${a[*]}" "${b[*]}" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"without polling: {', '.join(f'{x:.0f}' for x in a)} req/s (median {ma:.0f})")
print(f"with polling:    {', '.join(f'{x:.0f}' for x in b)} req/s (median {mb:.0f})")
print(f"change: {100 * (mb - ma) / ma:+.1f}%")
PY
