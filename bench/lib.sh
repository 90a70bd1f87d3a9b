# Shared set-up for the bench scripts (sourced, not run): a scratch directory, nginx from
# bench/nginx.conf pinned to core 0, and cicada_run, which runs the generator on core 1.
# bench_start NAME PORT sets $dir, $port and $bin; the EXIT trap stops nginx and every pid
# in $pids and removes $dir.
bench_start() {
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    bin=$PWD/cicada
    port=$2
    dir=$(mktemp -d "/tmp/cicada-$1.XXXXXX")
    chmod 755 "$dir" # nginx workers run as nobody
    mkdir -p "$dir/www" "$dir/tmp"
    head -c 100 /dev/zero | tr '\0' 'a' > "$dir/www/small"
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" bench/nginx.conf > "$dir/nginx.conf"
    ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    taskset -c 0 nginx -c "$dir/nginx.conf" &
    pids=($!)
    trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
    sleep 0.5
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
