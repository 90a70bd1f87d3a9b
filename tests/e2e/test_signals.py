"""SIGTERM and SIGINT end a run with no time limit cleanly, with complete CSV files and
HTML report."""

import signal
import time

import pytest

from conftest import SLACK, read_csv, stats_rows, summary_table
from test_web_report import assert_self_contained, report_data

USERS = 3


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    c = module_cicada
    t_term, t_int = make_module_target(), make_module_target()
    c.write("term.json", {"host": t_term.url, "users": [
        {"name": "U", "wait_time": 0.02, "tasks": [{"request": "GET /ok"}]}]})
    c.write("int.json", {"host": t_int.url, "users": [
        {"name": "U", "wait_time": 0.02, "tasks": [{"request": "GET /ok"},
                                                   {"request": "GET /fail"}]}]})
    base = ["--headless", "-u", USERS, "-r", 10]
    p_term = c.start("-f", "term.json", *base, "--csv", "T", "--html", "T.html")
    p_int = c.start("-f", "int.json", *base, "--csv", "I", "--html", "I.html")
    time.sleep(2.5)
    p_term.signal(signal.SIGTERM)
    p_int.signal(signal.SIGINT)
    results = {"term": (p_term.wait(SLACK), t_term), "int": (p_int.wait(SLACK), t_int)}
    for t in (t_term, t_int):
        t.wait_idle(quiet=0.2)
    c.results = results
    return c


@pytest.mark.parametrize("which, prefix, code", [("term", "T", 0), ("int", "I", 1)])
def test_signal_leaves_complete_files(runs, which, prefix, code):
    r, t = runs.results[which]
    assert r.rc == code, r
    assert "No run time limit set, use CTRL+C to interrupt" in r.err
    if which == "term":
        assert "Got SIGTERM signal" in r.err
    assert f"Shutting down (exit code {code})" in r.err

    rows = stats_rows(runs.path(f"{prefix}_stats.csv"))
    counted = int(rows[("", "Aggregated")]["Request Count"])
    assert counted > 50
    assert 0 <= t.total() - counted <= USERS, (t.total(), counted)
    if which == "int":
        fails = int(rows[("GET", "/fail")]["Failure Count"])
        assert 0 <= t.count("GET", "/fail") - fails <= USERS
        lines = runs.path(f"{prefix}_failures.csv").read_bytes().split(b"\r\n")
        assert lines[1].endswith(b",%d" % fails), lines

    hist = read_csv(runs.path(f"{prefix}_stats_history.csv"))
    assert len(hist) - 1 >= 2, hist
    total = hist[0].index("Total Request Count")
    assert int(hist[-1][total]) == counted       # the last row has the final count

    # The console summary was printed, and agrees with the file.
    assert summary_table(r.err)[("", "Aggregated")][0] == counted
    assert "Response time percentiles (approximated)" in r.err

    # --html is written at either signal (Locust 2.12 skips it at SIGTERM), whole.
    page = runs.path(f"{prefix}.html").read_text()
    assert_self_contained(page)
    report = report_data(page)
    assert report["stats"][-1]["name"] == "Aggregated"
    assert report["stats"][-1]["num_requests"] == counted
    assert report["history"]["points"], report["history"]
    if which == "int":
        assert [(f["method"], f["name"], f["occurrences"]) for f in report["failures"]] == \
            [("GET", "/fail", fails)]
