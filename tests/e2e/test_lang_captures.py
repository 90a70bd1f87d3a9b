"""Captures (docs/scenario.md, "Captures"): JSON paths with first/last/random picks,
headers, regex groups, cookies and the status, with defaults and "required": false; a
required capture that finds nothing is an exception that ends the task; captures run only
after a successful request. Captured values are sent back in JSON bodies, where they keep
their type."""

import json

import pytest

from conftest import SLACK, exception_rows, stats_rows, text_pos

CAPTURES = {
    "first": {"json": "$.items[*].id"},
    "last": {"json": "$.items[*].id", "pick": "last"},
    "rnd": {"json": "$.items[*].id", "pick": "random"},
    "name": "$.items[-1].name",
    "tok": "$.token",
    "obj": "$.nested",
    "empty": "$.empty",
    "etag": {"header": "etag"},
    "ctype": {"header": "Content-Type"},
    "csrf": {"regex": '"csrf": "([a-z0-9]+)"'},
    "whole": {"regex": '"csrf": "[a-z0-9]+"', "group": 0},
    "flavor": {"cookie": "flavor"},
    "code": {"status": True},
    "dflt": {"json": "$.nope", "default": "fallback"},
    "dfound": {"json": "$.id", "default": "unused"},
    "keep": {"json": "$.nope", "required": False},
}
MISS_STEP = {"request": {"url": "/doc", "name": "miss-doc",
                         "capture": {"missing": "$.absent"}}}
UNSET_STEP = {"request": {"url": "/ok?fc={{fc}}", "name": "fc-use"}}


def echo(query, names):
    return {"request": {"method": "POST", "url": f"/echo?{query}",
                        "json": {n: "{{%s}}" % n for n in names}}}


@pytest.fixture(scope="module")
def run(module_cicada, make_module_target):
    c, t = module_cicada, make_module_target()
    doc = {"host": t.url, "users": [{
        "name": "K", "wait_time": 0.005, "variables": {"keep": "initial", "loc": "none"},
        "tasks": [
            {"name": "cap", "weight": 4, "steps": [
                {"request": {"url": "/doc", "capture": CAPTURES}},
                echo("cap", CAPTURES)]},
            {"name": "miss", "steps": [MISS_STEP, {"request": "/ok?after-miss"}]},
            {"name": "failcap", "steps": [
                {"request": {"url": "/fail", "name": "failcap",
                             "capture": {"fc": {"status": True}}}},
                UNSET_STEP]},
            {"name": "redir", "steps": [
                {"request": {"url": "/goto?to=/doc", "capture": {
                    "st2": {"status": True}, "et2": {"header": "ETag"},
                    "loc": {"header": "Location", "required": False}}}},
                echo("redir", ["st2", "et2", "loc"])]}]}]}
    # one line, so a step's position is where its own JSON text starts
    c.text = json.dumps(doc)
    c.write("captures.json", c.text)
    c.result = c.run("-f", "captures.json", "--headless", "-u", 2, "-r", 50, "-t", "2s",
                     "--csv", "cap", timeout=2 + SLACK)
    t.wait_idle(quiet=0.1)
    c.target = t
    return c


def bodies(run, query):
    out = [json.loads(x.body) for x in run.target.requests("POST", "/echo") if x.query == query]
    assert len(out) > 5, query
    return out


def test_every_kind_of_capture(run):
    assert run.result.rc == 1, run.result      # /fail fails on purpose
    for b in bodies(run, "cap"):
        rnd = b.pop("rnd")
        assert rnd in (1, 2, 3)
        assert b == {
            "first": 1, "last": 3, "name": "c", "tok": "abc",
            "obj": {"odd key": True, "n": None}, "empty": "",
            "etag": '"v1"', "ctype": "application/json",
            "csrf": "k9x7", "whole": '"csrf": "k9x7"', "flavor": "mint",
            "code": 200,                    # a number, as the status capture says
            "dflt": "fallback", "dfound": 5, "keep": "initial"}


def test_random_pick_covers_several_values(run):
    picks = [b["rnd"] for b in bodies(run, "cap")]
    assert len(picks) >= 30
    assert len(set(picks)) >= 2, picks
    assert max(picks.count(v) for v in set(picks)) < len(picks) * 0.8, picks


def test_header_and_status_captures_read_the_last_response(run):
    for b in bodies(run, "redir"):
        # after the redirect: /doc's status and ETag; its Location belonged to the 302
        assert b == {"st2": 200, "et2": '"v1"', "loc": "none"}


def test_required_capture_that_finds_nothing_is_an_exception(run):
    rows = stats_rows(run.path("cap_stats.csv"))
    n = int(rows[("GET", "miss-doc")]["Request Count"])
    assert n > 0 and rows[("GET", "miss-doc")]["Failure Count"] == "0"
    ex = exception_rows(run.path("cap_exceptions.csv"))
    where = (f'captures.json:{text_pos(run.text, json.dumps(MISS_STEP))} '
             f'(user class "K", task "miss", step 1)')
    assert ex[('capture "missing" found nothing', where)] == n
    # the task ended: its next step was never sent
    assert [x for x in run.target.requests("GET", "/ok") if x.query == "after-miss"] == []


def test_captures_run_only_after_a_successful_request(run):
    rows = stats_rows(run.path("cap_stats.csv"))
    n = int(rows[("GET", "failcap")]["Failure Count"])
    assert n > 0 and rows[("GET", "failcap")]["Request Count"] == str(n)
    ex = exception_rows(run.path("cap_exceptions.csv"))
    where = (f'captures.json:{text_pos(run.text, json.dumps(UNSET_STEP))} '
             f'(user class "K", task "failcap", step 2)')
    # on_failure "continue": the next step runs, and {{fc}} was never set
    assert ex[('variable "fc" has no value yet', where)] == n
    assert ("GET", "fc-use") not in rows
    assert [x for x in run.target.requests("GET", "/ok") if x.query.startswith("fc=")] == []
    assert len(ex) == 2, ex
