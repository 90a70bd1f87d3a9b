"""Distributed mode: a master (--master) plans users for workers (--worker) that connect to
it over ZeroMQ, sends them the scenario with its data files, and merges their statistics.

Everything runs on 127.0.0.1: masters bind --master-bind-host 127.0.0.1 on a free port,
workers get no files (the master sends them). Fake peers (a python DEALER posing as a
worker, a python ROUTER posing as a master) check the handshake and the master's
resistance to malformed input."""

import json
import os
import re
import signal
import socket
import time

import pytest

from conftest import (SANITIZER_MARKS, SLACK, Dashboard, assert_clean_exit, free_port,
                      log_lines, read_csv, stats_rows)

zmq = pytest.importorskip("zmq")

# The master's bind line and the dashboard's start line: each says a socket listens.
MASTER_UP = "Master listening for workers at tcp://127.0.0.1:{port}"
WEB_UP = "Starting web interface at http://127.0.0.1:{port}"
WORKER_KEYS = {"id", "host", "index", "state", "user_count", "cpu_usage", "memory_usage",
               "heartbeat_age"}
NO_WORKER = ("You can't start a distributed test before at least one worker processes has "
             "connected")
# Seconds the master waits without a heartbeat before a worker is missing (3), plus its
# once-a-second check.
MISSING_WITHIN = 5


# ---- helpers ----------------------------------------------------------------------------

def _wait_log(proc, text, timeout):
    """Waits until proc's stderr holds text: True, or False when proc exited first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in proc.err_text():
            return True
        if proc.p.poll() is not None:
            return text in proc.err_text()
        time.sleep(0.05)
    pytest.fail(f"{proc.args!r}: no {text!r} within {timeout} s:\n{proc.err_text()[-3000:]}")


def start_master(c, *args, web=False, port=None, timeout=SLACK, env=None):
    """Starts `cicada --master` on free ports of 127.0.0.1 (a retry when another process
    took one meanwhile), or on the master port given, and waits until it listens for
    workers (and, with web, serves the dashboard). Returns (proc, master port, Dashboard
    or None)."""
    fixed = port
    for _ in range(3):
        port = fixed or free_port()
        extra = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
        wport = None
        if web:
            wport = free_port()
            extra += ["--web-host", "127.0.0.1", "-P", wport]
        proc = c.start(*args, *extra, env=env)
        ok = _wait_log(proc, MASTER_UP.format(port=port), timeout)
        if ok and web:
            ok = _wait_log(proc, WEB_UP.format(port=wport), timeout)
        if ok and proc.p.poll() is None:
            return proc, port, Dashboard(proc, wport) if web else None
        err = proc.err_text()
        proc.kill()
        if fixed or ("was busy" not in err and "Address already in use" not in err):
            pytest.fail(f"{proc.args!r} exited at start:\n{err[-3000:]}")
    pytest.fail("no free port for the master after 3 tries")


def start_worker(c, port, *args):
    return c.start("--worker", "--master-host", "127.0.0.1", "--master-port", port, *args)


def worker_pid(entry):
    """The pid in a worker id ("host_pid_random")."""
    return int(entry["id"].split("_")[1])


def by_pid(doc):
    return {worker_pid(w): w for w in doc["workers"]}


def wait_workers(d, n, timeout=SLACK):
    return d.wait_for(lambda x: x["worker_count"] == n and len(x["workers"]) == n, timeout,
                      f"{n} workers")


def wait_exit(procs, timeout):
    """Waits for every proc to exit within timeout seconds (from now); returns their
    Results and the seconds each took from now."""
    t0 = time.monotonic()
    out = []
    for p in procs:
        left = max(0.1, timeout - (time.monotonic() - t0))
        r = p.wait(left)
        out.append((r, time.monotonic() - t0))
    return out


def query(req):
    """A request's query string as a dict of single values."""
    return dict(x.split("=", 1) for x in req.query.split("&") if "=" in x)


def children_of(pid):
    """Pids whose parent is pid (from /proc/*/stat)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(name))
    return out


def alive(pid):
    """True when a process (not a zombie) with this pid exists."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


@pytest.fixture
def zctx():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def dealer(ctx, port, ident=None):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    if ident is not None:
        s.setsockopt(zmq.ROUTING_ID, ident)
    s.connect(f"tcp://127.0.0.1:{port}")
    return s


def send_json(sock, *frames):
    sock.send_multipart([f if isinstance(f, bytes) else json.dumps(f).encode()
                         for f in frames])


def recv_json(sock, timeout):
    """The next message's last frame as JSON, or None after timeout seconds."""
    if not sock.poll(int(timeout * 1000)):
        return None
    return json.loads(sock.recv_multipart()[-1])


HELLO = {"type": "hello", "data": {"protocol": 1, "version": "fake", "host": "fake", "pid": 1}}


# ---- headless: a master and 2 workers, against a local run ------------------------------

USERS = 6
# Weights 2:1 over 2 workers: Locust's dispatch gives each worker 2 A and 1 B.
CLASSES = {"users": [
    {"name": "A", "weight": 2, "wait_time": {"between": [0, 0.05]}, "tasks": [
        {"request": {"url": "/ok?c=A&w={{worker_index}}", "name": "ok A"}},
        {"request": {"method": "POST", "url": "/echo", "json": {"w": "{{worker_index}}"},
                     "name": "echo A"}}]},
    {"name": "B", "weight": 1, "wait_time": {"between": [0, 0.05]}, "tasks": [
        {"request": {"url": "/big?c=B&w={{worker_index}}", "name": "big B"}}]}]}
FAILING = {"users": [{"name": "F", "wait_time": {"between": [0, 0.05]}, "tasks": [
    {"request": "GET /ok", "weight": 2}, {"request": "GET /fail"}]}]}
CSV_FILES = ("stats", "failures", "exceptions", "stats_history")
# Each task: /slow (0.3 s), think 1 s, then /ok (test_stop.py's): at a 2 s limit every user
# is thinking inside its second task.
SLOW_TASKS = {"users": [{"name": "U", "wait_time": 0,
                         "on_stop": [{"request": "POST /logout"}],
                         "tasks": [{"name": "slow task", "steps": [
                             {"request": "GET /slow?ms=300"}, {"think": 1},
                             {"request": "GET /ok"}]}]}]}
ACCOUNTS = 6
# Users live about 0.4 s (a login, a task, a failure that stops them, a logout) and are
# spawned over 2 s: the rows of each worker pass from user to user.
DATA = {
    "data": {"accounts": {"file": "accounts.csv", "mode": "unique"}},
    "users": [{
        "name": "S", "wait_time": 0.05, "sequential": True,
        "on_start": [{"request": {
            "method": "POST", "url": "/token-login",
            "json": {"username": "{{accounts.username}}", "w": "{{worker_index}}",
                     "env": "{{env(CICADA_T_WORKER_ENV, unset)}}"},
            "capture": {"token": "$.token"}}}],
        "on_stop": [{"request": {"method": "POST", "url": "/logout",
                                 "json": {"username": "{{accounts.username}}",
                                          "token": "{{token}}"}}}],
        "tasks": [{"request": "GET /ok"},
                  {"steps": [{"think": 0.3},
                             {"request": {"url": "/fail", "on_failure": "stop_user"}}]}]}]}
EXPECT = {"new": ("--expect-workers", "--worker"), "old": ("--expect-slaves", "--slave")}


@pytest.fixture(scope="module")
def headless(module_cicada, make_module_target):
    """Every bounded headless run, all at once: the same scenarios locally and on a master
    with 2 workers (d_ and l_), --stop-timeout, test data, --processes and masters that
    wait for a worker too many."""
    c = module_cicada
    c.write("classes.json", CLASSES)
    c.write("failing.json", FAILING)
    c.write("slow.json", SLOW_TASKS)
    c.write("data.json", DATA)
    c.write("accounts.csv", "username\n" + "".join(f"acct{i}\n" for i in range(ACCOUNTS)))
    c.write("u.json", {"users": [{"name": "U", "wait_time": {"between": [0, 0.05]},
                                  "tasks": [{"request": "GET /ok"}]}]})
    runs = {}

    def distributed(name, *args, workers=2, worker_args=("--worker",), worker_env=None):
        t = make_module_target()
        mproc, port, _ = start_master(c, "-H", t.url, "--headless", *args)
        ws = [c.start(*worker_args, "--master-host", "127.0.0.1", "--master-port", port,
                      env=c.env(**worker_env) if worker_env else None)
              for _ in range(workers)]
        runs[name] = dict(target=t, master=mproc, workers=ws)

    for scen in ("classes", "failing"):
        run = ["-f", f"{scen}.json", "-u", USERS, "-r", USERS, "-t", "3s"]
        distributed(f"d_{scen}", *run, "--expect-workers", 2, "--csv", f"d_{scen}")
        t = make_module_target()
        runs[f"l_{scen}"] = dict(target=t, workers=[], master=c.start(
            *run, "-H", t.url, "--headless", "--csv", f"l_{scen}"))
    distributed("stop_timeout", "-f", "slow.json", "-u", 4, "-r", 100, "-t", "2s", "-s", 5,
                "--expect-workers", 2, "--csv", "stop_timeout")
    distributed("data", "-f", "data.json", "-u", 10, "-r", 5, "-t", "3s",
                "--expect-workers", 2, worker_env={"CICADA_T_WORKER_ENV": "worker's"})
    # One worker command that starts 2 workers (--worker --processes 2).
    distributed("worker_processes", "-f", "u.json", "-u", 4, "-r", 4, "-t", "3s",
                "--expect-workers", 2, "--csv", "worker_processes", workers=1,
                worker_args=("--worker", "--processes", 2))
    wp = runs["worker_processes"]
    wp["kids"] = []
    end = time.monotonic() + 5
    while not wp["kids"] and wp["workers"][0].p.poll() is None and time.monotonic() < end:
        wp["kids"] = children_of(wp["workers"][0].pid)
        time.sleep(0.05)
    for k, (expect, worker) in EXPECT.items():
        distributed(f"expect_{k}", "-f", "u.json", "-u", 2, "-t", "5s", expect, 2,
                    "--expect-workers-max-wait", 2, workers=1, worker_args=(worker,))
    t = make_module_target()
    proc = c.start("-f", "u.json", "-H", t.url, "--headless", "-u", 4, "-r", 4, "-t", "3s",
                   "--processes", 2, "--master-bind-host", "127.0.0.1",
                   "--master-bind-port", free_port(), "--csv", "processes")
    runs["processes"] = dict(target=t, master=proc, workers=[])
    # The forked workers, while they run.
    kids = []
    end = time.monotonic() + 5
    while len(kids) < 2 and proc.p.poll() is None and time.monotonic() < end:
        kids = children_of(proc.pid)
        time.sleep(0.05)
    runs["processes"]["kids"] = kids
    runs["processes"]["kid_exes"] = []
    for k in kids:
        try:
            with open(f"/proc/{k}/cmdline", "rb") as f:
                runs["processes"]["kid_exes"].append(f.read().split(b"\0")[0].decode())
        except OSError:
            pass

    for r in runs.values():
        r["result"] = r["master"].wait(10 + SLACK)
        # The workers quit when the master says so, before it exits.
        r["worker_results"] = wait_exit(r["workers"], 5)
    for r in runs.values():
        r["target"].wait_idle(quiet=0.2)
    c.runs = runs
    return c


def check_counts(path, target, users):
    """The CSV's counts against the target's: each name and the total at most `users`
    short (a request in flight when the users stopped reached the target uncounted)."""
    rows = stats_rows(path)
    agg = rows.pop(("", "Aggregated"))
    counted = int(agg["Request Count"])
    assert counted > 50, agg
    assert 0 <= target.total() - counted <= users, (target.total(), counted)
    assert sum(int(r["Request Count"]) for r in rows.values()) == counted
    assert sum(int(r["Failure Count"]) for r in rows.values()) == int(agg["Failure Count"])
    return rows, agg


def test_headless_counts_match_the_target(headless):
    run = headless.runs["d_classes"]
    r, t = run["result"], run["target"]
    assert r.rc == headless.runs["l_classes"]["result"].rc == 0, r
    rows, agg = check_counts(headless.path("d_classes_stats.csv"), t, USERS)
    assert agg["Failure Count"] == "0"
    names = {"ok A": ("GET", "/ok"), "echo A": ("POST", "/echo"), "big B": ("GET", "/big")}
    assert set(rows) == {(m, n) for n, (m, _) in names.items()}, rows.keys()
    for name, (method, path) in names.items():
        n = int(rows[(method, name)]["Request Count"])
        assert 0 <= t.count(method, path) - n <= USERS, (name, t.count(method, path), n)
    # Content sizes merge exactly.
    assert float(rows[("GET", "big B")]["Average Content Size"]) == 10000
    assert "Response time percentiles (approximated)" in r.err
    # The console summary is the CSV's.
    assert re.search(rf"\n\s+Aggregated\s+{agg['Request Count']}\s+0\(0\.00%\)", r.err), r.err


def test_headless_workers_exit_0_after_the_master(headless):
    run = headless.runs["d_classes"]
    for w, _ in run["worker_results"]:
        assert w.rc == 0, w
        assert "The master asked this worker to quit" in w.err
        for mark in SANITIZER_MARKS:
            assert mark not in w.err
    assert run["result"].err.count("reported as ready. ") == 2


def test_headless_csv_files_as_a_local_run(headless):
    for scen in ("classes", "failing"):
        for f in CSV_FILES:
            dist = read_csv(headless.path(f"d_{scen}_{f}.csv"))
            local = read_csv(headless.path(f"l_{scen}_{f}.csv"))
            assert dist[0] == local[0], (scen, f)
            if f == "stats":
                assert [r[:2] for r in dist[1:]] == [r[:2] for r in local[1:]], (dist, local)
                assert all(len(r) == len(local[0]) for r in dist)


def test_headless_failures_and_exit_code_as_a_local_run(headless):
    d, loc = headless.runs["d_failing"], headless.runs["l_failing"]
    assert d["result"].rc == loc["result"].rc == 1, (d["result"], loc["result"])
    assert all(w.rc == 0 for w, _ in d["worker_results"]), d["worker_results"]
    rows, agg = check_counts(headless.path("d_failing_stats.csv"), d["target"], USERS)
    fails = int(rows[("GET", "/fail")]["Failure Count"])
    assert fails == int(rows[("GET", "/fail")]["Request Count"]) > 0
    assert 0 <= d["target"].count("GET", "/fail") - fails <= USERS

    def failures(run, prefix):
        rows = read_csv(headless.path(f"{prefix}_failures.csv"))
        return {(m, n, e.replace(run["target"].url, "URL")): int(k) for m, n, e, k in rows[1:]}
    df, lf = failures(d, "d_failing"), failures(loc, "l_failing")
    assert set(df) == set(lf), (df, lf)
    assert sum(df.values()) == fails


def test_headless_workers_run_both_classes(headless):
    run = headless.runs["d_classes"]
    assert 'All users spawned: {"A": 4, "B": 2} (6 total users)' in run["result"].err
    for w, _ in run["worker_results"]:
        assert 'All users spawned: {"A": 2, "B": 1} (3 total users)' in w.err, w.err
    # Each worker (its index in the URLs) ran users of both classes.
    seen = {(q["c"], q["w"]) for q in map(query, run["target"].requests("GET")) if q}
    assert seen == {("A", "0"), ("A", "1"), ("B", "0"), ("B", "1")}, seen
    echo = {json.loads(x.body)["w"] for x in run["target"].requests("POST", "/echo")}
    assert echo == {0, 1}


# ---- headless: --stop-timeout -----------------------------------------------------------

def test_stop_timeout_reaches_the_workers(headless):
    """With --stop-timeout the workers let running tasks finish and run on_stop; the
    master waits for their final reports, so its counts are the target's exactly."""
    run = headless.runs["stop_timeout"]
    assert run["result"].rc == 0, run["result"]
    for w, _ in run["worker_results"]:
        assert w.rc == 0, w
    assert run["target"].counts() == {("GET", "/slow"): 8, ("GET", "/ok"): 8,
                                      ("POST", "/logout"): 4}
    rows = stats_rows(headless.path("stop_timeout_stats.csv"))
    assert {k: int(v["Request Count"]) for k, v in rows.items()} == {
        ("GET", "/slow?ms=300"): 8, ("GET", "/ok"): 8, ("POST", "/logout"): 4,
        ("", "Aggregated"): 20}


# ---- headless: --processes --------------------------------------------------------------

def test_processes_forks_workers_and_reaps_them(headless):
    run = headless.runs["processes"]
    r, kids = run["result"], run["kids"]
    assert len(kids) == 2, (kids, r)
    assert run["kid_exes"] == [r.args[0]] * 2, run["kid_exes"]
    assert r.rc == 0, r
    # The children log to the same stderr.
    assert r.err.count("Connected to the master at tcp://127.0.0.1:") == 2, r.err
    assert r.err.count("reported as ready. ") == 2
    assert not [k for k in kids if alive(k)], "forked workers left running"
    assert children_of(run["master"].pid) == []
    check_counts(headless.path("processes_stats.csv"), run["target"], 4)


def test_worker_processes_starts_that_many_workers(headless):
    """`cicada --worker --processes 2`: this process is one worker and forks the other; both
    connect, split the users, quit when the master does and are reaped."""
    run = headless.runs["worker_processes"]
    r = run["result"]
    assert r.rc == 0, r
    assert r.err.count("reported as ready. ") == 2, r.err
    assert 'All users spawned: {"U": 4} (4 total users)' in r.err, r.err
    (w, _), = run["worker_results"]
    assert w.rc == 0, w
    assert len(run["kids"]) == 1, run["kids"]
    ids = set(re.findall(r"Connected to the master at \S+ as (\S+) ", w.err))
    assert {worker_pid({"id": i}) for i in ids} == {run["workers"][0].pid, run["kids"][0]}, \
        w.err
    assert w.err.count('All users spawned: {"U": 2} (2 total users)') == 2, w.err
    assert w.err.count("The master asked this worker to quit") == 2, w.err
    assert not alive(run["kids"][0]), "the forked worker left running"
    check_counts(headless.path("worker_processes_stats.csv"), run["target"], 4)


def test_processes_minus_one_forks_one_worker_per_cpu(cicada, make_target):
    """`--processes -1`: one forked worker per CPU online (sysconf, as os.cpu_count()); the
    master waits for every one, splits the users over them, counts what the target got and
    reaps them."""
    cpus = min(os.cpu_count(), 1024)  # main.c forks at most 1024
    users = 2 * cpus
    cicada.write("u.json", {"users": [{"name": "U", "wait_time": {"between": [0, 0.05]},
                                       "tasks": [{"request": "GET /ok"}]}]})
    t = make_target()
    proc = cicada.start("-f", "u.json", "-H", t.url, "--headless", "-u", users, "-r", users,
                        "-t", "2s", "--processes", -1, "--master-bind-host", "127.0.0.1",
                        "--master-bind-port", free_port(), "--csv", "cpus")
    kids = []
    end = time.monotonic() + 5
    while len(kids) < cpus and proc.p.poll() is None and time.monotonic() < end:
        kids = children_of(proc.pid)
        time.sleep(0.05)
    r = proc.wait(10 + SLACK)
    assert len(kids) == cpus, (kids, cpus, r)
    assert r.rc == 0, r
    assert r.err.count("reported as ready. ") == cpus, r.err
    assert f"reported as ready. {cpus} workers connected." in r.err, r.err
    assert f'All users spawned: {{"U": {users}}} ({users} total users)' in r.err, r.err
    assert r.err.count('All users spawned: {"U": 2} (2 total users)') == cpus, r.err
    for mark in SANITIZER_MARKS:
        assert mark not in r.err, r
    assert not [k for k in kids if alive(k)], "forked workers left running"
    assert children_of(proc.pid) == []
    t.wait_idle(quiet=0.2)
    check_counts(cicada.path("cpus_stats.csv"), t, users)


# ---- headless: --expect-workers-max-wait ------------------------------------------------

@pytest.mark.parametrize("names", ["new", "old"])
def test_master_gives_up_waiting_for_workers(headless, names):
    """(The old names, --expect-slaves and --slave, are Locust's aliases.)"""
    run = headless.runs[f"expect_{names}"]
    r = run["result"]
    assert r.rc == 1, r
    assert 2 <= r.elapsed < 2 + 5, r.elapsed
    errors = log_lines(r.err, "ERROR")
    assert any(x.endswith("Gave up waiting for workers to connect: 1 of 2 after 2 seconds "
                          "(--expect-workers-max-wait)") for x in errors), r.err
    (w, _), = run["worker_results"]
    assert w.rc == 0, w
    assert run["target"].total() == 0


# ---- headless: unique test data split across workers ------------------------------------

def test_unique_rows_are_split_across_workers(headless):
    run = headless.runs["data"]
    r, t = run["result"], run["target"]
    assert r.rc == 1, r                  # /fail, on purpose
    for w, _ in run["worker_results"]:
        assert w.rc == 0, w

    logouts = {}
    for x in t.requests("POST", "/logout"):
        body = json.loads(x.body)
        logouts[body["token"]] = (body["username"], x.t_end)
    spans, rows = {}, {}
    for x in t.requests("POST", "/token-login"):
        body = json.loads(x.body)
        user, end = logouts.pop(x.extra["token"])
        assert user == body["username"]
        rows.setdefault(body["w"], set()).add(int(user[len("acct"):]))
        # {{env(...)}} is read where the file loads: on the worker, as a locustfile's
        # os.environ (the master does not have the variable)
        assert body["env"] == "worker's", body
        spans.setdefault(user, []).append((x.t_start, end))
    assert logouts == {}
    assert sum(len(v) for v in spans.values()) >= 8, spans
    # Each worker (by its {{worker_index}}) used only its share: rows i with the same
    # i mod 2 (the share's number need not be the worker's index).
    assert set(rows) == {0, 1}, rows
    shares = {w: {i % 2 for i in r} for w, r in rows.items()}
    assert sorted(map(sorted, shares.values())) == [[0], [1]], rows
    for user, s in spans.items():
        s.sort()
        for (_, end), (start, _) in zip(s, s[1:]):
            assert end <= start, (user, s)


# ---- a web master with 2 workers --------------------------------------------------------

def blob(page):
    m = re.search(r"<script>window\.cicada = (.*?);</script>", page)
    assert m, page[:2000]
    return json.loads(m.group(1))


def test_web_master_with_two_workers(cicada, make_target):
    t = make_target()
    cicada.write("u.json", {"users": [{"name": "U", "wait_time": 0.05,
                                       "tasks": [{"request": "GET /ok"}]}]})
    proc, port, d = start_master(cicada, "-f", "u.json", web=True)
    assert blob(d.get("/").text)["is_distributed"] is True
    doc = d.stats()
    assert (doc["worker_count"], doc["workers"], doc["state"]) == (0, [], "ready")

    # No worker yet: the test cannot start.
    r = d.post("/swarm", data={"user_count": 4, "spawn_rate": 4, "host": t.url})
    assert r.status_code == 400, r.text
    assert r.json()["success"] is False
    assert r.json()["message"] == NO_WORKER
    assert d.stats()["state"] == "ready"

    workers = [start_worker(cicada, port) for _ in range(2)]
    pids = {w.pid for w in workers}
    doc = wait_workers(d, 2)
    # Memory and CPU come with the first heartbeat (every second).
    doc = d.wait_for(lambda x: all(w["memory_usage"] > 0 for w in x["workers"]), 3 + SLACK,
                     "a heartbeat from each worker")
    assert set(by_pid(doc)) == pids
    assert sorted(w["index"] for w in doc["workers"]) == [0, 1]
    for w in doc["workers"]:
        assert set(w) == WORKER_KEYS, w
        assert (w["state"], w["user_count"]) == ("ready", 0), w
        assert isinstance(w["cpu_usage"], (int, float)) and w["cpu_usage"] >= 0
        assert isinstance(w["memory_usage"], int) and w["memory_usage"] > 1 << 20
        assert w["host"] == socket.gethostname()
        assert 0 <= w["heartbeat_age"] < 3, w
    assert t.total() == 0

    # The host comes from the form: the scenario has none, the workers get it.
    r = d.post("/swarm", data={"user_count": 4, "spawn_rate": 4, "host": t.url})
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "message": "Swarming started", "host": t.url}
    doc = d.wait_for(lambda x: sorted(w["user_count"] for w in x["workers"]) == [2, 2]
                     and x["user_count"] == 4 and x["state"] == "running", 5,
                     "4 users split 2/2")
    assert [w["state"] for w in doc["workers"]] == ["running", "running"], doc["workers"]
    assert doc["worker_count"] == 2
    d.wait_for(lambda x: x["stats"][-1]["num_requests"] > 20, 5, "requests")

    r = d.get("/stop")
    assert r.status_code == 200 and r.json() == {"success": True, "message": "Test stopped"}
    doc = d.wait_state("stopped", 5)
    assert doc["user_count"] == 0
    assert [w["user_count"] for w in doc["workers"]] == [0, 0], doc["workers"]
    d.wait_for(lambda x: all(w["state"] == "ready" for w in x["workers"]), 5,
               "workers ready after the stop")
    # "stopped" comes after each worker's final report: nothing more arrives.
    t.wait_idle(quiet=0.2)
    counted = d.stats()["stats"][-1]["num_requests"]
    assert 0 <= t.total() - counted <= 4, (t.total(), counted)
    time.sleep(0.5)
    assert d.stats()["stats"][-1]["num_requests"] == counted

    # A second test: statistics start over, the workers load the test again.
    t.reset()
    r = d.post("/swarm", data={"user_count": 2, "spawn_rate": 10})
    assert r.status_code == 200, r.text
    doc = d.stats()
    assert doc["stats"][-1]["num_requests"] < counted
    doc = d.wait_for(lambda x: sorted(w["user_count"] for w in x["workers"]) == [1, 1]
                     and x["user_count"] == 2, 5, "2 users split 1/1")
    d.wait_for(lambda x: x["stats"][-1]["num_requests"] > 10, 5, "requests")
    d.get("/stop")
    d.wait_state("stopped", 5)
    t.wait_idle(quiet=0.2)
    counted = d.stats()["stats"][-1]["num_requests"]
    assert 0 <= t.total() - counted <= 2, (t.total(), counted)
    for w in workers:
        assert w.err_text().count("All users spawned: ") == 2, w.err_text()

    res = d.stop_process()
    assert_clean_exit(res, codes=(0,))
    for w, _ in wait_exit(workers, 5):
        assert w.rc == 0, w


# ---- workers that leave, pause or die ---------------------------------------------------

# Requests that name the worker's index.
BY_WORKER = {"users": [{"name": "U", "wait_time": 0.05,
                        "tasks": [{"request": {"url": "/ok?w={{worker_index}}"}}]}]}


def test_killed_worker_goes_missing_and_its_users_move(cicada, make_target):
    t = make_target()
    cicada.write("u.json", BY_WORKER)
    proc, port, d = start_master(cicada, "-f", "u.json", "-H", t.url, web=True)
    workers = [start_worker(cicada, port) for _ in range(2)]
    wait_workers(d, 2)
    r = d.post("/swarm", data={"user_count": 6, "spawn_rate": 100})
    assert r.status_code == 200, r.text
    d.wait_for(lambda x: sorted(w["user_count"] for w in x["workers"]) == [3, 3], 5,
               "6 users split 3/3")

    victim, survivor = workers
    os.kill(victim.pid, signal.SIGKILL)
    t_kill = time.monotonic()
    doc = d.wait_for(lambda x: by_pid(x)[victim.pid]["state"] == "missing", MISSING_WITHIN + 1,
                     "the killed worker missing")
    assert time.monotonic() - t_kill <= MISSING_WITHIN
    assert doc["worker_count"] == 1
    assert by_pid(doc)[victim.pid]["user_count"] == 0
    vid = by_pid(doc)[victim.pid]["id"]
    assert any(f"Worker {vid} failed to send heartbeat" in x
               for x in log_lines(proc.err_text(), "WARNING")), proc.err_text()
    # The log says the users move.
    assert any(x.endswith(f"Worker {vid} is missing: its 3 users will be replaced on the "
                          "other workers") for x in log_lines(proc.err_text(), "INFO")), \
        proc.err_text()

    # The survivor takes over the lost users.
    doc = d.wait_for(lambda x: by_pid(x)[survivor.pid]["user_count"] == 6
                     and x["user_count"] == 6 and x["state"] == "running", 5,
                     "the other worker running all 6 users")
    assert by_pid(doc)[survivor.pid]["state"] == "running"
    n = t.total()
    d.wait_for(lambda x: t.total() > n + 20, 5, "requests after the kill")

    r = d.get("/stop")
    assert r.status_code == 200
    doc = d.wait_state("stopped", 5)
    assert doc["user_count"] == 0
    d.wait_for(lambda x: by_pid(x)[survivor.pid]["state"] == "ready", 5, "survivor ready")
    t.wait_idle(quiet=0.3)
    n = t.total()
    time.sleep(0.5)
    assert t.total() == n, "requests after /stop"

    res = d.stop_process()
    assert_clean_exit(res, codes=(0,))
    (w, _), = wait_exit([survivor], 5)
    assert w.rc == 0, w


def test_rebalancing_goes_at_the_spawn_rate(cicada, make_target):
    """A lost worker's users are started on the other at the spawn rate, not all at once,
    and a worker that joins takes its share the same way while the total holds."""
    t = make_target()
    cicada.write("u.json", BY_WORKER)
    proc, port, d = start_master(cicada, "-f", "u.json", "-H", t.url, web=True)
    workers = [start_worker(cicada, port) for _ in range(2)]
    wait_workers(d, 2)
    assert d.post("/swarm", data={"user_count": 10, "spawn_rate": 100}).status_code == 200
    d.wait_for(lambda x: sorted(w["user_count"] for w in x["workers"]) == [5, 5], 5,
               "10 users split 5/5")
    # The same users, now at 2 per second: what rebalancing will go at.
    assert d.post("/swarm", data={"user_count": 10, "spawn_rate": 2}).status_code == 200
    d.wait_state("running", 5)

    victim, survivor = workers
    os.kill(victim.pid, signal.SIGKILL)
    seen = set()
    d.wait_for(lambda x: seen.add(by_pid(x)[survivor.pid]["user_count"]) or
               by_pid(x)[survivor.pid]["user_count"] == 10, MISSING_WITHIN + 8,
               "the survivor running all 10 users")
    # 5 users at 2/s take about 3 s: heartbeats (1 s) see steps between 5 and 10.
    assert seen & {6, 7, 8, 9}, sorted(seen)

    joiner = start_worker(cicada, port)
    seen_new, totals = set(), set()

    def step(x):
        live = [w for w in x["workers"] if w["state"] != "missing"]
        if len(live) != 2:
            return False
        counts = sorted(w["user_count"] for w in live)
        seen_new.add(counts[0])
        totals.add(sum(counts))
        return counts == [5, 5]

    d.wait_for(step, 10, "the joiner taking half the users")
    assert seen_new & {1, 2, 3, 4}, sorted(seen_new)
    # Users move: one stops where one starts, so the total stays near 10 throughout.
    assert min(totals) >= 8, sorted(totals)

    assert d.get("/stop").status_code == 200
    d.wait_state("stopped", 5)
    res = d.stop_process()
    assert_clean_exit(res, codes=(0,))
    wait_exit([survivor, joiner], 5)


def test_paused_worker_self_heals_and_a_leaving_worker_hands_over(cicada, make_target):
    """SIGSTOP: the worker goes missing, its users move; SIGCONT: it heartbeats again and
    the users are shared again. SIGTERM: the worker stops its users, reports and quits, and
    the other takes over. Every report arrives, so the totals are the target's."""
    t = make_target()
    cicada.write("u.json", BY_WORKER)
    proc, port, d = start_master(cicada, "-f", "u.json", "-H", t.url, web=True)
    workers = [start_worker(cicada, port) for _ in range(2)]
    wait_workers(d, 2)
    assert d.post("/swarm", data={"user_count": 6, "spawn_rate": 100}).status_code == 200
    d.wait_for(lambda x: sorted(w["user_count"] for w in x["workers"]) == [3, 3], 5,
               "6 users split 3/3")
    paused, other = workers
    paused.signal(signal.SIGSTOP)
    try:
        d.wait_for(lambda x: by_pid(x)[paused.pid]["state"] == "missing"
                   and by_pid(x)[other.pid]["user_count"] == 6, MISSING_WITHIN + 3,
                   "the paused worker missing, its users moved")
    finally:
        paused.signal(signal.SIGCONT)
    doc = d.wait_for(lambda x: [by_pid(x)[p.pid]["user_count"] for p in workers] == [3, 3]
                     and x["worker_count"] == 2, 5, "the users shared again")
    assert by_pid(doc)[paused.pid]["state"] == "running"
    wid = by_pid(doc)[paused.pid]["id"]
    assert f"Worker {wid} self-healed with heartbeat, setting state to running." in \
        proc.err_text()

    other.signal(signal.SIGTERM)
    (r, _), = wait_exit([other], 5)
    assert r.rc == 0, r
    doc = d.wait_for(lambda x: [w["user_count"] for w in x["workers"]] == [6], 5,
                     "the paused worker running every user")
    assert set(by_pid(doc)) == {paused.pid}
    assert doc["worker_count"] == 1
    n = t.total()
    d.wait_for(lambda x: t.total() > n + 20, 5, "requests")
    d.get("/stop")
    d.wait_state("stopped", 5)
    t.wait_idle(quiet=0.2)
    counted = d.stats()["stats"][-1]["num_requests"]
    # In flight, uncounted: at most the 3 users stopped by the SIGTERM, the 6 by /stop.
    assert 0 <= t.total() - counted <= 9, (t.total(), counted)
    assert_clean_exit(d.stop_process(), codes=(0,))
    (r, _), = wait_exit([paused], 5)
    assert r.rc == 0, r


def test_headless_master_quits_when_its_last_worker_is_lost(cicada, make_target):
    t = make_target()
    cicada.write("u.json", BY_WORKER)
    proc, port, _ = start_master(cicada, "-f", "u.json", "-H", t.url, "--headless", "-u", 2,
                                 "-r", 10, "-t", "1m", "--csv", "P")
    worker = start_worker(cicada, port)
    end = time.monotonic() + 10
    while t.total() < 10:
        assert time.monotonic() < end and proc.p.poll() is None, proc.err_text()
        time.sleep(0.05)
    worker.signal(signal.SIGKILL)
    t_kill = time.monotonic()
    r = proc.wait(MISSING_WITHIN + SLACK)
    assert time.monotonic() - t_kill < MISSING_WITHIN + 2, r
    # As Locust: a run without failures exits 0, even one that lost its workers.
    assert r.rc == 0, r
    assert any(x.endswith("The last worker went missing, stopping test.")
               for x in log_lines(r.err, "WARNING")), r.err
    assert "Response time percentiles (approximated)" in r.err
    assert read_csv(cicada.path("P_stats.csv"))[-1][:2] == ["", "Aggregated"]


def test_headless_master_exits_1_when_no_worker_can_load_the_test(cicada, make_target):
    """The master loads {{env(X)}} with X set; its only worker, without X, cannot load the
    scenario. Nothing ran: a start-up error (exit code 1) that says why, not a clean 0."""
    t = make_target()
    cicada.write("env.json", {"users": [{"name": "U", "tasks": [{"request": {
        "url": "/ok", "headers": {"X-K": "{{env(CICADA_T_ONLY_MASTER)}}"}}}]}]})
    proc, port, _ = start_master(cicada, "-f", "env.json", "-H", t.url, "--headless",
                                 "-u", 2, "-r", 10, "-t", "30s", "--expect-workers", 1,
                                 "--csv", "E", env=cicada.env(CICADA_T_ONLY_MASTER="m"))
    worker = start_worker(cicada, port)
    r = proc.wait(5 + SLACK)
    wait_exit([worker], 5)
    assert r.rc == 1, r
    err = [x for x in log_lines(r.err, "ERROR") if "No worker can run this test" in x]
    assert len(err) == 1 and err[0].endswith(
        "environment variable CICADA_T_ONLY_MASTER is not set"), r.err
    assert "Shutting down (exit code 1)" in r.err
    assert t.total() == 0
    assert read_csv(cicada.path("E_stats.csv"))[-1][:2] == ["", "Aggregated"]


def test_worker_missing_at_the_stop_is_idle_when_it_comes_back(cicada, make_target):
    t = make_target()
    cicada.write("u.json", BY_WORKER)
    proc, port, d = start_master(cicada, "-f", "u.json", "-H", t.url, web=True)
    workers = [start_worker(cicada, port) for _ in range(2)]
    wait_workers(d, 2)
    assert d.post("/swarm", data={"user_count": 4, "spawn_rate": 100}).status_code == 200
    d.wait_for(lambda x: sorted(w["user_count"] for w in x["workers"]) == [2, 2], 5,
               "4 users split 2/2")
    paused = workers[0]
    paused.signal(signal.SIGSTOP)
    try:
        d.wait_for(lambda x: by_pid(x)[paused.pid]["state"] == "missing", MISSING_WITHIN + 1,
                   "the paused worker missing")
        assert d.get("/stop").status_code == 200
        d.wait_state("stopped", 5)
    finally:
        paused.signal(signal.SIGCONT)
    d.wait_for(lambda x: by_pid(x)[paused.pid]["state"] != "missing", 5,
               "the paused worker back")
    # The test has stopped: the worker that comes back runs no users.
    doc = d.wait_for(lambda x: x["user_count"] == 0
                     and [w["user_count"] for w in x["workers"]] == [0, 0], 3,
                     "no users anywhere after the stop")
    assert doc["state"] == "stopped"
    t.wait_idle(quiet=0.3)
    n = t.total()
    time.sleep(1)
    assert t.total() == n, "requests after the stop"


def test_worker_rejoins_a_restarted_master(cicada, make_target):
    """A master killed and started again on the same port: the worker's next heartbeat
    gets "reregister", it drops the old test and says hello to the new master."""
    t = make_target()
    cicada.write("u.json", BY_WORKER)
    proc, port, d = start_master(cicada, "-f", "u.json", "-H", t.url, web=True)
    worker = start_worker(cicada, port)
    wait_workers(d, 1)
    assert d.post("/swarm", data={"user_count": 2, "spawn_rate": 100}).status_code == 200
    d.wait_for(lambda x: x["stats"][-1]["num_requests"] > 0, 5, "a first report")
    proc.signal(signal.SIGKILL)
    proc.wait(5)

    proc, _, d = start_master(cicada, "-f", "u.json", "-H", t.url, web=True, port=port)
    doc = wait_workers(d, 1, 5)
    assert (doc["state"], doc["user_count"]) == ("ready", 0)
    assert worker_pid(doc["workers"][0]) == worker.pid
    assert "The master does not know this worker; saying hello again" in worker.err_text()
    t.wait_idle(quiet=0.3)
    n = t.total()
    time.sleep(0.5)
    assert t.total() == n, "the old test's users still run"
    assert d.stats()["stats"][-1]["num_requests"] == 0

    t.reset()
    assert d.post("/swarm", data={"user_count": 2, "spawn_rate": 100}).status_code == 200
    d.wait_for(lambda x: x["stats"][-1]["num_requests"] > 20 and x["user_count"] == 2, 10,
               "the new master's test")
    d.get("/stop")
    d.wait_state("stopped", 5)
    t.wait_idle(quiet=0.2)
    counted = d.stats()["stats"][-1]["num_requests"]
    assert 0 <= t.total() - counted <= 2, (t.total(), counted)
    assert_clean_exit(d.stop_process(), codes=(0,))
    (w, _), = wait_exit([worker], 5)
    assert w.rc == 0, w


def _ipv6_loopback_port():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            return s.getsockname()[1]
    except OSError:
        return None


@pytest.mark.skipif(_ipv6_loopback_port() is None, reason="no IPv6 loopback")
def test_worker_reaches_a_master_on_ipv6_loopback(cicada, make_target):
    t = make_target()
    cicada.write("u.json", BY_WORKER)
    port = _ipv6_loopback_port()
    proc = cicada.start("-f", "u.json", "-H", t.url, "--headless", "-u", 1, "-t", "1s",
                        "--master", "--master-bind-host", "::1", "--master-bind-port", port)
    assert _wait_log(proc, f"Master listening for workers at tcp://[::1]:{port}", SLACK)
    worker = cicada.start("--worker", "--master-host", "::1", "--master-port", port)
    end = time.monotonic() + 3
    while "Connected to the master" not in worker.err_text():
        assert time.monotonic() < end, "no welcome in 3 s:\n" + worker.err_text()
        time.sleep(0.05)
    r = proc.wait(1 + SLACK)
    assert r.rc == 0, r
    (w, _), = wait_exit([worker], 5)
    assert w.rc == 0, w
    assert t.total() > 0


# ---- masters that die -------------------------------------------------------------------

def test_workers_give_up_on_a_dead_master(cicada, make_target):
    t = make_target()
    cicada.write("u.json", BY_WORKER)
    proc, port, _ = start_master(cicada, "-f", "u.json", "-H", t.url, "--headless", "-u", 4,
                                 "-r", 4, "--expect-workers", 2)
    workers = [start_worker(cicada, port, "--master-timeout", 3) for _ in range(2)]
    end = time.monotonic() + 10
    while {query(x).get("w") for x in t.requests()} != {"0", "1"}:
        assert time.monotonic() < end, proc.err_text()
        time.sleep(0.1)

    proc.signal(signal.SIGKILL)
    proc.wait(5)
    results = wait_exit(workers, 3 + SLACK)
    for w, took in results:
        assert w.rc == 1, w
        # The timeout (3 s) counts from the master's last answer, checked once a second.
        assert 1.5 <= took <= 3 + 3, (took, w.err)
        assert "No word from the master for 3 s: stopping the users and quitting" in w.err
        for mark in SANITIZER_MARKS:
            assert mark not in w.err
    # Nothing more reaches the target.
    time.sleep(0.2)
    n = t.total()
    time.sleep(1)
    assert t.total() == n > 0


def test_reconnecting_worker_waits_for_the_next_master(cicada, make_target):
    """--reconnect: a worker whose master died stops its users within --master-timeout but
    stays, and joins the next master on that port (under a new id) and runs its test."""
    t = make_target()
    cicada.write("u.json", BY_WORKER)
    proc, port, _ = start_master(cicada, "-f", "u.json", "-H", t.url, "--headless", "-u", 2,
                                 "-r", 10)
    worker = start_worker(cicada, port, "--reconnect", "--master-timeout", 2)
    end = time.monotonic() + 10
    while t.total() < 5:
        assert time.monotonic() < end, proc.err_text() + worker.err_text()
        time.sleep(0.05)
    old_id, = re.findall(r"Connected to the master at \S+ as (\S+) ", worker.err_text())

    proc.signal(signal.SIGKILL)
    proc.wait(5)
    t_kill = time.monotonic()
    _wait_log(worker, "No word from the master for 2 s: stopping the users and waiting for a "
              "master (--reconnect)", 2 + 2 + SLACK)
    assert time.monotonic() - t_kill <= 2 + 2, "the users ran on past --master-timeout"
    # The users have stopped, and the worker stays.
    time.sleep(0.2)
    n = t.total()
    time.sleep(1.5)
    assert t.total() == n, "requests after the master died"
    assert worker.p.poll() is None, worker.err_text()
    new_id, = re.findall(r"Waiting for a master at \S+ as (\S+)", worker.err_text())
    assert new_id != old_id

    t.reset()
    proc, _, _ = start_master(cicada, "-f", "u.json", "-H", t.url, "--headless", "-u", 2,
                              "-r", 10, "-t", "3s", "--csv", "R", port=port)
    r = proc.wait(10 + SLACK)
    assert r.rc == 0, r
    assert f"Worker {new_id} (index 0) reported as ready. 1 workers connected." in r.err, r.err
    assert old_id not in r.err
    (w, _), = wait_exit([worker], 5)
    assert w.rc == 0, w
    assert w.err.count(f"Connected to the master at tcp://127.0.0.1:{port} as ") == 2, w.err
    t.wait_idle(quiet=0.2)
    check_counts(cicada.path("R_stats.csv"), t, 2)


# ---- protocol versions ------------------------------------------------------------------

def test_master_refuses_another_protocol_version(cicada, zctx):
    cicada.write("u.json", {"users": [{"name": "U", "tasks": [{"request": "GET /ok"}]}]})
    proc, port, d = start_master(cicada, "-f", "u.json", "-H", "http://127.0.0.1:9", web=True)
    s = dealer(zctx, port, b"oldhost_4242_cafe")
    send_json(s, {"type": "hello", "data": {"protocol": 999, "version": "x", "host": "h",
                                            "pid": 1}})
    msg = recv_json(s, 5)
    assert msg is not None, proc.err_text()
    assert msg["type"] == "refused", msg
    reason = msg["data"]["reason"]
    assert re.fullmatch(r"this master \(cicada \S+\) speaks protocol version 1 and the worker "
                        r"\(cicada x\) speaks 999", reason), reason
    errors = [x for x in log_lines(proc.err_text(), "ERROR") if "oldhost_4242_cafe" in x]
    assert len(errors) == 1 and errors[0].endswith(f"Refused worker oldhost_4242_cafe: {reason}")

    # A protocol that is not a number is refused too.
    s2 = dealer(zctx, port, b"oddhost_1_beef")
    send_json(s2, {"type": "hello", "data": {"protocol": "1", "version": "y", "host": "h",
                                             "pid": 1}})
    msg = recv_json(s2, 5)
    assert msg and msg["type"] == "refused", msg
    assert "(cicada y)" in msg["data"]["reason"] and "unknown" in msg["data"]["reason"]
    doc = d.stats()
    assert (doc["worker_count"], doc["workers"]) == (0, [])
    assert_clean_exit(d.stop_process(), codes=(0,))


def test_worker_refused_by_its_master_exits_1(cicada, zctx):
    router = zctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    w = start_worker(cicada, port)
    assert router.poll(10000), w.err_text()
    ident, payload = router.recv_multipart()
    hello = json.loads(payload)
    assert hello["type"] == "hello", hello
    assert hello["data"]["protocol"] == 1
    assert hello["data"]["pid"] == w.pid
    assert hello["data"]["host"] == socket.gethostname()
    assert re.fullmatch(rf"[^_]+_{w.pid}_[0-9a-f]{{8}}", ident.decode()), ident
    reason = "this fake master speaks protocol version 2 and the worker speaks 1"
    router.send_multipart([ident, json.dumps({"type": "refused",
                                              "data": {"reason": reason}}).encode()])
    r = w.wait(5)
    assert r.rc == 1, r
    assert any(x.endswith(f"The master refused this worker: {reason}")
               for x in log_lines(r.err, "ERROR")), r.err


# ---- garbage on the master port ---------------------------------------------------------

def _entry(name, n=1, **kw):
    """A stats entry as a worker reports it: n requests of 5 ms (histogram bucket 5)."""
    now = time.time()
    e = dict(method="GET", name=name, num_requests=n, num_none_requests=0, num_failures=0,
             total_rt_us=5000 * n, min_rt_us=5000, max_rt_us=5000, total_content_length=10 * n,
             start_time=now, last_request_ts=now, hist=[5, n], secs=[int(now), n, 0])
    e.update(kw)
    return e


def _stats(entries, total=None, **kw):
    if total is None:
        n = sum(e["num_requests"] for e in entries if isinstance(e, dict)
                and type(e["num_requests"]) is int and e["num_requests"] > 0)
        total = _entry("Aggregated", n, method="")
    data = dict(user_count=0, entries=entries, total=total, errors=[], exceptions=[])
    data.update(kw)
    return {"type": "stats", "data": data}


BAD_STATS = [
    _stats([_entry("/bad-1")], user_count="0"),
    _stats([_entry("/bad-2")], user_count=-1),
    {"type": "stats", "data": {"user_count": 0, "entries": {}, "errors": [], "exceptions": []}},
    _stats([_entry("/bad-4")], total=None, errors=[{"method": "GET", "name": "/bad-4"}]),
    _stats([_entry("/bad-5", num_requests="1")]),
    _stats([_entry("/bad-6", num_requests=-1)]),
    _stats([_entry("/bad-7", num_requests=1.5)]),
    _stats([_entry("/bad-8", num_failures=2)]),
    _stats([_entry("/bad-9", hist=[5, 2])]),
    _stats([_entry("/bad-10", hist=[10 ** 9, 1])]),
    _stats([_entry("/bad-11", hist=[5])]),
    _stats([_entry("/bad-12", secs=[1, 2])]),
    _stats([_entry("/bad-13", secs=[2 ** 40, 1, 0])]),
    _stats([_entry("/bad-14", method=None)]),
    _stats([_entry("/bad-15", start_time="now")]),
    _stats([_entry("/bad-16", min_rt_us=9000)]),
    _stats([_entry("/bad-17")], exceptions=[{"msg": "m", "traceback": "t", "count": "1"}]),
    _stats([_entry("/bad-18"), 5]),
    {"type": "stats", "data": {k: v for k, v in _stats([_entry("/bad-19")])["data"].items()
                               if k != "total"}},
    _stats([_entry("/bad-20")], total=_entry("Aggregated", 1, method="", hist=[])),
]

BAD_FRAMES = [
    b"", b"not json", b"{", b"[1, 2]", b'"hello"', b"{}", b'{"data": {}}', b'{"type": 5}',
    b'{"type": "hello"}', b'{"type": "hello", "data": []}', b"\xff\xfe\x00garbage",
    b'{"type": "hello", "data": {"protocol": 1}}' + b" " * 10 + b"trailing",
    json.dumps({"type": "stats", "data": {"x": "y" * 100000}}).encode(),
]


def test_garbage_on_the_master_port(cicada, make_target, zctx):
    t = make_target()
    cicada.write("u.json", {"users": [{"name": "U", "wait_time": 0.05,
                                       "tasks": [{"request": "GET /ok"}]}]})
    proc, port, d = start_master(cicada, "-f", "u.json", "-H", t.url, web=True)

    # Raw TCP that is not ZMTP: an HTTP request, random bytes, a greeting then nonsense.
    greeting = b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + \
        b"\0" * 32
    for raw in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(200000),
                greeting + b"\x04\xff" + os.urandom(300),
                greeting + b"\x06" + (2 ** 62).to_bytes(8, "big") + b"x" * 100,
                greeting + b"\x02" + (2 ** 31).to_bytes(8, "big") + b"x" * 100):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            try:
                s.sendall(raw)
                s.settimeout(0.5)
                s.recv(100)
            except OSError:
                pass
    assert d.stats()["worker_count"] == 0

    # ZeroMQ peers with bad messages, before a hello (unknown worker) and after it.
    stranger = dealer(zctx, port, b"stranger_1_aaaa")
    for f in BAD_FRAMES:
        stranger.send(f)
    send_json(stranger, HELLO, HELLO)                     # two frames: dropped
    send_json(stranger, _stats([_entry("/unknown")]))     # from nobody: "say hello"
    # The only answers are "reregister" (to the stats messages from a peer it does not know).
    msg = recv_json(stranger, 5)
    answers = []
    while msg is not None:
        answers.append(msg)
        msg = recv_json(stranger, 0.3)
    assert answers and all(a == {"type": "reregister", "data": {}} for a in answers), answers
    # A peer without a routing id of its own gets a binary one from ZeroMQ: dropped.
    anon = dealer(zctx, port)
    send_json(anon, HELLO)

    fake = dealer(zctx, port, b"fake_2_bbbb")
    send_json(fake, HELLO)
    msg = recv_json(fake, 5)
    assert msg == {"type": "welcome", "data": {"protocol": 1, "index": 0}}, msg
    for f in BAD_FRAMES:
        fake.send(f)
    for m in BAD_STATS:
        send_json(fake, m)
    send_json(fake, _stats([_entry("/multi")]), b"second frame")
    send_json(fake, {"type": "frobnicate", "data": {}})
    send_json(fake, {"type": "heartbeat", "data": {"state": "flying", "user_count": 1,
                                                   "cpu": 0, "rss": 0}})
    send_json(fake, {"type": "heartbeat", "data": {"state": "ready"}})
    send_json(fake, {"type": "spawning_complete", "data": {"user_count": "all"}})
    send_json(fake, {"type": "welcome", "data": {"protocol": 1, "index": 5}})
    # Then a good report: only it counts.
    send_json(fake, _stats([_entry("/control", 2, method="POST")]))
    doc = d.wait_for(lambda x: any(r["name"] == "/control" for r in x["stats"]), 5,
                     "the good report")
    assert [(r["method"], r["name"], r["num_requests"]) for r in doc["stats"]] == \
        [("POST", "/control", 2), ("", "Aggregated", 2)], doc["stats"]
    assert doc["errors"] == []
    assert d.get("/exceptions").json()["exceptions"] == []
    assert doc["worker_count"] == 1
    assert [w["id"] for w in doc["workers"]] == ["fake_2_bbbb"]
    send_json(fake, {"type": "quit", "data": {}})
    d.wait_for(lambda x: x["worker_count"] == 0 and x["workers"] == [], 5, "the fake quit")
    warnings = [x for x in log_lines(proc.err_text(), "WARNING") if "malformed" in x]
    assert any("fake_2_bbbb" in x for x in warnings), proc.err_text()
    assert any("stranger_1_aaaa" in x for x in warnings), proc.err_text()
    assert proc.p.poll() is None

    # A real worker still joins and runs a test with exact totals.
    worker = start_worker(cicada, port)
    wait_workers(d, 1)
    r = d.post("/swarm", data={"user_count": 2, "spawn_rate": 10})
    assert r.status_code == 200, r.text
    d.wait_for(lambda x: x["stats"][-1]["num_requests"] > 30 and x["user_count"] == 2, 10,
               "the real test's requests")
    d.get("/stop")
    doc = d.wait_state("stopped", 5)
    t.wait_idle(quiet=0.2)
    doc = d.stats()
    assert [(r["method"], r["name"]) for r in doc["stats"]] == [("GET", "/ok"),
                                                                ("", "Aggregated")]
    counted = doc["stats"][-1]["num_requests"]
    assert 0 <= t.total() - counted <= 2, (t.total(), counted)
    assert_clean_exit(d.stop_process(), codes=(0,))
    (w, _), = wait_exit([worker], 5)
    assert w.rc == 0, w
