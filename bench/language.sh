#!/usr/bin/env bash
# What the scenario language costs: the same journey (log in once, then list items, view
# one, place an order) written plain, with literal values, and written with what a real
# flow uses: a captured token in a class header, captures from JSON (random pick), templates
# in URL, query, headers and a typed JSON body (random_int, uuid, time_ms, user_index, a
# test-data column), and checks on status, JSON, headers, body and time. Measured: CPU
# microseconds per request of each, 100 users without think time, rounds alternating;
# issue 3's goal is at most 1.5x. nginx runs on core 0, cicada on core 1.
# Usage: bench/language.sh [seconds per run, default 15]
set -euo pipefail
secs=${1:-15}
. "$(dirname "$0")/lib.sh"
bench_start language 18434

language_scenarios

rounds=${ROUNDS:-3}
echo "== plain vs language, 100 users, no think time: $rounds rounds of ${secs}s =="
for i in $(seq "$rounds"); do
    echo -n "plain:    "; cicada_run "plain$i" 100 100 "$dir/plain.json" "$secs" | tee -a "$dir/plain.rows"
    echo -n "language: "; cicada_run "lang$i" 100 100 "$dir/language.json" "$secs" | tee -a "$dir/lang.rows"
done
/usr/bin/python3 - "$dir" <<'PY'
import re, statistics, sys
d = sys.argv[1]
def med(f, key):
    return statistics.median(float(re.search(key + r"=([0-9.]+)", l).group(1)) for l in open(f"{d}/{f}"))
p, l = med("plain.rows", "cpu_us_per_req"), med("lang.rows", "cpu_us_per_req")
fails = med("lang.rows", "failures") + med("lang.rows", "exceptions")
print(f"median CPU per request: plain {p:.2f} us, language {l:.2f} us, ratio {l / p:.2f} "
      f"(goal <= 1.50); language failures and exceptions (median) {fails:.0f}")
PY
