"""Hostile targets (issue 9): a loopback target that resets, garbles, stalls, floods and
trickles (tests/e2e/hostile.py, its own process) beside a healthy one (target.py).

Every run has a Hostile class on the misbehaving path and a Healthy class on /ok of the
healthy target. Each case must end as counted failures with readable texts (exit code 1),
without a crash or a sanitizer report, while the healthy users keep the request rate
their wait time allows; /huge and /trickle also bound the peak RSS.
"""

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import CICADA, SANITIZER_MARKS, SLACK, failure_rows, stats_rows

HERE = Path(__file__).resolve().parent
PY = "/usr/bin/python3"

HEALTHY_USERS = 2
HEALTHY_WAIT = 0.1

# A failure text: an exception name and its arguments, printable ASCII, short enough to
# read in a table.
READABLE = re.compile(r"^[A-Z][A-Za-z]+\([ -~]+\)$")


def _is_asan(path):
    # ASan keeps freed memory in a quarantine (256 MiB by default) and maps shadow memory,
    # so its RSS bound is looser.
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


ASAN = _is_asan(CICADA)


class Hostile:
    """hostile.py in its own process; url, stats() (its counters)."""

    def __init__(self):
        self.p = subprocess.Popen([PY, str(HERE / "hostile.py")], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("listening "), line
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stats(self):
        with urllib.request.urlopen(self.url + "/_stats", timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        self.p.stdin.close()  # hostile.py ends when its stdin closes
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(10)


@pytest.fixture
def hostile():
    h = Hostile()
    yield h
    h.stop()


def vm_hwm_kib(pid):
    """Peak RSS so far of a live process (VmHWM), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Run:
    def __init__(self, result, csv, hwm_kib):
        self.result, self.hwm_kib = result, hwm_kib
        self.stats = stats_rows(f"{csv}_stats.csv")
        self.failures = failure_rows(f"{csv}_failures.csv")

    def row(self, name):
        return self.stats[("GET", name)]

    def count(self, name):
        return int(self.row(name)["Request Count"])

    def fails(self, name):
        return int(self.row(name)["Failure Count"])

    def errors(self, name):
        """{error text: occurrences} of one request name."""
        return {e: n for (m, nm, e), n in self.failures.items() if nm == name}


def run_case(cicada, hostile, target, tasks, users=2, secs=4, **cls):
    """Runs Hostile (users, the tasks on hostile's host, cls keys) beside Healthy; returns
    a Run after checking what every case must show."""
    hostile_cls = {"name": "Hostile", "fixed_count": users, "host": hostile.url,
                   "wait_time": 0.02, "tasks": tasks}
    hostile_cls.update(cls)
    healthy_cls = {"name": "Healthy", "fixed_count": HEALTHY_USERS, "host": target.url,
                   "wait_time": HEALTHY_WAIT, "tasks": [{"request": "/ok"}]}
    cicada.write("s.json", {"users": [hostile_cls, healthy_cls]})
    n = users + HEALTHY_USERS
    proc = cicada.start("-f", "s.json", "--headless", "-u", n, "-r", n, "-t", f"{secs}s",
                        "--csv", "x")
    hwm = 0
    end = time.monotonic() + secs + SLACK
    while proc.p.poll() is None and time.monotonic() < end:
        hwm = max(hwm, vm_hwm_kib(proc.pid) or 0)
        time.sleep(0.05)
    res = proc.wait(max(1, end - time.monotonic()))
    for mark in SANITIZER_MARKS:
        assert mark not in res.err, res
    # Failures make the exit code --exit-code-on-error's default.
    assert res.rc == 1, res
    run = Run(res, cicada.path("x"), hwm)
    for (method, name, err), occ in run.failures.items():
        assert READABLE.match(err), (name, err)
        assert len(err) < 160 and occ > 0, (name, err, occ)
    # Not stalled: each healthy user runs a task every HEALTHY_WAIT plus a loopback
    # round trip. The hostile target and cicada share the machine's cores with the healthy
    # target (and a /huge transfer keeps two of them busy), so a quarter of that is the
    # margin; a loop blocked by a hostile transfer would miss it by far.
    allowed = HEALTHY_USERS * secs / HEALTHY_WAIT
    ok = run.count("/ok")
    # cicada's own measure of its loop, for the record (not a timed assertion).
    gen = re.search(r"^Generator: .*$", res.out + res.err, re.M)
    print(f"healthy /ok: {ok} requests of {allowed:.0f} its wait allows; "
          f"{gen.group(0) if gen else 'no generator line'}")
    assert ok >= allowed / 4, (ok, allowed, res)
    assert run.fails("/ok") == 0, run.failures
    return run


def test_reset_mid_response(cicada, hostile, target):
    run = run_case(cicada, hostile, target, [{"request": "/reset"}])
    n = run.count("/reset")
    assert n > 10 and run.fails("/reset") == n, run.stats
    assert run.errors("/reset") == {
        "ConnectionResetError(104, 'Connection reset by peer')": n}
    # Each failure was a reset the target sent (users stopped at the end may have left a
    # last reset uncounted).
    assert hostile.stats()["reset:sent"] >= n


MALFORMED = {
    "/badstatus?kind=code": "InvalidResponse('malformed status line')",
    "/badstatus?kind=garbage": "InvalidResponse('malformed status line')",
    "/badstatus?kind=version": "InvalidResponse('malformed status line')",
    "/badheader?kind=colon": "InvalidResponse('header line without a colon')",
    "/badheader?kind=length": "InvalidResponse('invalid Content-Length')",
    "/badheader?kind=nul": "InvalidResponse('NUL byte in a header')",
    "/badheader?kind=endless": "InvalidResponse('response headers too large')",
    "/badheader?kind=longline": "InvalidResponse('response header line too long')",
    "/badchunk": "InvalidResponse('malformed chunked encoding')",
    # curl caps the headers of all interim responses together.
    "/flood1xx": "InvalidResponse('response headers too large')",
}


def test_malformed_status_and_headers(cicada, hostile, target):
    run = run_case(cicada, hostile, target, [{"request": p} for p in MALFORMED],
                   users=3, sequential=True)
    for path, text in MALFORMED.items():
        n = run.count(path)
        assert n > 3 and run.fails(path) == n, (path, run.stats)
        assert run.errors(path) == {text: n}, (path, run.errors(path))


def test_silent_target_times_out(cicada, hostile, target):
    # The class's timeout, and a request's own, which wins.
    run = run_case(cicada, hostile, target,
                   [{"request": {"url": "/silent", "name": "class-timeout"}},
                    {"request": {"url": "/silent", "name": "request-timeout",
                                 "timeout": 0.5}}],
                   users=4, secs=4, timeout=1)
    for name, secs in (("class-timeout", "1"), ("request-timeout", "0.5")):
        n = run.count(name)
        assert n >= 1 and run.fails(name) == n, (name, run.stats)
        assert run.errors(name) == {
            f"ReadTimeout('no complete response within {secs} s')": n}, run.failures
    # Every timed-out request was one the target held.
    assert hostile.stats()["silent:held"] >= run.count("class-timeout") + \
        run.count("request-timeout")


# Peak RSS allowed beyond what the users' kept bodies may take: the program, curl, the
# statistics. ASan's quarantine and shadow memory take far more.
BASE_KIB = (512 if ASAN else 64) * 1024
BODY_KEPT_KIB = 16 * 1024  # interp.c's BODY_LIMIT, per user with a check on the body


def test_huge_body_memory_bounded(cicada, hostile, target):
    # A 64 MiB body with a check (kept up to the limit, and the check cannot pass on what
    # was cut off) and an endless chunked body without one (counted, not kept).
    run = run_case(cicada, hostile, target,
                   [{"request": {"url": "/huge?mb=64", "name": "huge-checked",
                                 "timeout": 10, "check": {"body_not_contains": "error"}}},
                    {"request": {"url": "/huge?chunked=1", "name": "endless",
                                 "timeout": 1}}],
                   users=2, secs=5, sequential=True)
    checked = run.count("huge-checked")
    assert checked >= 1 and run.fails("huge-checked") == checked, run.stats
    errors = run.errors("huge-checked")
    assert errors.pop("CheckFailed('body over 16 MiB, not checked')", 0) >= 1, errors
    # A machine slow enough may also time a transfer out.
    assert set(errors) <= {"ReadTimeout('no complete response within 10 s')"}, errors
    endless = run.count("endless")
    assert endless >= 1 and run.fails("endless") == endless, run.stats
    assert run.errors("endless") == {
        "ReadTimeout('no complete response within 1 s')": endless}, run.failures
    # The bytes were received, not refused at the door.
    assert hostile.stats()["huge:bytes"] > 64 << 20
    # Two users may each hold a kept body at once; a body kept whole (64 MiB) breaks this.
    bound = BASE_KIB + 2 * BODY_KEPT_KIB
    print(f"huge: peak RSS {run.hwm_kib} KiB (bound {bound} KiB), healthy /ok "
          f"{run.count('/ok')} requests")
    assert 0 < run.hwm_kib < bound, run.hwm_kib


def test_trickle(cicada, hostile, target):
    # 1000 bytes at 20 ms each cannot finish in 1 s; 20 bytes can.
    run = run_case(cicada, hostile, target,
                   [{"request": {"url": "/trickle?n=1000&ms=20", "name": "trickle-slow"}},
                    {"request": {"url": "/trickle?n=20&ms=20", "name": "trickle-done",
                                 "check": {"body_contains": "tttt"}}}],
                   users=20, secs=4, timeout=1)
    slow = run.count("trickle-slow")
    assert slow >= 10 and run.fails("trickle-slow") == slow, run.stats
    assert run.errors("trickle-slow") == {
        "ReadTimeout('no complete response within 1 s')": slow}, run.failures
    assert run.count("trickle-done") >= 10 and run.fails("trickle-done") == 0, run.stats
    print(f"trickle: peak RSS {run.hwm_kib} KiB, healthy /ok {run.count('/ok')} requests")
    assert 0 < run.hwm_kib < BASE_KIB, run.hwm_kib


def test_close_keepalive_at_random(cicada, hostile, target):
    run = run_case(cicada, hostile, target, [{"request": "/close-random"}], users=4)
    n, fails = run.count("/close-random"), run.fails("/close-random")
    st = hostile.stats()
    # A connection closed after an answer or before one is found dead or retried on a
    # new connection; one closed mid-body fails with the body incomplete.
    mid = st.get("close-random:close-mid", 0)
    assert mid >= 3, st
    errors = run.errors("/close-random")
    incomplete = errors.pop(
        "IncompleteRead('connection closed before the whole body arrived')", 0)
    assert mid - 4 <= incomplete <= mid, (mid, errors, st)
    # Losing the race with a close before any answer is the only other failure allowed.
    assert set(errors) <= {
        "RemoteDisconnected('Remote end closed connection without response')"}, errors
    assert fails == incomplete + sum(errors.values())
    # The answered requests were counted as successes.
    assert abs((n - fails) - st["close-random:answered"]) <= 4, (n, fails, st)


def test_5xx_bursts(cicada, hostile, target):
    run = run_case(cicada, hostile, target,
                   [{"request": {"url": "/burst5xx?len=5", "name": "burst"}}], users=2)
    st = hostile.stats()
    errors = run.errors("burst")
    reasons = {500: "Internal Server Error", 502: "Bad Gateway",
               503: "Service Unavailable", 504: "Gateway Timeout"}
    total = 0
    for code, reason in reasons.items():
        sent = st.get(f"burst5xx:{code}", 0)
        got = errors.pop(f"HTTPError('{code} Server Error: {reason} for url: burst')", 0)
        # Users stopped at the end may leave an answer sent but not read.
        assert sent - 2 <= got <= sent, (code, sent, got)
        total += got
    assert not errors, errors
    assert total >= 20 and run.fails("burst") == total, run.stats
    ok = run.count("burst") - total
    assert st["burst5xx:200"] - 2 <= ok <= st["burst5xx:200"], (ok, st)


def test_answer_before_the_body_is_sent(cicada, hostile, target):
    # A 413 and a close while a 1 MiB body is still on its way: curl reads the answer, or
    # its sending runs into the closed connection first.
    run = run_case(cicada, hostile, target,
                   [{"request": {"method": "POST", "url": "/early", "name": "early",
                                 "body": "x" * (1 << 20)}}], users=2)
    n = int(run.stats[("POST", "early")]["Request Count"])
    assert n > 10 and int(run.stats[("POST", "early")]["Failure Count"]) == n, run.stats
    errors = run.errors("early")
    assert errors.pop("HTTPError('413 Client Error: Payload Too Large for url: early')",
                      0) >= 1, errors
    assert set(errors) <= {"BrokenPipeError(32, 'Broken pipe')",
                           "ConnectionResetError(104, 'Connection reset by peer')"}, errors
