"""Each user keeps its own cookie jar, whatever the connection mode."""

from collections import Counter

import pytest

from conftest import SLACK

USERS = 5
MODES = ["user", "request", "shared"]


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    """One run per connection mode, all at once: users log in, then ask /me."""
    c = module_cicada
    targets = {m: make_module_target() for m in MODES}
    procs = {}
    for m in MODES:
        c.write(f"{m}.json", {"host": targets[m].url, "users": [
            {"name": "U", "wait_time": {"between": [0.01, 0.03]}, "connection": m,
             "on_start": [{"request": "POST /login"}],
             "tasks": [{"request": "GET /me"}]}]})
        procs[m] = c.start("-f", f"{m}.json", "--headless", "-u", USERS, "-r", 50, "-t", "2s")
    c.results = {m: (procs[m].wait(2 + SLACK), targets[m]) for m in MODES}
    for t in targets.values():
        t.wait_idle(quiet=0.2)
    return c


@pytest.mark.parametrize("mode", MODES)
def test_cookies_persist_per_user(runs, mode):
    r, t = runs.results[mode]
    assert r.rc == 0, r
    logins = t.requests("POST", "/login")
    issued = [x.extra["sid"] for x in logins]
    assert len(issued) == USERS
    assert all(not x.cookies for x in logins)       # nobody had a cookie before logging in
    me = t.requests("GET", "/me")
    assert len(me) >= 10 * USERS
    sids = Counter(x.cookies.get("sid") for x in me)
    assert None not in sids, "a /me request without the session cookie"
    # Every user sends its own session: all sessions are in use, and each user made a
    # fair share of the requests (a jar shared by all users would skew this).
    assert set(sids) == set(issued), (sids, issued)
    assert min(sids.values()) >= len(me) / USERS / 3, sids
    # A session is only sent after the login that issued it.
    login_time = {x.extra["sid"]: x.t_end for x in logins}
    for x in me:
        assert x.t_start >= login_time[x.cookies["sid"]]


def test_cookies_stay_with_their_user(runs):
    """With per-user connections a user's requests all arrive on its connection: every
    /me on a connection carries the sid that connection's /login issued, and no other."""
    r, t = runs.results["user"]
    assert r.rc == 0, r
    by_conn = {}
    for x in t.requests("POST", "/login"):
        assert x.conn_id not in by_conn
        by_conn[x.conn_id] = x.extra["sid"]
    assert len(by_conn) == USERS
    me = t.requests("GET", "/me")
    assert me
    for x in me:
        assert x.cookies == {"sid": by_conn[x.conn_id]}, x
    assert t.sids_by_connection() == {c: {sid} for c, sid in by_conn.items()}
