"""--from-har: a flow recorded in Chrome (data/shop.har) becomes a scenario that replays it.

The HAR file points at a placeholder origin; each test rewrites it to a loopback target's
URL, converts it with `cicada --from-har`, runs the scenario as it comes out (one user,
headless) and compares the first pass of the replay with the recording: methods, paths,
queries, bodies and the headers kept, in recorded order, with the recorded pauses.
"""

import json
import signal
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import SANITIZER_MARKS, SLACK

HAR = Path(__file__).resolve().parent / "data" / "shop.har"
PLACEHOLDER = "https://shop.example.com"
SESSION = "7f3a9c2e-1b4d-4e8a-9c3f-2d5e6a7b8c9d"

# One pass of the replay as the target sees it: (method, path, query), in order. The
# recording's GET /ok is the browser following /redirect's 302, which the replay does too.
FLOW = [
    ("GET", "/", ""),
    ("GET", "/api/products", "category=lamps&page=1"),
    ("GET", "/api/products/42", ""),
    ("POST", "/login", ""),
    ("GET", "/me", ""),
    ("POST", "/api/cart", ""),
    ("GET", "/redirect", ""),
    ("GET", "/ok", ""),
    ("POST", "/echo", f"step=checkout&session={SESSION}"),
]
# With --har-static: the same, with the page's assets where the browser fetched them.
FLOW_WITH_ASSETS = FLOW[:1] + [
    ("GET", "/static/app.js", ""), ("GET", "/static/site.css", ""),
    ("GET", "/img/logo.png", ""), ("GET", "/fonts/inter.woff2", ""),
    ("GET", "/favicon.ico", ""), ("GET", "/img/hero", ""),
] + FLOW[1:5] + [("GET", "/static/account.js", "")] + FLOW[5:]

DOC_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
              "image/apng,*/*;q=0.8")
JSON_ACCEPT = "application/json, text/plain, */*"


def write_har(c, name, target):
    c.write(name, HAR.read_text().replace(PLACEHOLDER, target.url))
    return name


def headers(req, name):
    return [v for k, v in req.headers if k.lower() == name]


def first_pass(target, n, proc, timeout=30):
    """The first n requests the target received (one user: in the order sent)."""
    end = time.monotonic() + timeout
    while target.total() < n:
        assert proc.p.poll() is None, proc.err_text()[-3000:]
        if time.monotonic() > end:
            pytest.fail(f"only {target.total()} of {n} requests within {timeout} s: "
                        f"{[(r.method, r.path) for r in target.requests()]}")
        time.sleep(0.05)
    return target.requests()[:n]


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    """Both conversions (without and with --har-static), then both replays at once."""
    c = module_cicada
    plain, assets = make_module_target(), make_module_target()
    runs = {}
    for key, target, flags in (("plain", plain, []), ("static", assets, ["--har-static"])):
        har = write_har(c, f"{key}.har", target)
        conv = c.run("--from-har", har, *flags)
        c.write(f"{key}.json", conv.out)
        runs[key] = {"conv": conv, "target": target}
    for key, r in runs.items():
        if r["conv"].rc == 0:
            r["proc"] = c.start("-f", f"{key}.json", "--headless", "-u", 1, "-t", "60s")
    for key, n in (("plain", len(FLOW)), ("static", len(FLOW_WITH_ASSETS))):
        r = runs[key]
        if "proc" in r:
            r["first"] = first_pass(r["target"], n, r["proc"])
            r["proc"].signal(signal.SIGTERM)
            r["result"] = r["proc"].wait(SLACK)
    return runs


def test_conversion(runs):
    r = runs["plain"]
    conv, target = r["conv"], r["target"]
    assert conv.rc == 0, conv
    assert conv.err == ("cicada: plain.har: wrote 8 requests in 3 tasks; left out 7 static "
                        "assets (--har-static keeps them), 2 non-HTTP URLs, 1 request the "
                        "replay makes by following a redirect\n")
    doc = json.loads(conv.out)
    assert doc["description"] == "Recorded from plain.har on 2024-03-05 (cicada --from-har)."
    assert doc["host"] == target.url
    (cls,) = doc["users"]
    assert (cls["name"], cls["weight"], cls["wait_time"], cls["sequential"]) == \
        ("Recorded", 1, {"between": [1, 3]}, True)
    assert [t["name"] for t in cls["tasks"]] == \
        [target.url + "/", target.url + "/login", target.url + "/cart"]
    steps = cls["tasks"][0]["steps"]
    assert steps[2] == {"think": 1.3}
    assert steps[3]["request"]["name"] == "/api/products/[id]"
    assert cls["tasks"][2]["steps"][3]["request"]["name"] == "/echo"

    conv = runs["static"]["conv"]
    assert conv.rc == 0, conv
    assert conv.err == ("cicada: static.har: wrote 15 requests in 3 tasks; left out 2 "
                        "non-HTTP URLs, 1 request the replay makes by following a redirect\n")


def test_replay_follows_the_recording(runs):
    r = runs["plain"]
    first = r["first"]
    assert [(x.method, x.path, x.query) for x in first] == FLOW
    by_path = {x.path: x for x in first}

    login = by_path["/login"]
    assert urllib.parse.parse_qs(login.body.decode()) == \
        {"username": ["demo"], "password": ["s3cr!t pass"], "remember": ["on"]}
    assert headers(login, "content-type") == ["application/x-www-form-urlencoded"]
    assert json.loads(by_path["/api/cart"].body) == \
        {"product_id": 42, "quantity": 2, "note": 'gift wrap, "blue" paper'}
    assert json.loads(by_path["/echo"].body) == \
        {"payment": {"method": "card", "token": "tok_visa"},
         "items": [{"product_id": 42, "quantity": 2}], "total": 79.80}
    for x in first:
        if x.method == "GET":
            assert x.body == b"", x


def test_replay_headers(runs):
    first = runs["plain"]["first"]
    by_path = {x.path: x for x in first}
    assert headers(by_path["/"], "accept") == [DOC_ACCEPT]
    assert headers(by_path["/api/products"], "accept") == [JSON_ACCEPT]
    assert headers(by_path["/api/products"], "x-requested-with") == ["XMLHttpRequest"]
    cart = by_path["/api/cart"]
    assert headers(cart, "authorization") == ["Bearer eyJhbGciOi.demo.sig"]
    assert headers(cart, "x-csrf-token") == ["c5f1"]
    assert headers(cart, "content-type") == ["application/json"]
    assert headers(by_path["/echo"], "content-type") == ["application/json;charset=UTF-8"]
    for x in first:
        names = {k.lower() for k, _ in x.headers}
        assert not {"referer", "origin", "accept-language", "cache-control",
                    "upgrade-insecure-requests"} & names, x.headers
        assert not any(n.startswith(("sec-", ":")) for n in names), x.headers
        assert all("Chrome/122" not in v for v in headers(x, "user-agent")), x.headers
        # the recorded cookies are not replayed: only what the target set itself
        assert x.cookies.get("sid") != "recorded-session-0001", x
        assert "_ga" not in x.cookies, x
    sid = by_path["/login"].extra["sid"]
    assert not by_path["/login"].cookies
    assert by_path["/me"].cookies == {"sid": sid}
    assert by_path["/api/cart"].cookies == {"sid": sid}


def test_replay_pacing(runs):
    first = runs["plain"]["first"]
    gap = {(a.path, b.path): b.t_start - a.t_end for a, b in zip(first, first[1:])}
    assert gap[("/api/products", "/api/products/42")] >= 1.25      # {"think": 1.3}
    assert gap[("/api/cart", "/redirect")] >= 0.85                  # {"think": 0.9}
    assert gap[("/api/products/42", "/login")] >= 0.95              # wait_time between 1, 3
    assert gap[("/me", "/api/cart")] >= 0.95
    assert gap[("/login", "/me")] < 0.5                             # recorded 0.24 s apart


def test_replay_with_static_assets(runs):
    r = runs["static"]
    assert [(x.method, x.path, x.query) for x in r["first"]] == FLOW_WITH_ASSETS
    for key in ("plain", "static"):
        res = runs[key]["result"]
        assert res.rc in (0, 1), res      # 1: the target answers 404 to most of the flow
        assert "cicada: error" not in res.err, res
        for mark in SANITIZER_MARKS:
            assert mark not in res.err, res


def test_missing_file(cicada):
    r = cicada.run("--from-har", "missing.har")
    assert r.rc == 1, r
    assert r.out == ""
    assert r.err == "cicada: error: missing.har: cannot read: No such file or directory\n"


def test_bad_files(cicada):
    cicada.write("bad.har", '{"log": {"entries": [{"request": {"method": "GET"}}]}}')
    r = cicada.run("--from-har", "bad.har")
    assert (r.rc, r.out) == (1, ""), r
    assert r.err == 'cicada: error: bad.har:1:34: entry 1: request has no "url"\n'
    cicada.write("text.har", "not json")
    r = cicada.run("--from-har", "text.har")
    assert (r.rc, r.out) == (1, ""), r
    assert r.err.startswith("cicada: error: text.har:1:1: "), r
    cicada.write("skip.har", json.dumps({"log": {"entries": [
        {"request": {"method": "GET", "url": "https://h.example/logo.svg"}}]}}))
    r = cicada.run("--from-har", "skip.har")
    assert (r.rc, r.out) == (1, ""), r
    assert r.err == ("cicada: error: skip.har: no requests to replay; left out 1 static asset "
                     "(--har-static keeps them)\n")


def test_braces_replay_as_recorded(cicada, target):
    """Recorded text holding "{{" is sent as recorded, not read as a template."""
    cicada.write("braces.har", json.dumps({"log": {"entries": [
        {"request": {"method": "GET", "url": f"{target.url}/echo?q=%7B%7Bx%7D%7D&r={{{{y",
                     "headers": [{"name": "X-T", "value": "a{{b}}"}]}},
        {"request": {"method": "POST", "url": f"{target.url}/echo",
                     "postData": {"mimeType": "application/json",
                                  "text": '{"{{k}}": ["{{v}}", 2]}'}}},
        {"request": {"method": "POST", "url": f"{target.url}/echo",
                     "postData": {"mimeType": "text/plain", "text": "x{{{y"}}}]}}))
    conv = cicada.run("--from-har", "braces.har")
    assert conv.rc == 0, conv
    assert "warning" not in conv.err, conv
    cicada.write("braces.json", conv.out)
    proc = cicada.start("-f", "braces.json", "--headless", "-u", "1", "-r", "1", "-t", "30s")
    got = first_pass(target, 3, proc)
    proc.signal(signal.SIGTERM)
    proc.wait(SLACK)
    assert [(q.method, q.path, q.query) for q in got] == [
        ("GET", "/echo", "q=%7B%7Bx%7D%7D&r={{y"), ("POST", "/echo", ""), ("POST", "/echo", "")]
    assert headers(got[0], "x-t") == ["a{{b}}"]
    assert json.loads(got[1].body) == {"{{k}}": ["{{v}}", 2]}
    assert got[2].body == b"x{{{y"


def test_options_are_command_line_only(cicada):
    cicada.write("locust.conf", "from-har = x.har\n")
    r = cicada.run("--headless")
    assert r.rc == 2, r
    assert "locust.conf:1:1: 'from-har' can only be given on the command line" in r.err
    cicada.path("locust.conf").unlink()
    r = cicada.run("--har-static")
    assert r.rc == 1, r
    assert r.err == "cicada: error: --har-static only applies to --from-har\n"
