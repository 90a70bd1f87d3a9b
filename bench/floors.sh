#!/usr/bin/env bash
# The engine issue's floors on this machine, measured (not asserted):
#   1. no think time, 100 users: requests per generator CPU-second (wrk alongside);
#   2. 10,000 users with 0.5-1.5 s think time: achieved vs expected rate, peak RSS.
# nginx (bench/nginx.conf) runs on core 0, the generator on core 1.
# Usage: bench/floors.sh [seconds per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
bin=$PWD/cicada
port=18431
dir=$(mktemp -d /tmp/cicada-floors.XXXXXX)
mkdir -p "$dir/www" "$dir/tmp"
head -c 100 /dev/zero | tr '\0' 'a' > "$dir/www/small"
sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" bench/nginx.conf > "$dir/nginx.conf"
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
taskset -c 0 nginx -c "$dir/nginx.conf" &
ngx=$!
trap 'kill $ngx 2>/dev/null; wait $ngx 2>/dev/null; rm -rf "$dir"' EXIT
sleep 0.5

cat > "$dir/nothink.json" <<JSON
{"host": "http://127.0.0.1:$port", "users": [{"name": "U", "tasks": [{"request": "GET /small"}]}]}
JSON
cat > "$dir/think.json" <<JSON
{"host": "http://127.0.0.1:$port", "users": [{"name": "U", "wait_time": {"between": [0.5, 1.5]},
 "tasks": [{"request": "GET /small"}]}]}
JSON

# cicada NAME USERS RATE SCENARIO [SECONDS]: prints requests, CPU seconds, peak RSS (KiB),
# and the steady rate once every user runs (from the history CSV).
cicada_run() {
    local out="$dir/$1"
    /usr/bin/time -f "%U %S %M" -o "$out.time" taskset -c 1 "$bin" -f "$4" --headless \
        -u "$2" -r "$3" -t "${5:-$secs}s" --only-summary --csv "$out" >/dev/null 2>"$out.log" || true
    read -r usr sys rss < <(tail -1 "$out.time")
    /usr/bin/python3 - "$out" "$usr" "$sys" "$rss" "$2" <<'PY'
import csv, sys
out, usr, sys_, rss, users = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = [r for r in csv.DictReader(open(out + "_stats_history.csv")) if r["Name"] == "Aggregated"]
total = int([r for r in csv.DictReader(open(out + "_stats.csv")) if r["Name"] == "Aggregated"][0]["Request Count"])
# Steady state: all users running, the first 5 such seconds left out as warm-up.
full = [r for r in rows if int(r["User Count"]) == users][5:] or rows[len(rows) // 2:]
steady = (int(full[-1]["Total Request Count"]) - int(full[0]["Total Request Count"])) / max(1, int(full[-1]["Timestamp"]) - int(full[0]["Timestamp"]))
cpu = usr + sys_
print(f"requests={total} cpu_s={cpu:.2f} req_per_cpu_s={total / cpu:.0f} steady_rps={steady:.0f} "
      f"peak_rss_mib={rss / 1024:.1f} kib_per_user={rss / users:.1f}")
PY
}

rounds=${ROUNDS:-3}
echo "== 100 users, no think time: $rounds rounds of ${secs}s, cicada and wrk alternating =="
for i in $(seq "$rounds"); do
    echo -n "cicada: "; cicada_run "nothink$i" 100 100 "$dir/nothink.json" | tee -a "$dir/cicada.rows"
    /usr/bin/time -f "%U %S" -o "$dir/wrk.time" taskset -c 1 wrk -t1 -c100 -d"${secs}s" \
        "http://127.0.0.1:$port/small" > "$dir/wrk.out"
    read -r wu ws < <(tail -1 "$dir/wrk.time")
    wreq=$(awk '/requests in/{print $1}' "$dir/wrk.out")
    echo "wrk:    requests=$wreq cpu_s=$(echo "$wu + $ws" | bc) req_per_cpu_s=$(echo "$wreq / ($wu + $ws)" | bc)" \
        | tee -a "$dir/wrk.rows"
done
/usr/bin/python3 - "$dir" <<'PY'
import re, statistics, sys
d = sys.argv[1]
def medians(f):
    return statistics.median(float(re.search(r"req_per_cpu_s=(\d+)", l).group(1)) for l in open(f"{d}/{f}"))
c, w = medians("cicada.rows"), medians("wrk.rows")
print(f"median requests per CPU-second: cicada {c:.0f}, wrk {w:.0f}, ratio {c / w:.2f}")
PY

long=$((secs * 2))
echo "== 10,000 users, 0.5-1.5 s think time, ${long}s, spawned in 5 s (expected ~10,000 req/s) =="
echo -n "cicada: "; cicada_run think10k 10000 2000 "$dir/think.json" "$long"
