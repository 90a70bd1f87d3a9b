"""Nothing lost: in every mode and on every way out, the request count cicada reports is what
the target received, minus at most the requests in flight when the test ended.

The matrix is mode x exit:

- modes: `local` (headless), `web` (a dashboard, test started with POST /swarm), `master`
  (a master with 2 worker processes started apart) and `processes` (`--processes 2`); the
  web variants of the last two (`master_web`, `processes_web`) give them a Stop.
- exits: `time` (-t, or run_time in /swarm), `stop` (GET /stop; the headless modes have
  none), `sigint`, `sigterm`, `kill` (one worker killed with SIGKILL midway, then the run
  ends by its time; master modes only).

Signals go to cicada's first process by pid, as `kill PID` does; `sigint` with
`--processes` goes to its process group instead, as Ctrl+C in a terminal does, so the
forked workers get it too, and `sigterm_group` does the same with SIGTERM, as a service
manager stopping the whole group does.

What is compared: the target's own count of the requests it answered, once it has been idle
a while, against the Aggregated "Request Count" of the --csv file written at the end and,
in the web modes, the total of GET /stats/requests once the test stopped (both must agree
exactly). received - reported must lie in [0, bound]:

- every exit but a kill: bound = the users running. A user has at most one request in
  flight; one the target answered after cicada stopped the user is uncounted, and that is
  the only way to be short.
- kill: bound = users + the killed worker's unreported requests. The master keeps what it
  merged from a worker before it died; what is lost is what the worker did after its last
  report that reached the master, plus its requests in flight. Workers report every
  REPORT s here, a report can be lost in the send when the kill lands right after it
  (REPORT_SLACK covers that and a late timer), and a user completes at most one request
  per WAIT s, so a killed user's loss is at most floor((REPORT + REPORT_SLACK) / WAIT) + 1
  completed requests plus 1 in flight.

The target answers at once, so these bounds are tight: a run yields a few hundred
requests, the allowance is a few dozen for a kill and a handful otherwise.
"""

import math
import os
import signal
import time

import pytest

from conftest import SANITIZER_MARKS, SLACK, aggregated, free_port, start_dashboard
from test_distributed import children_of

WAIT = 0.1              # constant wait_time: a user makes at most 10 requests a second
USERS = 4               # users in every run (2 per worker in the master modes)
RUN = 3                 # seconds a run lasts (-t, whole seconds), or until the signal or Stop
REPORT = 0.5            # --worker-report-interval for the master modes
REPORT_SLACK = 0.3
MIN_REQUESTS = 30       # a run that counted fewer proves nothing

# Half the requests take 50 ms at the target, so that an exit often finds some in flight.
SCENARIO = {"users": [{"name": "U", "wait_time": WAIT,
                       "tasks": [{"request": "GET /ok"}, {"request": "GET /slow?ms=50"}]}]}

MODES = ("local", "web", "master", "master_web", "processes", "processes_web")
EXITS = {
    "local": ("time", "sigint", "sigterm"),
    "web": ("time", "stop", "sigint", "sigterm"),
    "master": ("time", "sigint", "sigterm", "kill"),
    "master_web": ("stop",),
    "processes": ("time", "sigint", "sigterm", "sigterm_group", "kill"),
    "processes_web": ("stop",),
}
CASES = [(m, e) for m in MODES for e in EXITS[m]]

MASTER_UP = "Master listening for workers at tcp://127.0.0.1:{port}"


def killed_bound(users):
    return users * (math.floor((REPORT + REPORT_SLACK) / WAIT) + 1 + 1)


def wait_log(proc, text, timeout):
    end = time.monotonic() + timeout
    while text not in proc.err_text():
        assert proc.p.poll() is None, proc.err_text()[-3000:]
        assert time.monotonic() < end, f"no {text!r}:\n{proc.err_text()[-3000:]}"
        time.sleep(0.05)


def wait_children(proc, n, timeout=SLACK):
    end = time.monotonic() + timeout
    while True:
        kids = children_of(proc.pid)
        if len(kids) >= n:
            return kids
        assert proc.p.poll() is None, proc.err_text()[-3000:]
        assert time.monotonic() < end, "the forked workers did not appear"
        time.sleep(0.05)


def wait_running(proc, target, timeout=SLACK):
    """Waits until the target sees requests: the users run."""
    end = time.monotonic() + timeout
    while target.total() < 5:
        assert proc.p.poll() is None, proc.err_text()[-3000:]
        assert time.monotonic() < end, "no requests reached the target"
        time.sleep(0.05)


def start_master(cicada, *args, web=False):
    """A master on a free port of 127.0.0.1 (and a dashboard with web); returns (proc, port,
    Dashboard or None)."""
    port = free_port()
    extra = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    if web:
        d = start_dashboard(cicada, *args, *extra)
        wait_log(d.proc, MASTER_UP.format(port=port), SLACK)
        return d.proc, port, d
    proc = cicada.start(*args, *extra)
    wait_log(proc, MASTER_UP.format(port=port), SLACK)
    return proc, port, None


def start_workers(cicada, port, n=2):
    return [cicada.start("--worker", "--master-host", "127.0.0.1", "--master-port", port,
                         "--worker-report-interval", REPORT) for _ in range(n)]


def swarm(d, run_time=None):
    form = {"user_count": USERS, "spawn_rate": 100}
    if run_time:
        form["run_time"] = run_time
    r = d.post("/swarm", data=form)
    assert r.status_code == 200, r.text


def web_total(doc):
    agg = [s for s in doc["stats"] if s["name"] == "Aggregated"]
    return agg[0]["num_requests"]


@pytest.mark.parametrize("mode, how", CASES, ids=[f"{m}-{e}" for m, e in CASES])
def test_nothing_lost(cicada, target, mode, how):
    cicada.write("s.json", SCENARIO)
    base = ["-f", "s.json", "-H", target.url, "--csv", "C"]
    headless = ["--headless", "-u", USERS, "-r", 100]
    if how in ("time", "kill"):
        headless += ["-t", f"{RUN}s"]
    web_count = None
    workers = []
    killed_users = 0
    bound = USERS

    if mode == "local":
        proc = cicada.start(*base, *headless)
    elif mode == "master":
        proc, port, _ = start_master(cicada, *base, *headless, "--expect-workers", 2)
        workers = start_workers(cicada, port)
    elif mode == "processes":
        # Its own process group, so that a Ctrl+C can reach every process of it.
        proc = cicada.start(*base, *headless, "--processes", 2,
                            "--worker-report-interval", REPORT,
                            "--master-bind-host", "127.0.0.1",
                            "--master-bind-port", free_port(), start_new_session=True)
    elif mode == "web":
        d = start_dashboard(cicada, *base)
        proc = d.proc
        swarm(d, f"{RUN}s" if how == "time" else None)
    elif mode == "master_web":
        proc, port, d = start_master(cicada, *base, web=True)
        workers = start_workers(cicada, port)
        d.wait_for(lambda x: x["worker_count"] == 2, SLACK, "2 workers")
        swarm(d)
    elif mode == "processes_web":
        d = start_dashboard(cicada, *base, "--processes", 2,
                            "--worker-report-interval", REPORT,
                            "--master-bind-host", "127.0.0.1",
                            "--master-bind-port", free_port())
        proc = d.proc
        d.wait_for(lambda x: x["worker_count"] == 2, SLACK, "2 workers")
        swarm(d)

    wait_running(proc, target)
    t0 = time.monotonic()
    if how == "kill":
        time.sleep(RUN / 2)
        victim = (workers[0].pid if workers else wait_children(proc, 2)[0])
        os.kill(victim, signal.SIGKILL)
        killed_users = USERS // 2
        bound = USERS + killed_bound(killed_users)
    elif how != "time":
        time.sleep(RUN - (time.monotonic() - t0))
        if how == "stop":
            r = d.get("/stop")
            assert r.status_code == 200, r.text
        elif how == "sigint" and mode == "processes":
            os.killpg(proc.pid, signal.SIGINT)
        elif how == "sigterm_group":
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)

    if mode in ("web", "master_web", "processes_web"):
        if how in ("time", "stop"):
            # Read at once: "stopped" says every worker's last report is in.
            web_count = web_total(d.wait_state("stopped", RUN + SLACK))
            res = d.stop_process()
        else:
            res = proc.wait(SLACK)
    else:
        res = proc.wait(RUN + SLACK)
    assert res.rc == 0, res
    errs = [res.err] + [w.wait(SLACK).err for w in workers]
    assert not [m for m in SANITIZER_MARKS for e in errs if m in e], errs
    target.wait_idle(quiet=0.3)

    received = target.total()
    reported = int(aggregated(cicada.path("C_stats.csv"))["Request Count"])
    if web_count is not None:
        assert web_count == reported, (web_count, reported)
    assert reported >= MIN_REQUESTS, (reported, res)
    print(f"{mode}-{how}: received {received}, reported {reported}, bound {bound}")
    assert 0 <= received - reported <= bound, (received, reported, bound, res)
