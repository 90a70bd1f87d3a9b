#!/usr/bin/env bash
# The engine issue's floors on this machine, measured (not asserted):
#   1. no think time, 100 users: requests per generator CPU-second (wrk alongside);
#   2. 10,000 users with 0.5-1.5 s think time: achieved vs expected rate, peak RSS.
# nginx (bench/nginx.conf) runs on core 0, the generator on core 1.
# Usage: bench/floors.sh [seconds per run, default 20]
set -euo pipefail
secs=${1:-20}
. "$(dirname "$0")/lib.sh"
bench_start floors 18431

cat > "$dir/nothink.json" <<JSON
{"host": "http://127.0.0.1:$port", "users": [{"name": "U", "tasks": [{"request": "GET /small"}]}]}
JSON
cat > "$dir/think.json" <<JSON
{"host": "http://127.0.0.1:$port", "users": [{"name": "U", "wait_time": {"between": [0.5, 1.5]},
 "tasks": [{"request": "GET /small"}]}]}
JSON

rounds=${ROUNDS:-3}
echo "== 100 users, no think time: $rounds rounds of ${secs}s, cicada and wrk alternating =="
for i in $(seq "$rounds"); do
    echo -n "cicada: "; cicada_run "nothink$i" 100 100 "$dir/nothink.json" "$secs" | tee -a "$dir/cicada.rows"
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
