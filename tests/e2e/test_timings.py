"""The timing breakdown (docs/api.md, "Timing breakdown"): every row of /stats/requests and
of the HTML report has dns/connect/tls/ttfb/transfer averages and percentiles; they add up
to the average response time; a slow answer shows as time to first byte, a refused
connection as connect time, a TLS handshake as tls; a distributed run's master shows the
exact merge of its workers'."""

import json
import re
import shutil
import ssl
import subprocess

import pytest

from conftest import (SANITIZER_MARKS, SLACK, assert_clean_exit, closed_port, free_port,
                      start_dashboard)
from target import Target

PHASES = ["dns", "connect", "tls", "ttfb", "transfer"]
STATS = ["avg", "p50", "p95", "p99"]
SLOW_MS = 40


def scenario(host, refused_port=None):
    tasks = [{"request": {"url": f"/slow?ms={SLOW_MS}", "name": "slow"}},
             {"request": "GET /ok"},
             {"request": {"url": "/redirect", "name": "redirect"}}]
    if refused_port:
        tasks.append({"request": {"url": f"http://127.0.0.1:{refused_port}/x",
                                  "name": "refused"}})
    return {"host": host, "users": [{"name": "U", "wait_time": 0.01, "tasks": tasks}]}


def check_row(row, exact_count=True):
    """Types, order of percentiles, and the sum: phases' averages add up to the average
    response time (each average is rounded to 3 decimals, the response time to 6)."""
    t = row["timings"]
    assert isinstance(t, dict), row
    assert set(t) == {"count", *PHASES}, t
    assert type(t["count"]) is int and t["count"] > 0, t
    if exact_count:
        assert t["count"] == row["num_requests"], row
    for p in PHASES:
        assert set(t[p]) == set(STATS), (p, t)
        for s in STATS:
            assert type(t[p][s]) is float and t[p][s] >= 0, (p, s, t)
        assert t[p]["p50"] <= t[p]["p95"] <= t[p]["p99"], (p, t)
    total = sum(t[p]["avg"] for p in PHASES)
    assert abs(total - row["avg_response_time"]) <= 5 * 0.0005 + 1e-6, \
        (total, row["avg_response_time"], t)


def rows_by_name(rows):
    return {r["name"]: r for r in rows}


def report_rows(path):
    page = path.read_text()
    assert 'id="report-timings"' in page and 'id="report-timings-stat"' in page
    m = re.search(r"<script>window\.cicadaReport = (.*?);</script>", page, re.S)
    assert m, page[:2000]
    return json.loads(m.group(1))["stats"]


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    """dash: a live dashboard; headless: 3 s with --html; dist: the same with two forked
    workers. All three run at once."""
    c = module_cicada
    refused = closed_port()
    t = {k: make_module_target() for k in ("dash", "headless", "dist")}
    for k in t:
        c.write(f"{k}.json", scenario(t[k].url, refused))
    c.dash = start_dashboard(c, "-f", "dash.json", "--autostart", "-u", 3, "-r", 100)
    headless = c.start("-f", "headless.json", "--headless", "-u", 3, "-r", 100, "-t", "3s",
                       "--html", "headless.html")
    dist = c.start("-f", "dist.json", "--headless", "-u", 4, "-r", 100, "-t", "4s",
                   "--processes", 2, "--master-bind-host", "127.0.0.1",
                   "--master-bind-port", free_port(), "--html", "dist.html")
    c.headless = headless.wait(3 + SLACK)
    c.dist = dist.wait(4 + SLACK)
    return c


def test_api_rows(runs):
    d = runs.dash
    names = {"slow", "/ok", "redirect", "refused", "Aggregated"}
    doc = d.wait_for(lambda x: {r["name"] for r in x["stats"]} == names and
                     all(r["num_requests"] >= 20 for r in x["stats"]),
                     3 + SLACK, "20 requests of every name")
    for row in doc["stats"]:
        check_row(row)
    rows = rows_by_name(doc["stats"])

    # A slow answer is time to first byte.
    slow = rows["slow"]["timings"]
    assert slow["ttfb"]["avg"] >= SLOW_MS - 2, slow
    assert slow["ttfb"]["p50"] >= SLOW_MS - 2, slow
    assert slow["transfer"]["avg"] < 5, slow
    # Keep-alive: each of the 3 users connects once, most requests do not.
    assert rows["/ok"]["timings"]["connect"]["p50"] == 0.0, rows["/ok"]
    # A refused connection spends its time connecting; nothing comes back.
    refused = rows["refused"]["timings"]
    assert refused["connect"]["avg"] > 0, refused
    assert refused["ttfb"]["avg"] == refused["transfer"]["avg"] == 0.0, refused
    # Plain HTTP: no TLS anywhere.
    assert all(r["timings"]["tls"]["p99"] == 0.0 for r in doc["stats"]), doc["stats"]
    # Aggregated counts every request's breakdown.
    agg = rows["Aggregated"]["timings"]
    assert agg["count"] == sum(rows[n]["timings"]["count"] for n in names - {"Aggregated"})


def test_stats_reset_zeroes_the_breakdown(module_cicada, make_module_target):
    t = make_module_target()
    module_cicada.write("reset.json", scenario(t.url))
    d = start_dashboard(module_cicada, "-f", "reset.json", "--autostart", "-u", 1, "-r", 10)
    d.wait_for(lambda x: x["stats"][-1]["num_requests"] > 3, 2 + SLACK, "requests")
    assert d.get("/stats/reset").status_code == 200
    # Right after a reset a row is either empty (null breakdown) or counts anew.
    doc = d.stats()
    for row in doc["stats"]:
        if row["num_requests"] == 0:
            assert row["timings"] is None, row
        else:
            check_row(row)
    assert_clean_exit(d.stop_process())


def assert_no_sanitizer_report(r):
    for mark in SANITIZER_MARKS:
        assert mark not in r.err, r


def test_report(runs):
    r = runs.headless
    assert r.rc == 1, r          # the refused requests fail, on purpose
    assert_no_sanitizer_report(r)
    rows = report_rows(runs.path("headless.html"))
    assert {x["name"] for x in rows} == {"slow", "/ok", "redirect", "refused", "Aggregated"}
    for row in rows:
        check_row(row)
    assert rows_by_name(rows)["slow"]["timings"]["ttfb"]["avg"] >= SLOW_MS - 2


def test_distributed_master_merges_the_workers(runs):
    r = runs.dist
    assert r.rc == 1, r
    assert_no_sanitizer_report(r)
    assert r.err.count("Connected to the master at tcp://127.0.0.1:") == 2, r.err
    rows = report_rows(runs.path("dist.html"))
    assert {x["name"] for x in rows} == {"slow", "/ok", "redirect", "refused", "Aggregated"}
    for row in rows:
        check_row(row)
    by = rows_by_name(rows)
    assert by["slow"]["timings"]["ttfb"]["p50"] >= SLOW_MS - 2
    assert by["Aggregated"]["timings"]["count"] == by["Aggregated"]["num_requests"] > 20


def make_cert(d, name, cn):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem"),
                    "-days", "2", "-subj", f"/CN={cn}", "-addext", f"subjectAltName=IP:{cn}"],
                   check=True, capture_output=True, timeout=30)


def test_tls_handshake_is_its_own_phase(cicada):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make a test certificate")
    make_cert(cicada.dir, "server", "127.0.0.1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cicada.path("server.pem"), cicada.path("server.key"))
    t = Target(tls=ctx).start()
    try:
        # A new connection per request: every request has a handshake.
        cicada.write("tls.json", {"host": t.url, "users": [
            {"name": "U", "verify_tls": False, "connection": "request", "wait_time": 0.02,
             "tasks": [{"request": "/ok"}]}]})
        r = cicada.run("-f", "tls.json", "--headless", "-u", 2, "-r", 50, "-t", "2s",
                       "--html", "tls.html", timeout=2 + SLACK)
        assert r.rc == 0, r
        assert_no_sanitizer_report(r)
    finally:
        t.stop()
    rows = rows_by_name(report_rows(cicada.path("tls.html")))
    for row in rows.values():
        check_row(row)
    tm = rows["/ok"]["timings"]
    assert tm["tls"]["p50"] > 0 and tm["connect"]["p50"] > 0, tm
    # A handshake is a few round trips and some crypto: more than a loopback connect.
    assert tm["tls"]["avg"] > tm["connect"]["avg"], tm
