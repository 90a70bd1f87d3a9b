"""Connection reuse: "user" (default), "request" and "shared"."""

import pytest

from conftest import SLACK


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    """The three modes, run at the same time against three targets."""
    cicada = module_cicada
    t_user, t_req, t_shared = make_module_target(), make_module_target(), make_module_target()
    # Default mode ("user"): each user logs in and then asks /me on its own connection.
    cicada.write("user.json", {"host": t_user.url, "users": [
        {"name": "U", "wait_time": {"between": [0, 0.02]},
         "on_start": [{"request": "POST /login"}], "tasks": [{"request": "GET /me"}]}]})
    cicada.write("request.json", {"host": t_req.url, "users": [
        {"name": "U", "wait_time": 0.05, "connection": "request",
         "tasks": [{"request": "GET /ok"}]}]})
    # Ten users that mostly wait (at random, so they do not fall in step): few requests
    # are ever in flight at once, so a shared pool needs far fewer connections than users.
    # They are spawned 4 at a time: users spawned together send their first requests
    # together, and those need a connection each.
    cicada.write("shared.json", {"host": t_shared.url, "users": [
        {"name": "U", "wait_time": {"between": [0.1, 0.3]}, "connection": "shared",
         "tasks": [{"request": "GET /ok"}]}]})
    runs = cicada.run_many([
        ["-f", "user.json", "--headless", "-u", 6, "-r", 50, "-t", "2s"],
        ["-f", "request.json", "--headless", "-u", 3, "-r", 50, "-t", "2s"],
        ["-f", "shared.json", "--headless", "-u", 10, "-r", 4, "-t", "3s"],
    ], timeout=3 + SLACK)
    for t in (t_user, t_req, t_shared):
        t.wait_idle(quiet=0.2)
    return dict(zip(("user", "request", "shared"), zip(runs, (t_user, t_req, t_shared))))


def test_user_mode_one_connection_per_user(runs):
    r, t_user = runs["user"]
    assert r.rc == 0, r
    # user: exactly one connection per user for the whole run, and each user's requests
    # (recognised by its session cookie) all arrive on that one connection.
    reqs = t_user.requests()
    assert len(reqs) > 6 * 10
    assert t_user.connections() == 6
    assert len({x.client for x in reqs}) == 6
    port_of_sid = {}
    for x in t_user.requests("POST", "/login"):
        port_of_sid[x.extra["sid"]] = x.client
    assert len(set(port_of_sid.values())) == 6
    for x in t_user.requests("GET", "/me"):
        assert x.client == port_of_sid[x.cookies["sid"]], x


def test_request_mode_new_connection_per_request(runs):
    r, t_req = runs["request"]
    assert r.rc == 0, r
    reqs = t_req.requests()
    assert len(reqs) >= 3 * 10
    assert len({x.conn_id for x in reqs}) == len(reqs)
    assert t_req.connections() >= len(reqs)


def test_shared_mode_pools_connections(runs):
    """Far fewer connections than users when few requests are in flight at once."""
    r, t_shared = runs["shared"]
    assert r.rc == 0, r
    reqs = t_shared.requests()
    assert len(reqs) >= 10 * 4
    conns = {x.conn_id for x in reqs}
    # Usually 1-3; a loaded machine (ASan, a parallel build) slows answers and puts a few
    # more requests in flight at once. Per-user connections would be 10.
    assert 1 <= len(conns) <= 7, len(conns)
    assert t_shared.connections() <= 7
