# Shared set-up for the bench scripts (sourced, not run): a scratch directory, nginx from
# bench/nginx.conf pinned to core 0 serving /small (100 bytes) and /big (10 KB), and
# cicada_run, which runs the generator on core 1.
# bench_start NAME PORT sets $dir, $port and $bin; the EXIT trap stops nginx and every pid
# in $pids and removes $dir.
bench_start() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    port=$2
    dir=$(mktemp -d "/tmp/cicada-$1.XXXXXX")
    chmod 755 "$dir" # nginx workers run as nobody
    # A copy of the binary: a rebuild while the bench runs changes nothing.
    cp cicada "$dir/cicada"
    bin=$dir/cicada
    mkdir -p "$dir/www" "$dir/tmp"
    head -c 100 /dev/zero | tr '\0' 'a' > "$dir/www/small"
    head -c 10240 /dev/zero | tr '\0' 'b' > "$dir/www/big"
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" bench/nginx.conf > "$dir/nginx.conf"
    ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    taskset -c 0 nginx -c "$dir/nginx.conf" &
    pids=($!)
    # Entries of $pids are pids, or -PGID for a process group started by timed.
    trap 'kill -- "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
    trap 'exit 143' INT TERM
    sleep 0.5
}

# timed NAME COMMAND...: runs COMMAND on core 1 under /usr/bin/time, which writes the user
# and system CPU seconds of the process tree, its peak RSS in KiB and the wall seconds to
# $dir/NAME.time; stdout and stderr go to $dir/NAME.out and NAME.err. The run has its own
# process group, so the EXIT trap can stop all of it; waits for it to end.
timed() {
    local name=$1
    shift
    setsid /usr/bin/time -f "%U %S %M %e" -o "$dir/$name.time" taskset -c 1 "$@" \
        >"$dir/$name.out" 2>"$dir/$name.err" &
    local pid=$!
    pids+=("-$pid")
    wait "$pid" || true
    unset 'pids[-1]'
}

# cicada_run NAME USERS RATE SCENARIO SECONDS: one headless run on core 1; prints
# requests, failures, exceptions, CPU seconds, requests per CPU-second, CPU microseconds per request,
# the steady rate once every user runs (from the history CSV) and the peak RSS.
cicada_run() {
    local out="$dir/$1"
    /usr/bin/time -f "%U %S %M" -o "$out.time" taskset -c 1 "$bin" -f "$4" --headless \
        -u "$2" -r "$3" -t "$5s" --only-summary --csv "$out" >/dev/null 2>"$out.log" || true
    read -r usr sys rss < <(tail -1 "$out.time")
    /usr/bin/python3 - "$out" "$usr" "$sys" "$rss" "$2" <<'PY'
import csv, sys
out, usr, sys_, rss, users = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = [r for r in csv.DictReader(open(out + "_stats_history.csv")) if r["Name"] == "Aggregated"]
agg = [r for r in csv.DictReader(open(out + "_stats.csv")) if r["Name"] == "Aggregated"][0]
total, fails = int(agg["Request Count"]), int(agg["Failure Count"])
# Steady state: all users running, the first 5 such seconds left out as warm-up.
full = [r for r in rows if int(r["User Count"]) == users][5:] or rows[len(rows) // 2:]
steady = (int(full[-1]["Total Request Count"]) - int(full[0]["Total Request Count"])) / max(1, int(full[-1]["Timestamp"]) - int(full[0]["Timestamp"]))
exc = sum(int(r["Count"]) for r in csv.DictReader(open(out + "_exceptions.csv")))
cpu = usr + sys_
print(f"requests={total} failures={fails} exceptions={exc} cpu_s={cpu:.2f} req_per_cpu_s={total / cpu:.0f} "
      f"cpu_us_per_req={1e6 * cpu / max(1, total):.2f} steady_rps={steady:.0f} "
      f"peak_rss_mib={rss / 1024:.1f} kib_per_user={rss / users:.1f}")
PY
}

# language_scenarios: writes $dir/plain.json and $dir/language.json, the same journey (log in
# once, then list items, view one, place an order) written with literal values and written
# with captures, templates, test data and checks, plus their data files (accounts.csv,
# products.csv). Used by bench/language.sh and bench/compare.sh (case d).
language_scenarios() {
    local host="http://127.0.0.1:$port"
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
}
