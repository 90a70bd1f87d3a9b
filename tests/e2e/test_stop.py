"""Stopping users: --stop-timeout lets running tasks finish; on_stop always runs."""

import pytest

from conftest import SLACK, stats_rows

USERS = 4

# Each task: /slow (0.3 s), think 1 s, then /ok. Users spawn at once and never wait
# between tasks, so at the 2 s limit every user is thinking inside its second task
# (started at ~1.3 s, its /ok due at ~2.6 s).
SCENARIO = {"users": [{"name": "U", "wait_time": 0,
                       "on_stop": [{"request": "POST /logout"}],
                       "tasks": [{"name": "slow task", "steps": [
                           {"request": "GET /slow?ms=300"},
                           {"think": 1},
                           {"request": "GET /ok"}]}]}]}

CASES = {"graceful": ["-s", 5], "immediate": [], "timed out": ["-s", "0.3"]}


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    c = module_cicada
    c.write("s.json", SCENARIO)
    targets = {k: make_module_target() for k in CASES}
    procs = {k: c.start("-f", "s.json", "-H", targets[k].url, "--headless", "-u", USERS,
                        "-r", 100, "-t", "2s", "--csv", k.replace(" ", "_"), *extra)
             for k, extra in CASES.items()}
    c.results = {k: (p.wait(5 + SLACK), targets[k]) for k, p in procs.items()}
    for t in targets.values():
        t.wait_idle(quiet=0.2)
    return c


def counts(runs, case):
    r, t = runs.results[case]
    assert r.rc == 0, r
    slow, ok = t.count("GET", "/slow"), t.count("GET", "/ok")
    # on_stop ran once for every user, after its last task step: each user has its own
    # connection, and the logout is the last request on it.
    assert t.count("POST", "/logout") == USERS
    by_conn = {}
    for x in sorted(t.requests(), key=lambda x: x.t_start):
        by_conn.setdefault(x.conn_id, []).append(x.path)
    assert len(by_conn) == USERS, by_conn
    for paths in by_conn.values():
        assert paths.index("/logout") == len(paths) - 1, paths
    # Nothing was in flight at the stop, so cicada's counts are the target's, exactly.
    rows = stats_rows(runs.path(f"{case.replace(' ', '_')}_stats.csv"))
    assert int(rows[("GET", "/slow?ms=300")]["Request Count"]) == slow
    assert int(rows[("GET", "/ok")]["Request Count"]) == ok
    assert int(rows[("POST", "/logout")]["Request Count"]) == USERS
    return r, slow, ok


def test_stop_timeout_lets_tasks_finish(runs):
    r, slow, ok = counts(runs, "graceful")
    assert slow == 2 * USERS
    assert ok == slow, "every task that started ran to its end"
    assert "Not all users finished" not in r.err
    # It stops when the tasks are done, not after the whole stop timeout.
    assert r.elapsed < 2 + 5 - 1, r.elapsed


def test_without_stop_timeout_tasks_are_cut(runs):
    r, slow, ok = counts(runs, "immediate")
    assert slow == 2 * USERS
    assert ok == slow - USERS, "each user's second task is cut in its think step"


def test_stop_timeout_expires(runs):
    r, slow, ok = counts(runs, "timed out")
    assert slow == 2 * USERS
    assert ok == slow - USERS
    assert ("Not all users finished their tasks & terminated in 0.3 seconds. "
            "Stopping them...") in r.err, r.err
