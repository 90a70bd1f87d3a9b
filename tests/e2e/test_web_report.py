"""The HTML report: GET /stats/report (and ?download=1), and --html written at exit."""

import json
import re
import signal
import time
from html.parser import HTMLParser

import pytest

from conftest import SLACK, assert_clean_exit, free_port, start_dashboard

SCENARIO = {"users": [{"name": "U", "wait_time": 0.05, "tasks": [
    {"request": "GET /ok"}, {"request": "POST /ok"}]}]}

REPORT_KEYS = {"title", "locustfile", "host", "start_time", "end_time", "duration", "stats",
               "response_times", "failures", "exceptions", "history", "tasks",
               "thresholds", "generator", "show_download_link"}


class _Refs(HTMLParser):
    """Collects every src/href attribute and the script elements' attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs, self.scripts = [], []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href"):
                self.refs.append((tag, k, v or ""))
        if tag == "script":
            self.scripts.append(dict(attrs))


def assert_self_contained(page):
    p = _Refs()
    p.feed(page)
    p.close()
    assert len(p.scripts) >= 2, "the report should inline its scripts"
    assert all("src" not in s for s in p.scripts), p.scripts
    for tag, attr, value in p.refs:
        # Only in-page links (the download link is "?download=1") and data: URLs.
        assert value.startswith(("data:", "#", "?")), (tag, attr, value)
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?"
                         r"(https?:)?//", page, re.I)


def report_data(page):
    m = re.search(r"<script>window\.cicadaReport = (.*?);</script>", page, re.S)
    assert m, page[:3000]
    doc = json.loads(m.group(1))
    assert set(doc) == REPORT_KEYS, set(doc) ^ REPORT_KEYS
    return doc


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    """A dashboard; runs that write --html at the end of -t, at SIGTERM, and one whose
    --html path cannot be written."""
    c = module_cicada
    c.write("s.json", SCENARIO)
    t = {k: make_module_target() for k in ("dash", "timed", "term", "bad")}
    auto = ["--autostart", "-u", 2, "-r", 100]
    c.bad = c.start("-f", "s.json", "-H", t["bad"].url, *auto, "--web-host", "127.0.0.1",
                    "-P", free_port(), "--html", "no/such/dir/r.html")
    c.timed = start_dashboard(c, "-f", "s.json", "-H", t["timed"].url, *auto, "-t", "2s",
                              "--autoquit", 0, "--html", "timed.html").proc
    c.term = start_dashboard(c, "-f", "s.json", "-H", t["term"].url, *auto,
                             "--html", "term.html").proc
    c.dash = start_dashboard(c, "-f", "s.json", "-H", t["dash"].url, *auto)
    c.targets = t
    return c


def test_report_page(runs):
    d = runs.dash
    d.wait_for(lambda x: len(x["stats"]) == 3, 2 + SLACK, "both rows")
    end = time.monotonic() + 2 + SLACK
    while not d.get("/stats/history").json()["points"]:
        assert time.monotonic() < end, "no history point"
        time.sleep(0.1)
    r = d.get("/stats/report")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "Content-Disposition" not in r.headers
    assert_self_contained(r.text)
    # Chart.js inlined once (its banner), the data as compact JSON.
    assert len(re.findall(r"\* Chart\.js v4\.", r.text)) == 1
    raw = re.search(r"window\.cicadaReport = (.*?);</script>", r.text, re.S).group(1)
    assert '": ' not in raw and '", "' not in raw and "\n" not in raw, raw[:300]
    doc = report_data(r.text)
    assert doc["show_download_link"] is True
    assert doc["host"] == runs.targets["dash"].url
    assert doc["locustfile"] == "s.json"
    assert doc["title"] == "Test Report for s.json"
    assert [(x["method"], x["name"]) for x in doc["stats"]] == [
        ("GET", "/ok"), ("POST", "/ok"), ("", "Aggregated")]
    assert doc["stats"][-1]["num_requests"] > 0
    assert doc["duration"] == pytest.approx(doc["end_time"] - doc["start_time"])
    assert doc["tasks"]["per_class"]["U"]["ratio"] == 1.0
    # Percentiles per name (Locust's report columns), and the charts' history.
    assert [(x["method"], x["name"]) for x in doc["response_times"]] == [
        (x["method"], x["name"]) for x in doc["stats"]]
    for row in doc["response_times"]:
        ps = row["percentiles"]
        assert list(ps) == ["0.5", "0.6", "0.7", "0.8", "0.9", "0.95", "0.99", "1.0"], ps
        assert list(ps.values()) == sorted(ps.values()), row
    assert doc["history"]["points"] and doc["history"]["names"], doc["history"]
    assert (doc["failures"], doc["exceptions"]) == ([], [])


def test_report_download(runs):
    d = runs.dash
    t0 = time.time()
    r = d.get("/stats/report", params={"download": 1})
    t1 = time.time()
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    m = re.fullmatch(r"attachment;filename=report_(\d+(?:\.\d+)?)\.html",
                     r.headers["Content-Disposition"])
    assert m, r.headers["Content-Disposition"]
    assert t0 - 1 <= float(m.group(1)) <= t1 + 1
    assert_self_contained(r.text)
    assert report_data(r.text)["show_download_link"] is False


def check_html_file(runs, name, target):
    page = runs.path(name).read_text()
    assert_self_contained(page)
    doc = report_data(page)
    assert doc["show_download_link"] is False
    counted = doc["stats"][-1]["num_requests"]
    assert counted > 10
    target.wait_idle(quiet=0.1)
    assert 0 <= target.total() - counted <= 2, (target.total(), counted)
    assert not list(runs.dir.glob(name + ".tmp*"))


def test_html_written_when_the_run_time_ends(runs):
    r = runs.timed.wait(2 + SLACK)
    assert r.rc == 0, r
    assert 2 <= r.elapsed, r.elapsed
    assert "Test stopped: quitting in 0 seconds (--autoquit)" in r.err
    check_html_file(runs, "timed.html", runs.targets["timed"])


def test_html_written_at_sigterm(runs):
    t = runs.targets["term"]
    end = time.monotonic() + SLACK
    while t.total() < 20:
        assert time.monotonic() < end and runs.term.p.poll() is None, runs.term.err_text()
        time.sleep(0.05)
    runs.term.signal(signal.SIGTERM)
    r = runs.term.wait(SLACK)
    assert_clean_exit(r, codes=(0,))
    assert "Got SIGTERM signal" in r.err
    check_html_file(runs, "term.html", t)


def test_unwritable_html_path_fails_before_starting(runs):
    r = runs.bad.wait(SLACK)
    assert r.rc == 1, r
    assert "cicada: error: --html no/such/dir/r.html: No such file or directory" in r.err
    assert "Starting web interface" not in r.err
    time.sleep(0.2)
    assert runs.targets["bad"].total() == 0


def test_dashboard_exits_cleanly(runs):
    assert_clean_exit(runs.dash.stop_process(), codes=(0,))
