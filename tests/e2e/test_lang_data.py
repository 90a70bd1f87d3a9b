"""Test data (docs/scenario.md, "Test data"): unique rows are never held by two live
users; with fewer rows than users, at most as many users run as there are rows;
stop_test ends the test; sequential rows wrap around; "per": "task" draws a row per
task; JSON-lines values keep their type; bad data files are load errors."""

import json
from collections import Counter

import pytest

from conftest import SLACK, history_users, log_lines, text_pos

ACCOUNTS = "username\n" + "".join(f"acct{i}\n" for i in range(1, 4))


def login_logout(extra_tasks):
    """A class that logs in with a unique account and logs out in on_stop."""
    return {
        "on_start": [{"request": {"method": "POST", "url": "/token-login",
                                  "json": {"username": "{{accounts.username}}"},
                                  "capture": {"token": "$.token"}}}],
        "on_stop": [{"request": {"method": "POST", "url": "/logout",
                                 "json": {"username": "{{accounts.username}}",
                                          "token": "{{token}}"}}}],
        "tasks": extra_tasks}


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    c = module_cicada
    names = ["sessions", "exhaust", "stop_test", "recycle", "per_user", "bad"]
    targets = {n: make_module_target() for n in names}
    c.write("accounts.csv", ACCOUNTS)
    c.write("two.csv", "username\nacct1\nacct2\n")
    c.write("seq.csv", "v\na\nb\nc\n")
    c.write("pu.csv", "v,num\na,42\nb,43\nc,44\n")
    c.write("products.jsonl",
            '{"id": 7, "price": 1.50, "name": "lamp", "tags": ["a", "b"], "ok": true, '
            '"meta": {"k": null}}\n')
    c.write("ragged.csv", "a,b\n1,2\n3\n")
    c.write("bad.jsonl", '{"a": 1}\n[1]\n')

    # Users live about 0.4 s (a task, then a failure that stops them) and are spawned
    # over 2 s, so the three accounts pass from user to user.
    c.write("sessions.json", {
        "host": targets["sessions"].url,
        "data": {"accounts": {"file": "accounts.csv", "mode": "unique"}},
        "users": [dict(name="S", wait_time=0.05, sequential=True, **login_logout([
            {"request": "GET /ok"},
            {"steps": [{"think": 0.3},
                       {"request": {"url": "/fail", "on_failure": "stop_user"}}]}]))]})
    c.write("exhaust.json", {
        "host": targets["exhaust"].url,
        "data": {"accounts": {"file": "two.csv", "mode": "unique",
                              "on_exhausted": "stop_user"}},
        "users": [dict(name="X", wait_time=0.05, **login_logout([{"request": "GET /ok"}]))]})
    c.write("stop_test.json", {
        "host": targets["stop_test"].url,
        "data": {"rows": {"file": "two.csv", "per": "task", "on_exhausted": "stop_test"}},
        "users": [{"name": "T", "wait_time": 0.01, "tasks": [
            {"request": {"url": "/ok?u={{rows.username}}", "name": "row"}}]}]})
    c.write("recycle.json", {
        "host": targets["recycle"].url,
        "data": {"seq": {"file": "seq.csv", "per": "task"}},
        "users": [{"name": "R", "wait_time": 0.01, "tasks": [{"steps": [
            {"request": {"url": "/ok?a={{seq.v}}", "name": "a"}},
            {"request": {"url": "/ok?b={{seq.v}}", "name": "b"}}]}]}]})
    c.write("per_user.json", {
        "host": targets["per_user"].url,
        "data": {"pu": {"file": "pu.csv"},
                 "rnd": {"file": "seq.csv", "mode": "random", "per": "task"},
                 "products": {"file": "products.jsonl"}},
        "users": [{"name": "P", "wait_time": 0.01, "tasks": [
            {"request": {"method": "POST", "url": "/echo", "json": {
                "pu": "{{pu.v}}", "num": "{{pu.num}}", "rnd": "{{rnd.v}}",
                "id": "{{products.id}}", "price": "{{products.price}}",
                "name": "{{products.name}}", "tags": "{{products.tags}}",
                "ok": "{{products.ok}}", "meta": "{{products.meta}}",
                "label": "#{{products.id}} {{products.name}}"}}}]}]})
    c.bad = {}
    for f in ("ragged.csv", "missing.csv", "bad.jsonl"):
        c.bad[f] = json.dumps({"host": targets["bad"].url, "data": {"d": {"file": f}},
                               "users": [{"name": "U", "tasks": [{"request": "/ok"}]}]})
        c.write(f"bad-{f}.json", c.bad[f])

    run = ["--headless", "-r", 50, "--csv"]
    procs = {
        "sessions": c.start("-f", "sessions.json", "--headless", "-u", 10, "-r", 5, "-t", "3s",
                            "--csv", "sessions"),
        "exhaust": c.start("-f", "exhaust.json", *run, "exhaust", "-u", 5, "-t", "2s"),
        "stop_test": c.start("-f", "stop_test.json", *run, "stop_test", "-u", 1, "-t", "30s"),
        "recycle": c.start("-f", "recycle.json", *run, "recycle", "-u", 1, "-t", "1s"),
        "per_user": c.start("-f", "per_user.json", *run, "per_user", "-u", 2, "-t", "1s"),
    }
    for f in c.bad:
        procs[f] = c.start("-f", f"bad-{f}.json", "--headless", "-u", 1, "-t", "1s")
    c.results = {k: p.wait(3 + SLACK) for k, p in procs.items()}
    c.targets = targets
    for t in targets.values():
        t.wait_idle(quiet=0.1)
    return c


def sessions(t):
    """{account: [(login start, logout end), ...]} from the target's records, paired by
    the token the login issued and the logout sent back."""
    logouts = {}
    for x in t.requests("POST", "/logout"):
        body = json.loads(x.body)
        assert body["token"] not in logouts
        logouts[body["token"]] = (body["username"], x.t_end)
    out = {}
    for x in t.requests("POST", "/token-login"):
        user, end = logouts.pop(x.extra["token"])       # every session logs out
        assert user == x.extra["username"]
        out.setdefault(user, []).append((x.t_start, end))
    assert logouts == {}
    return out


def test_unique_rows_are_never_held_twice(runs):
    r, t = runs.results["sessions"], runs.targets["sessions"]
    assert r.rc == 1, r                     # /fail, on purpose
    s = sessions(t)
    assert set(s) <= {"acct1", "acct2", "acct3"}
    assert sum(len(v) for v in s.values()) >= 6, s   # accounts passed between users
    for account, spans in s.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert end <= start, (account, spans)
    assert max(history_users(runs.path("sessions_stats_history.csv"))) <= 3


def test_more_users_than_rows(runs):
    r, t = runs.results["exhaust"], runs.targets["exhaust"]
    assert r.rc == 0, r
    s = sessions(t)
    assert sorted(s) == ["acct1", "acct2"] and all(len(v) == 1 for v in s.values())
    assert t.count("GET", "/ok") > 10
    users = history_users(runs.path("exhaust_stats_history.csv"))
    assert max(users) == 2, users
    warn = [x for x in log_lines(r.err, "WARNING") if "no row left" in x]
    assert len(warn) == 1, r.err
    assert warn[0].endswith('data source "accounts" has no row left: users that need one '
                            'stop')


def test_stop_test_ends_the_test(runs):
    r, t = runs.results["stop_test"], runs.targets["stop_test"]
    assert r.rc == 0, r
    assert r.elapsed < 10
    assert [x.query for x in t.requests()] == ["u=acct1", "u=acct2"]
    assert any(x.endswith('data source "rows" has no row left: stopping the test')
               for x in log_lines(r.err, "WARNING")), r.err
    assert "Response time percentiles (approximated)" in r.err


def test_sequential_rows_wrap_and_per_task_draws_a_row_per_task(runs):
    r, t = runs.results["recycle"], runs.targets["recycle"]
    assert r.rc == 0, r
    qs = [x.query for x in t.requests("GET", "/ok")]
    assert len(qs) >= 12
    # a task's two steps share its row; each task takes the next one, wrapping around
    rows = "abc"
    for i, q in enumerate(qs[:len(qs) // 2 * 2]):
        assert q == f"{'ab'[i % 2]}={rows[i // 2 % 3]}", qs


def test_per_user_rows_random_rows_and_json_lines_types(runs):
    r, t = runs.results["per_user"], runs.targets["per_user"]
    assert r.rc == 0, r
    reqs = t.requests("POST", "/echo")
    assert len(reqs) > 10
    by_conn = {}
    rnd = Counter()
    for x in reqs:
        d = json.loads(x.body)
        by_conn.setdefault(x.conn_id, set()).add((d.pop("pu"), d.pop("num")))
        rnd[d.pop("rnd")] += 1
        # JSON-lines values keep their type; CSV cells are strings
        assert d == {"id": 7, "price": 1.5, "name": "lamp", "tags": ["a", "b"], "ok": True,
                     "meta": {"k": None}, "label": "#7 lamp"}
        assert b'"price":1.50' in x.body
    # "per": "user" (the default): each user keeps the row it took first
    assert sorted(sorted(v) for v in by_conn.values()) == [[("a", "42")], [("b", "43")]]
    assert set(rnd) <= {"a", "b", "c"} and len(rnd) >= 2, rnd


@pytest.mark.parametrize("name, message", [
    ("ragged.csv", "./ragged.csv:3: row has 1 field, the header has 2"),
    ("missing.csv", "./missing.csv: cannot read: No such file or directory"),
    ("bad.jsonl", "./bad.jsonl:2: expected a JSON object, found an array"),
])
def test_bad_data_files_are_load_errors(runs, name, message):
    r = runs.results[name]
    assert r.rc == 1, r
    pos = text_pos(runs.bad[name], f'"{name}"')
    assert r.err == f"cicada: error: bad-{name}.json:{pos}: {message}\n"
    assert runs.targets["bad"].total() == 0
