"""What cicada sends: methods, query strings, headers and bodies, as the target sees them."""

import json
import re

from conftest import SLACK, stats_rows


def first(target, marker):
    """The first request the target saw with query parameter k=marker."""
    for x in target.requests():
        if ("k=" + marker) in x.query.split("&"):
            return x
    raise AssertionError(f"no request with k={marker}: {[r.query for r in target.requests()]}")


def header(req, name):
    vals = [v for k, v in req.headers if k.lower() == name.lower()]
    assert len(vals) <= 1, req.headers
    return vals[0] if vals else None


def test_request_building(cicada, target):
    tasks = [
        {"request": {"url": "/echo", "query": {"k": "query", "q": "a b", "x": "é&="}}},
        {"request": {"url": "/echo?k=pairs", "query": [["t", "1"], ["t", "2"]]}},
        {"request": {"method": "post", "url": "/echo?k=json",
                     "json": {"n": "@1.50@", "big": "@12345678901234567890@", "s": "x",
                              "l": [1, 2]}}},
        {"request": {"method": "PUT", "url": "/echo?k=form", "form": {"a": "1 2", "b": "&"}}},
        {"request": {"method": "PATCH", "url": "/echo?k=body", "body": "raw text"}},
        {"request": {"method": "POST", "url": "/echo?k=typed", "body": "<x/>",
                     "headers": {"content-type": "application/xml"}}},
        {"request": {"url": "/echo?k=headers",
                     "headers": {"x-class": "mine", "X-Num": 5, "X-Bool": True}}},
        {"request": {"method": "DELETE", "url": "/echo?k=delete"}},
        {"request": {"method": "PURGE", "url": "/echo?k=custom"}},
        {"request": {"method": "HEAD", "url": "/echo?k=head"}},
        {"request": {"url": "/echo?k=named", "name": "/echo/[named]"}},
        {"request": {"url": f"{target.url}/echo?k=absolute"}},
    ]
    doc = json.dumps({"host": "http://127.0.0.1:1", "users": [
        {"name": "U", "sequential": True, "wait_time": 0.01,
         "host": target.url,                            # the class's host wins
         "headers": {"X-Class": "class", "Accept": "application/json"},
         "tasks": tasks}]})
    # numbers that a round trip through a double would change: sent as written
    cicada.write("s.json", re.sub(r'"@([^@]*)@"', r"\1", doc))
    r = cicada.run("-f", "s.json", "--headless", "-u", 1, "-t", "1s", "--csv", "C",
                   timeout=1 + SLACK)
    assert r.rc == 0, r

    x = first(target, "query")
    assert x.method == "GET" and x.path == "/echo"
    assert x.query == "k=query&q=a+b&x=%C3%A9%26%3D"
    assert header(x, "X-Class") == "class"          # class headers on every request
    assert header(x, "Accept") == "application/json"
    assert x.body == b""

    assert first(target, "pairs").query == "k=pairs&t=1&t=2"

    x = first(target, "json")
    assert x.method == "POST"
    assert x.body == b'{"n":1.50,"big":12345678901234567890,"s":"x","l":[1,2]}'
    assert header(x, "Content-Type") == "application/json"

    x = first(target, "form")
    assert x.method == "PUT"
    assert x.body == b"a=1+2&b=%26"
    assert header(x, "Content-Type") == "application/x-www-form-urlencoded"

    x = first(target, "body")
    assert x.method == "PATCH" and x.body == b"raw text"
    assert header(x, "Content-Type") is None

    x = first(target, "typed")
    assert x.body == b"<x/>" and header(x, "Content-Type") == "application/xml"

    x = first(target, "headers")
    assert header(x, "X-Class") == "mine"           # the request's own header wins
    assert header(x, "X-Num") == "5" and header(x, "X-Bool") == "true"

    assert first(target, "delete").method == "DELETE"
    assert first(target, "custom").method == "PURGE"
    assert first(target, "head").method == "HEAD"
    assert first(target, "absolute").path == "/echo"

    rows = stats_rows(cicada.path("C_stats.csv"))
    names = {k for k in rows if k[1] != "Aggregated"}
    assert ("GET", "/echo/[named]") in names
    assert ("GET", "/echo?k=query&q=a+b&x=%C3%A9%26%3D") in names
    assert ("POST", "/echo?k=json") in names
    assert ("PURGE", "/echo?k=custom") in names
    assert ("HEAD", "/echo?k=head") in names
    assert ("GET", "/echo?k=absolute") in names     # named by path and query (documented)
    assert len(names) == len(tasks)
    assert rows[("HEAD", "/echo?k=head")]["Average Content Size"] == "0.0"
