"""Templates (docs/scenario.md, "Variables and templates"): every function and variable
kind rendered into real requests; JSON body typing; a raw body and a request's own header
values rendered as they are; form-encoding of query and form values after rendering; the default statistics name of a templated URL; unknown names are load
errors with file:line:col, and a variable with no value yet is an exception."""

import json
import re

import pytest

from conftest import SLACK, exception_rows, stats_rows, text_pos

USERS = 4
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

BODY = {
    "ri": "{{random_int(3, 5)}}", "rc": "{{random_choice(red, 'dark blue', green)}}",
    "uuid": "{{uuid()}}", "ui": "{{user_index}}", "wi": "{{worker_index}}",
    "t": "{{time()}}", "tms": "{{time_ms()}}",
    "env": "{{env(CICADA_T_VAR)}}", "envd": "{{env(CICADA_T_UNSET, fall back)}}",
    "envs": "{{env(CICADA_T_VAR, unused)}}", "lit": "{{'{{'}}x}}",
    "n": "{{n}}", "xn": "x{{n}}", "s": "{{s}}", "arr": ["{{n}}", "a{{s}}", 1.50],
    "cnt": "{{cnt}}", "flag": "{{flag}}", "word": "{{word}}", "mixed": "{{n}}-{{ri}}",
}
# The step that uses {{late}} before a later task captures it, and the header steps.
USE_LATE = {"request": {"url": "/ok?late={{late}}", "name": "use-late"}}
OWN_HEADER = {"request": {"url": "/ok?hdr", "headers": {"X-Late": "{{late2}}"}}}
NEWLINE = {"request": {"url": "/ok?nl", "headers": {"X-NL": "{{nl}}"}}}


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    c = module_cicada
    t_tpl, t_unset, t_bad, t_edge = (make_module_target() for _ in range(4))
    tpl = json.dumps({"host": t_tpl.url, "users": [{
        "name": "T", "wait_time": 0.01,
        "variables": {"cnt": 3, "flag": True, "word": "w", "ri": "r"},
        "on_start": [{"request": {"url": "/doc", "capture": {"n": "$.id", "s": "$.token"}}}],
        "tasks": [
            {"request": {"method": "POST", "url": "/echo?body", "json": BODY}},
            {"request": {"url": "/echo?fixed=1",
                         "query": {"q": "{{random_choice('dark blue')}} & {{s}}", "n": "{{n}}"}}},
            {"request": {"method": "POST", "url": "/echo?form",
                         "form": [["f", "a b&{{n}}"], ["g", "{{s}}/\u00e9"], ["f", "2"]]}},
            {"request": {"method": "POST", "url": "/echo?raw",
                         "headers": {"Content-Type": "text/plain", "X-N": "n{{n}}"},
                         "body": "n={{n}}&s={{s}} {{'{{'}}"}},
            {"request": {"url": "/items/{{n}}/{{s}}", "check": {"status": 404}}},
            {"request": {"url": t_tpl.url + "/abs/{{n}}?k=v", "check": {"status": 404}}},
            {"request": {"url": "/items/{{n}}", "name": "/items/[id]",
                         "check": {"status": 404}}}]}]})
    # a number as written in the file, not as Python writes it
    assert tpl.count('"a{{s}}", 1.5]') == 1
    c.write("tpl.json", tpl.replace('"a{{s}}", 1.5]', '"a{{s}}", 1.50]'))
    c.unset_text = json.dumps({"host": t_unset.url, "users": [{
        "name": "V", "wait_time": 0.02, "sequential": True, "variables": {"nl": "a\nb"},
        "tasks": [
            {"name": "use", "steps": [USE_LATE]},
            {"name": "hdr", "steps": [OWN_HEADER]},
            {"name": "set", "request": {"url": "/doc", "capture": {"late": "$.token",
                                                                  "late2": "$.status"}}},
            {"name": "nl", "steps": [NEWLINE]}]}]})
    c.write("unset.json", c.unset_text)
    c.bad_text = json.dumps({"host": t_bad.url, "users": [{"name": "B", "tasks": [
        {"request": "/ok"}, {"request": {"url": "/\u00e9/{{nope}}"}}]}]}, ensure_ascii=False)
    c.write("unknown.json", c.bad_text)

    c.write("edge.json", {"host": t_edge.url, "users": [{
        "name": "E", "wait_time": 0.02, "variables": {"n": 5}, "tasks": [
            {"request": {"url": "/frag/{{n}}#top", "query": {"q": "1"},
                         "check": {"status": 404}}},
            {"request": {"url": t_edge.url + "?q={{n}}", "check": {"status": 404}}}]}]})
    env = c.env(CICADA_T_VAR="hi there")
    procs = {
        "tpl": c.start("-f", "tpl.json", "--headless", "-u", USERS, "-r", 50, "-t", "2s",
                       "--csv", "tpl", env=env),
        "unset": c.start("-f", "unset.json", "--headless", "-u", 1, "-t", "1s",
                         "--csv", "unset"),
        "unknown": c.start("-f", "unknown.json", "--headless", "-u", 1, "-t", "1s"),
        "edge": c.start("-f", "edge.json", "--headless", "-u", 1, "-t", "1s", "--csv", "edge"),
    }
    c.results = {k: p.wait(2 + SLACK) for k, p in procs.items()}
    c.targets = {"tpl": t_tpl, "unset": t_unset, "unknown": t_bad, "edge": t_edge}
    for t in c.targets.values():
        t.wait_idle(quiet=0.1)
    return c


def echoes(runs, query):
    out = [x for x in runs.targets["tpl"].requests(path="/echo") if x.query == query]
    assert len(out) > 10, query
    return out


def test_functions_and_variables_in_a_json_body(runs):
    assert runs.results["tpl"].rc == 0, runs.results["tpl"]
    reqs = echoes(runs, "body")
    docs = [json.loads(x.body) for x in reqs]
    for x, d in zip(reqs, docs):
        assert type(d["ri"]) is int and 3 <= d["ri"] <= 5
        assert d["rc"] in ("red", "dark blue", "green")
        assert UUID4.match(d["uuid"]), d["uuid"]
        assert d["wi"] == 0
        assert type(d["t"]) is int and abs(d["t"] - x.t_wall) < 5
        assert type(d["tms"]) is int and abs(d["tms"] / 1000 - x.t_wall) < 5
        assert d["env"] == "hi there" and d["envs"] == "hi there"
        assert d["envd"] == "fall back"
        assert d["lit"] == "{{x}}"
        # a single placeholder takes the value's type; text around it makes a string
        assert d["n"] == 5 and type(d["n"]) is int
        assert d["xn"] == "x5" and d["s"] == "abc" and d["arr"] == [5, "aabc", 1.50]
        assert d["cnt"] == 3 and d["flag"] is True and d["word"] == "w"
        assert d["mixed"] == "5-r"
    assert {d["ri"] for d in docs} == {3, 4, 5}
    assert len({d["rc"] for d in docs}) >= 2
    assert len({d["uuid"] for d in docs}) == len(docs)
    assert b'"arr":[5,"aabc",1.50]' in reqs[0].body     # numbers exactly as written


def test_user_index_is_unique_per_user(runs):
    by_conn = {}
    for x in echoes(runs, "body"):
        by_conn.setdefault(x.conn_id, set()).add(json.loads(x.body)["ui"])
    assert len(by_conn) == USERS
    assert all(len(v) == 1 for v in by_conn.values()), by_conn
    assert sorted(v.pop() for v in by_conn.values()) == list(range(1, USERS + 1))


def test_query_and_form_values_are_encoded_after_rendering(runs):
    for x in echoes(runs, "fixed=1&q=dark+blue+%26+abc&n=5"):
        assert x.method == "GET"
    form = echoes(runs, "form")
    assert {x.body for x in form} == {b"f=a+b%265&g=abc%2F%C3%A9&f=2"}


def test_raw_body_and_header_values_are_rendered(runs):
    for x in echoes(runs, "raw"):
        assert x.body == b"n=5&s=abc {{", x
        assert [v for k, v in x.headers if k.lower() == "x-n"] == ["n5"], x.headers
        assert [v for k, v in x.headers if k.lower() == "content-type"] == ["text/plain"]


def test_templated_urls_are_named_as_written(runs):
    t = runs.targets["tpl"]
    rows = stats_rows(runs.path("tpl_stats.csv"))
    names = {k for k in rows if k != ("", "Aggregated")}
    assert names == {
        ("GET", "/doc"), ("POST", "/echo?body"),
        ("GET", "/echo?fixed=1&q={{random_choice('dark blue')}} & {{s}}&n={{n}}"),
        ("POST", "/echo?form"), ("POST", "/echo?raw"), ("GET", "/items/{{n}}/{{s}}"),
        ("GET", "/abs/{{n}}?k=v"),
        ("GET", "/items/[id]")}
    # the target also saw the requests in flight at the end: at most one per user
    counted = int(rows[("GET", "/items/{{n}}/{{s}}")]["Request Count"])
    assert counted > 0 and 0 <= t.count("GET", "/items/5/abc") - counted <= USERS
    assert t.count("GET", "/abs/5") > 0
    assert {x.query for x in t.requests("GET", "/abs/5")} == {"k=v"}
    counted = int(rows[("GET", "/items/[id]")]["Request Count"])
    assert counted > 0 and 0 <= t.count("GET", "/items/5") - counted <= USERS


def test_unknown_variable_is_a_load_error(runs):
    r = runs.results["unknown"]
    assert r.rc == 1, r
    # the column counts characters: "é" is one
    assert r.err == (f'cicada: error: unknown.json:{text_pos(runs.bad_text, "nope}}")}: '
                     'unknown variable "nope"\n')
    assert runs.targets["unknown"].total() == 0


def test_variable_without_a_value_is_an_exception(runs):
    r, t = runs.results["unset"], runs.targets["unset"]
    assert r.rc == 1, r
    ex = exception_rows(runs.path("unset_exceptions.csv"))

    def where(step, task):
        return (f'unset.json:{text_pos(runs.unset_text, json.dumps(step))} '
                f'(user class "V", task "{task}", step 1)')

    # the first round, before the "set" task captured them; then never again
    assert ex.pop(('variable "late" has no value yet', where(USE_LATE, "use"))) == 1
    assert ex.pop(('variable "late2" has no value yet', where(OWN_HEADER, "hdr"))) == 1
    # a line break in a header value after templating: every time
    nl = ex.pop(("header X-NL: the value after templating has a line break",
                 where(NEWLINE, "nl")))
    assert ex == {}
    rounds = t.count("GET", "/doc")
    assert rounds >= 5 and rounds - 1 <= nl <= rounds
    assert t.count("GET", "/ok") > 0
    assert {x.query for x in t.requests("GET", "/ok")} == {"late=abc", "hdr"}
    rows = stats_rows(runs.path("unset_stats.csv"))
    assert int(rows[("GET", "use-late")]["Request Count"]) == rounds - 1 or \
        int(rows[("GET", "use-late")]["Request Count"]) == rounds


def test_templated_url_with_a_fragment_keeps_its_query(runs):
    assert runs.results["edge"].rc == 0, runs.results["edge"]
    reqs = runs.targets["edge"].requests("GET", "/frag/5")
    assert reqs
    assert {x.query for x in reqs} == {"q=1"}


def test_templated_absolute_url_without_a_path_is_named_like_locust(runs):
    rows = stats_rows(runs.path("edge_stats.csv"))
    assert ("GET", "/?q={{n}}") in rows, list(rows)
