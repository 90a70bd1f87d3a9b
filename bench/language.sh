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

host="http://127.0.0.1:$port"
cat > "$dir/plain.json" <<JSON
{"host": "$host", "users": [{"name": "Plain",
  "headers": {"Authorization": "Bearer tok-8f2e1c", "Accept": "application/json"},
  "on_start": [{"request": {"method": "POST", "url": "/api/login",
                            "json": {"username": "user1", "password": "secret"}}}],
  "tasks": [{"steps": [
    {"request": "GET /api/items?page=3"},
    {"request": "GET /api/items/3?u=17"},
    {"request": {"method": "POST", "url": "/api/orders",
                 "json": {"item": 3, "qty": 2, "sku": "SKU-0003",
                          "note": "order 2f1c9a4e-7b3d-4c1e-9a8f-0d2e6b5c4a31 at 1764123456789"}}}
  ]}]}]}
JSON
/usr/bin/python3 - "$dir/accounts.csv" "$dir/products.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("username,password\n" + "".join(f"user{i},pw{i}\n" for i in range(1000)))
with open(sys.argv[2], "w") as f:
    f.write("sku,name\n" + "".join(f"SKU-{i:04d},item {i}\n" for i in range(100)))
PY
cat > "$dir/language.json" <<JSON
{"host": "$host",
 "data": {"accounts": {"file": "accounts.csv", "mode": "unique"},
          "products": {"file": "products.csv", "mode": "random", "per": "task"}},
 "users": [{"name": "Language",
  "headers": {"Authorization": "Bearer {{token}}", "Accept": "application/json"},
  "on_start": [{"request": {"method": "POST", "url": "/api/login",
                            "json": {"username": "{{accounts.username}}",
                                     "password": "{{accounts.password}}"},
                            "check": {"status": 200, "json": {"\$.status": "ok"}},
                            "capture": {"token": "\$.token"},
                            "on_failure": "stop_user"}}],
  "tasks": [{"steps": [
    {"request": {"url": "/api/items", "query": {"page": "{{random_int(1, 5)}}"},
                 "check": {"status": 200, "json": {"\$[*].id": {"exists": true}},
                           "headers": {"Content-Type": "json"}},
                 "capture": {"item": {"json": "\$[*].id", "pick": "random"}},
                 "on_failure": "end_task"}},
    {"request": {"url": "/api/items/{{item}}", "query": {"u": "{{user_index}}"},
                 "name": "/api/items/[id]",
                 "check": {"json": {"\$.stock": {"exists": true}},
                           "body_not_contains": "error", "max_time": 1},
                 "capture": {"stock": "\$.stock"}}},
    {"request": {"method": "POST", "url": "/api/orders",
                 "json": {"item": "{{item}}", "qty": "{{random_int(1, 3)}}",
                          "sku": "{{products.sku}}",
                          "note": "order {{uuid()}} at {{time_ms()}}"},
                 "check": {"json": {"\$.status": "placed"}}}}
  ]}]}]}
JSON

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
