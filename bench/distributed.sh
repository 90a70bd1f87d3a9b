#!/bin/bash
# What distribution costs (issue 5's floors), on loopback:
#  1. requests per generator CPU-second: one local process against a master with two
#     forked workers (--processes 2), same users and scenario, generator on core 1, nginx
#     on core 0; rounds alternate A B A B. Goal: distributed >= 0.9 x local.
#  2. a master taking a stats report and a heartbeat from each of 100 simulated workers
#     every second (bench/fake_workers.py): its CPU over the run. Goal: < 10% of one core.
# Usage: bench/distributed.sh [SECONDS per run, default 15] (ROUNDS=3 by default).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
secs=${1:-15}
rounds=${ROUNDS:-3}
bench_start distributed 18471
cat > "$dir/plain.json" <<JSON
{"host": "http://127.0.0.1:$port", "users": [{"name": "U", "tasks": [{"request": "/small"}]}]}
JSON

cpu_rate() { # NAME ARGS...: prints requests per CPU-second of the whole process tree
    local name=$1
    shift
    /usr/bin/time -f "%U %S" -o "$dir/$name.time" taskset -c 1 "$bin" -f "$dir/plain.json" \
        --headless -u 100 -r 100 -t "${secs}s" --only-summary --csv "$dir/$name" "$@" \
        >/dev/null 2>"$dir/$name.log" || true
    read -r usr sys < <(tail -1 "$dir/$name.time")
    /usr/bin/python3 - "$dir/$name" "$usr" "$sys" <<'PY'
import csv, sys
agg = [r for r in csv.DictReader(open(sys.argv[1] + "_stats.csv")) if r["Name"] == "Aggregated"][0]
n, cpu = int(agg["Request Count"]), float(sys.argv[2]) + float(sys.argv[3])
print(f"{n / cpu:.0f} {n} {int(agg['Failure Count'])} {cpu:.2f}")
PY
}

echo "== 1. local vs --processes 2, 100 users, no think time, ${secs}s x $rounds rounds"
for r in $(seq "$rounds"); do
    read -r lr ln lf lc < <(cpu_rate "local$r")
    read -r dr dn df dc < <(cpu_rate "dist$r" --processes 2 --master-bind-host 127.0.0.1 \
                                      --master-bind-port 18472)
    echo "round $r: local $lr req/CPU-s ($ln requests, $lf failures, ${lc}s CPU)" \
         " distributed $dr req/CPU-s ($dn requests, $df failures, ${dc}s CPU)" \
         " ratio $(echo "scale=3; $dr / $lr" | bc)"
done

echo "== 2. a master with 100 simulated workers reporting every second, ${secs}s"
/usr/bin/time -f "%U %S %e" -o "$dir/master.time" taskset -c 1 "$bin" -f "$dir/plain.json" \
    --master --master-bind-host 127.0.0.1 --master-bind-port 18473 --headless \
    --expect-workers 100 -u 1000 -r 1000 -t "${secs}s" --only-summary \
    >/dev/null 2>"$dir/master.log" &
mpid=$!
pids+=("$mpid")
taskset -c 0 /usr/bin/python3 bench/fake_workers.py 18473 100 "$((secs + 30))" &
pids+=($!)
wait "$mpid" || true
read -r usr sys wall < <(tail -1 "$dir/master.time")
echo "master: ${usr}s user + ${sys}s system over ${wall}s wall:" \
     "$(echo "scale=1; 100 * ($usr + $sys) / $wall" | bc)% of one core" \
     "($(grep -c 'reported as ready' "$dir/master.log") workers joined)"
