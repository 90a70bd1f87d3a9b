"""Checks (docs/scenario.md, "Checks"): each kind passes and fails on purpose against the
real target; failures show in PREFIX_failures.csv with the documented CheckFailed text and
passing checks do not; {"status": 404} makes a 404 a success; on_failure end_task and
stop_user change what the user does next."""

import pytest

from conftest import SLACK, closed_port, failure_rows, history_users, stats_rows

REFUSED = "ConnectionRefusedError(111, 'Connection refused')"


def req(name, url, check, **kw):
    return {"name": name, "request": dict(url=url, name=name, check=check, **kw)}


# name -> (request, the failure text, or None when the check passes)
CASES = {
    # status: a code or a list replaces the >= 400 rule
    "st-list-fail": ("/ok", {"status": [201, 204]},
                     "CheckFailed('status 200, expected 201 or 204')"),
    "st-list3-fail": ("/ok", {"status": [201, 202, 204]},
                      "CheckFailed('status 200, expected 201, 202 or 204')"),
    "st-list-pass": ("/ok", {"status": [201, 200]}, None),
    "st-404-ok": ("/missing", {"status": 404}, None),
    "st-500-fail": ("/fail", {"status": 200}, "CheckFailed('status 500, expected 200')"),
    # body
    "bc-pass": ("/ok", {"body_contains": "from target"}, None),
    "bc-fail": ("/ok", {"body_contains": ["ok from", "absent text"]},
                "CheckFailed('body lacks \"absent text\"')"),
    "bnc-pass": ("/ok", {"body_not_contains": ["error", "boom"]}, None),
    "bnc-fail": ("/ok", {"body_not_contains": ["error", "target"]},
                 "CheckFailed('body contains \"target\"')"),
    # JSON paths against /doc
    "j-pass": ("/doc", {"json": {
        "$.status": "ok", "$.id": 5, '$["id"]': 5.0, "$.price": 5,
        "$.token": {"exists": True}, "$.nope": {"exists": False},
        "$.items[*].id": 3, "$.items[*].name": {"matches": "^(b|c)$"},
        "$.items[-1].name": {"equals": "c"}, "$.tags": ["x", "y"],
        '$.nested["odd key"]': True, "$.nested.n": None, "$.empty": "",
        "$.items[0]": {"equals": {"id": 1, "name": "a"}}}}, None),
    "j-eq-fail": ("/doc", {"json": {"$.id": 6}}, "CheckFailed('$.id is not 6')"),
    "j-str-fail": ("/doc", {"json": {"$.status": "bad"}},
                   "CheckFailed('$.status is not \"bad\"')"),
    "j-arr-fail": ("/doc", {"json": {"$.tags": ["y", "x"]}},
                   "CheckFailed('$.tags is not [\"y\",\"x\"]')"),
    "j-missing": ("/doc", {"json": {"$.nope": {"exists": True}}},
                  "CheckFailed('$.nope missing')"),
    "j-present": ("/doc", {"json": {"$.token": {"exists": False}}},
                  "CheckFailed('$.token present')"),
    "j-match-fail": ("/doc", {"json": {"$.token": {"matches": "^z"}}},
                     "CheckFailed('$.token does not match ^z')"),
    "j-star-fail": ("/doc", {"json": {"$.items[*].id": 4}},
                    "CheckFailed('$.items[*].id is not 4')"),
    "j-star-match-fail": ("/doc", {"json": {"$.items[*].name": {"matches": "^d$"}}},
                          "CheckFailed('$.items[*].name does not match ^d$')"),
    "j-not-json": ("/ok", {"json": {"$": {"exists": True}}}, "CheckFailed('$ missing')"),
    # headers (names are case-insensitive; the value is the last of the name)
    "h-pass": ("/doc", {"headers": {"Content-Type": "json", "X-Nope": {"exists": False},
                                    "content-type": {"exists": True},
                                    "Set-Cookie": {"matches": "^flavor=mint"}}}, None),
    "h-missing": ("/doc", {"headers": {"X-Nope": {"exists": True}}},
                  "CheckFailed('header X-Nope missing')"),
    "h-present": ("/doc", {"headers": {"ETag": {"exists": False}}},
                  "CheckFailed('header ETag present')"),
    "h-match-fail": ("/doc", {"headers": {"Content-Type": "^text/"}},
                     "CheckFailed('header Content-Type does not match ^text/')"),
    # response time
    "mt-fail": ("/slow?ms=150", {"max_time": 0.05}, "CheckFailed('slower than 0.05 s')"),
    "mt-pass": ("/ok", {"max_time": 5}, None),
    # without "status", Locust's rule comes first and names the request
    "rule-first": ("/fail", {"body_contains": "boom"},
                   "HTTPError('500 Server Error: Internal Server Error for url: rule-first')"),
}

# Header {"equals": ...} checks run in a process of their own, so a regression that mixes
# up the header's name and the expected value (once the compiler stored one over the
# other) fails their own test, and LeakSanitizer names that process alone.
HEADER_EQUALS = {
    "h-eq-pass": ("/doc", {"headers": {"ETag": {"equals": '"v1"'},
                                       "content-type": {"equals": "application/json"}}},
                  None),
    "h-eq-fail": ("/doc", {"headers": {"Content-Type": {"equals": "text/plain"}}},
                  "CheckFailed('header Content-Type is not text/plain')"),
    "h-eq-absent": ("/doc", {"headers": {"X-Nope": {"equals": "1"}}},
                    "CheckFailed('header X-Nope is not 1')"),
}


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    """Four runs at once: the check cases; header equals; on_failure continue/end_task;
    stop_user."""
    c = module_cicada
    t_checks, t_flow, t_stop = make_module_target(), make_module_target(), make_module_target()
    refused = f"http://127.0.0.1:{closed_port()}/x"
    tasks = [req(n, url, chk) for n, (url, chk, _) in CASES.items()]
    tasks.append(req("refused", refused, {"status": [599], "max_time": 9}))
    c.write("checks.json", {"host": t_checks.url, "users": [
        {"name": "C", "wait_time": 0, "tasks": tasks}]})
    c.write("heq.json", {"host": t_checks.url, "users": [
        {"name": "H", "wait_time": 0.01,
         "tasks": [req(n, url, chk) for n, (url, chk, _) in HEADER_EQUALS.items()]}]})

    c.write("flow.json", {"host": t_flow.url, "users": [
        {"name": "F", "wait_time": 0.01, "tasks": [
            {"name": "et", "steps": [
                {"request": {"url": "/fail", "name": "et-1", "on_failure": "end_task"}},
                {"request": "/ok?et-2"}]},
            {"name": "ck", "steps": [
                {"request": {"url": "/ok", "name": "ck-1", "on_failure": "end_task",
                             "check": {"body_contains": "zzz"}}},
                {"request": "/ok?ck-2"}]},
            {"name": "ct", "steps": [
                {"request": {"url": "/fail", "name": "ct-1"}},
                {"request": "/ok?ct-2"}]}]},
        {"name": "G", "wait_time": 0.01, "on_failure": "end_task", "tasks": [
            {"name": "g-class", "steps": [
                {"request": {"url": "/fail", "name": "g-1"}},
                {"request": "/ok?g-2"}]},
            {"name": "g-own", "steps": [
                {"request": {"url": "/fail", "name": "g-3", "on_failure": "continue"}},
                {"request": "/ok?g-4"}]}]}]})

    # Each user fails once, 1.2 s in, and stops: on_stop runs, nobody replaces it.
    c.write("stop.json", {"host": t_stop.url, "users": [
        {"name": "S", "wait_time": 0, "on_stop": [{"request": "POST /logout"}], "tasks": [
            {"steps": [{"think": 1.2},
                       {"request": {"url": "/fail", "on_failure": "stop_user"}},
                       {"request": "/ok?after"}]}]}]})

    procs = {
        "checks": c.start("-f", "checks.json", "--headless", "-u", 2, "-r", 50, "-t", "2s",
                          "--csv", "checks"),
        "flow": c.start("-f", "flow.json", "--headless", "-u", 4, "-r", 50, "-t", "2s",
                        "--csv", "flow"),
        "heq": c.start("-f", "heq.json", "--headless", "-u", 1, "-t", "2s", "--csv", "heq"),
        "stop": c.start("-f", "stop.json", "--headless", "-u", 3, "-r", 50, "-t", "4s",
                        "--csv", "stop"),
    }
    c.results = {k: p.wait(4 + SLACK) for k, p in procs.items()}
    c.targets = {"checks": t_checks, "flow": t_flow, "stop": t_stop}
    c.refused = refused
    for t in c.targets.values():
        t.wait_idle(quiet=0.1)
    return c


def test_failing_checks_are_reported_with_their_text(runs):
    r = runs.results["checks"]
    assert r.rc == 1, r
    rows = stats_rows(runs.path("checks_stats.csv"))
    fails = failure_rows(runs.path("checks_failures.csv"))
    want = {("GET", n, text) for n, (_, _, text) in CASES.items() if text}
    want.add(("GET", "refused", REFUSED))
    assert set(fails) == want
    for n, (_, _, text) in list(CASES.items()) + [("refused", (None, None, REFUSED))]:
        row = rows[("GET", n)]
        assert int(row["Request Count"]) > 0, n
        # a failing check fails every time, a passing one never
        assert row["Failure Count"] == (row["Request Count"] if text else "0"), n
        if text:
            assert fails[("GET", n, text)] == int(row["Failure Count"]), n


def test_header_equals(runs):
    r = runs.results["heq"]
    assert r.rc == 1, r
    rows = stats_rows(runs.path("heq_stats.csv"))
    fails = failure_rows(runs.path("heq_failures.csv"))
    assert set(fails) == {("GET", n, text) for n, (_, _, text) in HEADER_EQUALS.items()
                          if text}
    assert int(rows[("GET", "h-eq-pass")]["Request Count"]) > 0
    assert rows[("GET", "h-eq-pass")]["Failure Count"] == "0"


def test_status_check_makes_404_a_success(runs):
    t = runs.targets["checks"]
    rows = stats_rows(runs.path("checks_stats.csv"))
    assert int(rows[("GET", "st-404-ok")]["Request Count"]) > 0
    assert rows[("GET", "st-404-ok")]["Failure Count"] == "0"
    # the target really answered 404 that many times (give or take a request in flight)
    n = int(rows[("GET", "st-404-ok")]["Request Count"])
    assert 0 <= t.count("GET", "/missing") - n <= 2


def test_end_task_skips_the_rest_of_the_task(runs):
    r, t = runs.results["flow"], runs.targets["flow"]
    assert r.rc == 1, r
    queries = {}
    for x in t.requests("GET", "/ok"):
        queries[x.query] = queries.get(x.query, 0) + 1
    rows = stats_rows(runs.path("flow_stats.csv"))
    for first in ("et-1", "ck-1", "ct-1", "g-1", "g-3"):
        assert int(rows[("GET", first)]["Request Count"]) > 3, first
    # end_task (by status, by check, inherited from the class): the next step never runs
    assert "et-2" not in queries and "ck-2" not in queries and "g-2" not in queries, queries
    # continue (the default, and a request overriding its class's end_task) goes on
    assert queries.get("ct-2", 0) >= int(rows[("GET", "ct-1")]["Request Count"]) - 4
    assert queries.get("g-4", 0) >= int(rows[("GET", "g-3")]["Request Count"]) - 4
    assert queries.get("ct-2", 0) > 3 and queries.get("g-4", 0) > 3


def test_stop_user_runs_on_stop_and_is_not_replaced(runs):
    r, t = runs.results["stop"], runs.targets["stop"]
    assert r.rc == 1, r
    # every user failed once, ran on_stop, and never came back
    assert t.count("GET", "/fail") == 3
    assert t.count("POST", "/logout") == 3
    assert t.count("GET", "/ok") == 0
    logouts = sorted(x.t_start for x in t.requests("POST", "/logout"))
    fails = sorted(x.t_end for x in t.requests("GET", "/fail"))
    assert all(f <= lo for f, lo in zip(fails, logouts))
    users = history_users(runs.path("stop_stats_history.csv"))
    assert users[0] == 3, users
    assert users[-1] == 0, users
    assert users == sorted(users, reverse=True), users
