#!/usr/bin/env bash
# cicada beside wrk and Locust 2.12 (HttpUser and FastHttpUser) on identical work, issue 7.
# nginx (bench/nginx.conf: one worker, keep-alive, no access log) serves /small (100 bytes)
# and /big (10 KB) on 127.0.0.1, pinned to core 0; every generator runs alone on core 1
# under /usr/bin/time (CPU = user + system seconds of its process tree, peak RSS). Within
# a round the tools run one after another (A B C D, then again next round), and each ratio
# cicada/tool comes from the same round; the table quotes medians over rounds.
#   (a) no think time, keep-alive: 10, 100 and 1,000 users (wrk -c N -t 1), and 100 users
#       fetching the 10 KB file;
#   (b) 10,000 and 20,000 users with 0.5-1.5 s think time (cicada and FastHttpUser; wrk
#       cannot think), one run each, users started over 5 s: the steady rate (from 5 s
#       after the last user started) against the expected users/1.0 s, the p99 of the last
#       10 s, RSS per user; 20,000 becomes 95% of the open-files hard limit where that is
#       lower;
#   (c) 1,000 distinct request names, 100 users, no think time (cicada, FastHttpUser);
#   (d) bench/language.sh's journey written plain and written with captures, templates,
#       test data and checks (cicada; FastHttpUser with catch_response and a JSON capture).
# Locust's numbers come from its --csv files (made complete at exit by benchhook.py below),
# wrk's from its --latency output.
# Usage: bench/compare.sh [SECONDS per run, default 10]. ROUNDS (default 2) rounds of (a),
# (c) and (d); THINK_ROUNDS (default 1) of (b); CASES (default "a b c d") picks cases;
# KEEP=DIR keeps every run's files there.
set -euo pipefail
secs=${1:-10}
rounds=${ROUNDS:-2}
think_rounds=${THINK_ROUNDS:-1}
cases=${CASES:-a b c d}
. "$(dirname "$0")/lib.sh"
bench_start compare 18481
py=/usr/bin/python3
host="http://127.0.0.1:$port"
res="$dir/results.jsonl"
t0=$(date +%s)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
     "kernel $(uname -r), fd limit $(ulimit -n)"
echo "versions: cicada $("$bin" --version 2>&1 | head -1 | awk '{print $NF}')," \
     "libcurl $(dpkg-query -W -f='${Version}\n' libcurl4 2>/dev/null)," \
     "nginx $(nginx -v 2>&1 | cut -d/ -f2)," \
     "wrk $(dpkg-query -W -f='${Version}' wrk), locust $(dpkg-query -W -f='${Version}' python3-locust)"
echo "each run ${secs}s (think-time runs $((secs + 10))s), $rounds rounds of (a) (c) (d)," \
     "$think_rounds of (b); cases: $cases"

# ---- what each tool runs ----------------------------------------------------------------
# Locust 2.12 rewrites PREFIX_stats.csv every second but flushes only every 10 s and never
# at exit, so a 10 s run leaves numbers up to a second old and a history of one row. Every
# bench locustfile imports this: flush every second, and at quit write the stats file and
# a last history row the way Locust's own writer does.
cat > "$dir/benchhook.py" <<'PY'
import time

import locust.stats
from locust import events

locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 0
_writers = []
_init = locust.stats.StatsCSVFileWriter.__init__


def _remember(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    _writers.append(self)


locust.stats.StatsCSVFileWriter.__init__ = _remember


@events.quitting.add_listener
def _final_csv(environment, **_kwargs):
    for w in _writers:
        w.requests_csv_filehandle.seek(0)
        w.requests_csv_filehandle.truncate()
        w.requests_csv_writer.writerow(w.requests_csv_columns)
        w._requests_data_rows(w.requests_csv_writer)
        w._stats_history_data_rows(w.stats_history_csv_writer, time.time())
        w.requests_flush()
        w.stats_history_flush()
PY

locustfile() { # FILE CLASS WAIT_TIME PATH: one task, one GET
    cat > "$1" <<PY
import benchhook
from locust import $2, between, constant, task


class U($2):
    wait_time = $3

    @task
    def get(self):
        self.client.get("$4")
PY
}
scenario() { # FILE WAIT_TIME_JSON PATH
    echo "{\"host\": \"$host\", \"users\": [{\"name\": \"U\", $2
           \"tasks\": [{\"request\": \"GET $3\"}]}]}" > "$1"
}
for kind in FastHttpUser HttpUser; do
    k=${kind%%HttpUser}
    k=${k:-Http}
    k=${k,,}
    locustfile "$dir/${k}_small.py" "$kind" "constant(0)" /small
    locustfile "$dir/${k}_big.py" "$kind" "constant(0)" /big
done
locustfile "$dir/fast_think.py" FastHttpUser "between(0.5, 1.5)" /small
scenario "$dir/small.json" "" /small
scenario "$dir/big.json" "" /big

# (c) 1,000 tasks, each its own URL and so its own name.
$py - "$dir" "$host" <<'PY'
import json, sys
d, host = sys.argv[1:]
json.dump({"host": host, "users": [{"name": "U", "tasks": [
    {"request": f"GET /small?item={i}"} for i in range(1000)]}]}, open(f"{d}/names.json", "w"))
open(f"{d}/fast_names.py", "w").write('''import benchhook
from locust import FastHttpUser, constant


def get(i):
    def task(user):
        user.client.get(f"/small?item={i}")
    return task


class U(FastHttpUser):
    wait_time = constant(0)
    tasks = [get(i) for i in range(1000)]
''')
PY

# (d) bench/language.sh's scenarios, and the same two journeys for Locust.
language_scenarios
cat > "$dir/fast_plain.py" <<'PY'
import benchhook
from locust import FastHttpUser, constant, task

HEADERS = {"Authorization": "Bearer tok-8f2e1c", "Accept": "application/json"}
ORDER = {"item": 3, "qty": 2, "sku": "SKU-0003",
         "note": "order 2f1c9a4e-7b3d-4c1e-9a8f-0d2e6b5c4a31 at 1764123456789"}


class Plain(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.client.post("/api/login", json={"username": "user1", "password": "secret"},
                         headers=HEADERS)

    @task
    def journey(self):
        self.client.get("/api/items?page=3", headers=HEADERS)
        self.client.get("/api/items/3?u=17", headers=HEADERS)
        self.client.post("/api/orders", json=ORDER, headers=HEADERS)
PY
cat > "$dir/fast_lang.py" <<'PY'
import csv
import itertools
import os
import random
import time
import uuid

import benchhook
from locust import FastHttpUser, constant, task
from locust.exception import StopUser

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNTS = list(csv.DictReader(open(os.path.join(HERE, "accounts.csv"))))
PRODUCTS = list(csv.DictReader(open(os.path.join(HERE, "products.csv"))))
NEXT_USER = itertools.count()


class Language(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.index = next(NEXT_USER)
        account = ACCOUNTS[self.index % len(ACCOUNTS)]  # a row of its own
        with self.client.post("/api/login", json={"username": account["username"],
                                                  "password": account["password"]},
                              headers={"Accept": "application/json"},
                              catch_response=True) as r:
            body = r.json() if r.status_code == 200 else {}
            if body.get("status") != "ok":
                r.failure("login failed")
                raise StopUser()
            self.headers = {"Authorization": "Bearer " + body["token"],
                            "Accept": "application/json"}

    @task
    def journey(self):
        product = random.choice(PRODUCTS)  # one random row per task
        with self.client.get(f"/api/items?page={random.randint(1, 5)}", name="/api/items",
                             headers=self.headers, catch_response=True) as r:
            items = r.json() if r.status_code == 200 else []
            if (not items or any("id" not in x for x in items)
                    or "json" not in r.headers.get("Content-Type", "")):
                r.failure("items: check failed")
                return
            item = random.choice(items)["id"]
        with self.client.get(f"/api/items/{item}?u={self.index}", name="/api/items/[id]",
                             headers=self.headers, catch_response=True) as r:
            body = r.json()
            if "stock" not in body or "error" in r.text or r.request_meta["response_time"] > 1000:
                r.failure("item: check failed")
            self.stock = body.get("stock")
        note = f"order {uuid.uuid4()} at {int(time.time() * 1000)}"
        with self.client.post("/api/orders", json={"item": item, "qty": random.randint(1, 3),
                                                   "sku": product["sku"], "note": note},
                              headers=self.headers, catch_response=True) as r:
            if r.json().get("status") != "placed":
                r.failure("order: check failed")
PY

# ---- runners: each a timed run on core 1, then its numbers -----------------------------
record() { # KIND NAME CASE TOOL ROUND USERS [EXPECTED_RPS]
    $py bench/compare.py record "$res" "$1" "$dir/$2" "${@:3}" ||
        { echo "  $4: no numbers; the end of its log:"; tail -5 "$dir/$2.err" | sed 's/^/    /'; }
}
nginx_ticks() { # CPU clock ticks (user + system) that nginx's worker has used so far
    local worker
    worker=$(cat "/proc/${pids[0]}/task/${pids[0]}/children")
    awk '{print $14 + $15}' "/proc/${worker%% *}/stat"
}
busy_ticks() { # CPU clock ticks the whole machine has been busy (or stolen by the host)
    awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
# measured NAME COMMAND...: timed, and into $dir/NAME.target the CPU ticks of nginx's
# worker and of the whole machine before and after, and the ticks per second: what the
# other engineers' work on a shared machine took during the run shows there.
measured() {
    local before
    before="$(nginx_ticks) $(busy_ticks)"
    timed "$@"
    echo "$before $(nginx_ticks) $(busy_ticks) $(getconf CLK_TCK)" > "$dir/$1.target"
}
# A think-time run (EXPECTED_RPS given) also writes --csv-full-history, whose percentiles
# are those of the last ~10 s.
run_cicada() { # NAME CASE ROUND USERS SPAWN_RATE SCENARIO SECONDS [EXPECTED_RPS]
    measured "$1" "$bin" -f "$6" --headless -u "$4" -r "$5" -t "$7s" --only-summary \
        --csv "$dir/$1" ${8:+--csv-full-history}
    record csv "$1" "$2" cicada "$3" "$4" ${8:+"$8"}
}
run_locust() { # NAME CASE TOOL ROUND USERS SPAWN_RATE LOCUSTFILE SECONDS [EXPECTED_RPS]
    measured "$1" locust -f "$7" -H "$host" --headless -u "$5" -r "$6" -t "$8s" --only-summary \
        --csv "$dir/$1" ${9:+--csv-full-history}
    record csv "$1" "$2" "$3" "$4" "$5" ${9:+"$9"}
}
run_wrk() { # NAME CASE ROUND CONNECTIONS PATH SECONDS
    measured "$1" wrk -t1 -c"$4" -d"$6s" --latency "$host$5"
    record wrk "$1" "$2" wrk "$3" "$4"
}
has() { [[ " $cases " == *" $1 "* ]]; }

# ---- the cases ----------------------------------------------------------------------------
for r in $(seq "$rounds"); do
    if has a; then
        for spec in 10:small:a10 100:small:a100 1000:small:a1000 100:big:a100big; do
            IFS=: read -r n path id <<<"$spec"
            echo "== round $r: ($id) $n users, /$path, no think time, ${secs}s"
            run_cicada "$id-cicada-$r" "$id" "$r" "$n" "$n" "$dir/$path.json" "$secs"
            run_wrk "$id-wrk-$r" "$id" "$r" "$n" "/$path" "$secs"
            run_locust "$id-fast-$r" "$id" fast "$r" "$n" "$n" "$dir/fast_$path.py" "$secs"
            run_locust "$id-http-$r" "$id" http "$r" "$n" "$n" "$dir/http_$path.py" "$secs"
        done
    fi
    if has c; then
        echo "== round $r: (c) 1,000 request names, 100 users, no think time, ${secs}s"
        run_cicada "c-cicada-$r" c "$r" 100 100 "$dir/names.json" "$secs"
        run_locust "c-fast-$r" c fast "$r" 100 100 "$dir/fast_names.py" "$secs"
    fi
    if has d; then
        echo "== round $r: (d) plain and language journeys, 100 users, no think time, ${secs}s"
        run_cicada "dplain-cicada-$r" dplain "$r" 100 100 "$dir/plain.json" "$secs"
        run_cicada "dlang-cicada-$r" dlang "$r" 100 100 "$dir/language.json" "$secs"
        run_locust "dplain-fast-$r" dplain fast "$r" 100 100 "$dir/fast_plain.py" "$secs"
        run_locust "dlang-fast-$r" dlang fast "$r" 100 100 "$dir/fast_lang.py" "$secs"
    fi
done

if has b; then
    # A user per keep-alive connection needs a socket in the generator and one in nginx's
    # single worker, and each process's open files are capped by the hard limit (20,000 on
    # the machine this was written on; only CAP_SYS_RESOURCE raises it). cicada also holds
    # 2 files per 64 users (libcurl's wake-up socket pair in each multi handle). So where
    # the limit is lower than 20,000 users need, the case runs as many users as fit in 95%
    # of it (19,000 of 20,000), and says so.
    long=$((secs + 10))
    hard=$(ulimit -Hn)
    for r in $(seq "$think_rounds"); do
        for want in 10000 20000; do
            n=$want
            [ "$hard" != unlimited ] && [ $((hard * 95 / 100)) -lt "$want" ] && n=$((hard * 95 / 100))
            id=b$((want / 1000))k
            echo "== round $r: ($id) $n users, 0.5-1.5 s think time, spawned in 5 s, ${long}s" \
                 "(open files hard limit $hard)"
            scenario "$dir/think$n.json" '"wait_time": {"between": [0.5, 1.5]},' /small
            run_cicada "$id-cicada-$r" "$id" "$r" "$n" $((n / 5)) "$dir/think$n.json" "$long" "$n"
            run_locust "$id-fast-$r" "$id" fast "$r" "$n" $((n / 5)) "$dir/fast_think.py" "$long" "$n"
        done
    done
fi

echo
echo "== cicada beside wrk and Locust 2.12: medians over rounds; ratios from the same round"
$py bench/compare.py table "$res"
echo "(this took $(($(date +%s) - t0)) s)"
if [ -n "${KEEP:-}" ]; then # KEEP=DIR keeps every run's files (logs, CSVs, results.jsonl)
    mkdir -p "$KEEP" && cp -r "$dir"/. "$KEEP"/ && echo "(files kept in $KEEP)"
fi
