"""Web API: the dashboard page (GET /, with its JSON settings blob) and the static files."""

import http.client
import json
import re
from html.parser import HTMLParser

import pytest

from conftest import SLACK, assert_clean_exit, start_dashboard

SCENARIO = {"users": [
    {"name": "U", "weight": 2, "wait_time": 1, "tasks": [{"request": "GET /ok"}]},
    {"name": "V", "weight": 1, "wait_time": 1, "tasks": [{"request": "GET /ok"}]}]}

BLOB_KEYS = {"version", "host", "num_users", "spawn_rate", "run_time", "state", "locustfile",
             "classes", "class_picker", "is_distributed", "full_history", "open_model",
             "workload"}

JS_TYPES = ("text/javascript", "application/javascript")


@pytest.fixture(scope="module")
def dash(module_cicada, target_server):
    """set: -u/-r/-t given (the form's defaults); bare: none of them, with the class
    picker and --csv-full-history."""
    c = module_cicada
    c.write("s.json", SCENARIO)
    d = {
        "set": start_dashboard(c, "-f", "s.json", "-H", target_server.url, "-u", 3, "-r", 2,
                               "-t", "1m"),
        "bare": start_dashboard(c, "-f", "s.json", "-H", target_server.url, "--class-picker",
                                "--csv", "B", "--csv-full-history"),
    }
    d["target"] = target_server
    return d


def blob(page):
    m = re.search(r"<script>window\.cicada = (.*?);</script>", page)
    assert m, page[:2000]
    doc = json.loads(m.group(1))
    assert set(doc) == BLOB_KEYS, set(doc) ^ BLOB_KEYS
    return doc


def test_index_with_settings(dash):
    r = dash["set"].get("/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == "text/html"
    assert "{{" not in r.text                       # every placeholder was filled
    doc = blob(r.text)
    # Not compared with --version: an incremental build can leave web.o with an older
    # CICADA_VERSION than main.o (the Makefile does not rebuild objects when it changes).
    assert re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.+-]*", doc["version"]), doc["version"]
    assert doc == {
        "version": doc["version"], "host": dash["target"].url, "num_users": 3,
        "spawn_rate": 2, "run_time": "60s", "state": "ready", "locustfile": "s.json",
        "classes": ["U", "V"], "class_picker": False, "is_distributed": False,
        "full_history": False, "open_model": False, "workload": None}


def test_index_without_settings(dash):
    doc = blob(dash["bare"].get("/").text)
    assert (doc["num_users"], doc["spawn_rate"], doc["run_time"]) == (None, None, None)
    assert doc["class_picker"] is True
    assert doc["full_history"] is True
    assert doc["state"] == "ready"


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href") and v and tag in ("script", "link") and \
                    not v.startswith("data:"):
                self.refs.append(v)


def test_every_file_the_page_loads_is_served(dash):
    p = _Refs()
    p.feed(dash["set"].get("/").text)
    assert "./static/app.js" in p.refs and "./static/chart.umd.min.js" in p.refs, p.refs
    for ref in p.refs:
        r = dash["set"].get("/" + ref.removeprefix("./"))
        assert r.status_code == 200, ref
        assert len(r.content) > 100, ref


@pytest.mark.parametrize("path, types", [
    ("/static/app.js", JS_TYPES), ("/static/chart.umd.min.js", JS_TYPES),
    ("/static/style.css", ("text/css",))])
def test_static_files(dash, path, types):
    r = dash["set"].get(path)
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] in types, r.headers["Content-Type"]
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.content
    if path.endswith("chart.umd.min.js"):
        assert b"Chart" in r.content


@pytest.mark.parametrize("path", [
    "/static/../templates/index.html",
    "/static/%2e%2e/templates/index.html",
    "/static/..%2ftemplates%2findex.html",
    "/static/../../Makefile",
    "/static/./../static/app.js",
    "/static/missing.js",
    "/static/",
])
def test_static_refuses_other_paths(dash, path):
    # http.client sends the path as it is (requests would remove the dots).
    conn = http.client.HTTPConnection("127.0.0.1", dash["set"].port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status == 404, (path, body[:200])
    assert json.loads(body) == {"success": False, "message": "not found"}


def test_dashboards_exit_cleanly(dash):
    for which in ("set", "bare"):
        assert_clean_exit(dash[which].stop_process(SLACK), codes=(0,))
