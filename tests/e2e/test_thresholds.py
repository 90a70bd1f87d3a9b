"""Thresholds (docs/scenario.md, "Thresholds"): each kind passes and fails on purpose with
exit code 3, no samples is an error, abort ends a test early, thresholds come from the
scenario and from --threshold, bad input is one line naming the flag or file:line:col;
--json prints Locust's summary list (matching the CSV), --junit writes a test case per
threshold, the dashboard's /stats/requests and the HTML report carry the verdict, and a
master's check pass rate adds up its workers' reports."""

import json
import re
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import (SLACK, assert_clean_exit, free_port, log_lines, start_dashboard,
                      stats_rows, text_pos)

EXIT_THRESHOLDS = 3

# Two users, 20 ms apart: enough requests in 2 s for every kind, a "slow" one of 60 ms.
FAST = [{"request": "GET /ok"},
        {"request": {"url": "/slow?ms=60", "name": "slow"}}]
# Half the requests fail.
MIXED = [{"request": "GET /ok"}, {"request": "GET /fail"}]
# Half the checks fail (the /fail answer is not the 200 the check wants).
CHECKS = [{"request": {"url": "/ok", "check": {"status": 200}}},
          {"request": {"url": "/fail", "check": {"status": 200}}}]


def doc(tasks, host, thresholds=None):
    d = {"host": host, "users": [{"name": "U", "wait_time": {"constant": 0.02},
                                  "tasks": tasks}]}
    if thresholds is not None:
        d["thresholds"] = thresholds
    return d


def verdicts(err):
    """The console's threshold block: [(verdict, threshold text, description)] in order."""
    m = re.search(r"^Thresholds: (\d+) passed, (\d+) failed\n((?:.+\n)*)", err, re.M)
    assert m, err[-3000:]
    out = []
    for line in m.group(3).splitlines():
        verdict, rest = line.split(None, 1)
        text, desc = re.split(r"  +", rest, maxsplit=1)
        out.append((verdict, text, desc))
    assert len(out) == int(m.group(1)) + int(m.group(2))
    return out


# id -> (tasks, threshold, extra args, exit code, verdict, text in the description)
KINDS = {
    "percentile-pass": (FAST, "p95<5000", [], 0, "passed", "p95 of all requests: "),
    "percentile-fail": (FAST, "slow:p95<30", [], 3, "FAILED", "p95 of slow: "),
    "percentile-method": (FAST, "GET slow:p50>=50", [], 0, "passed", "p50 of GET slow"),
    "avg-pass": (FAST, "avg<5s", [], 0, "passed", "limit < 5000 ms"),
    "avg-fail": (FAST, "slow:avg<30ms", [], 3, "FAILED", "avg of slow: "),
    "max-fail": (FAST, "max<10", [], 3, "FAILED", "max of all requests: "),
    "fail-ratio-pass": (MIXED, "fail_ratio<0.9", ["--exit-code-on-error", 0], 0, "passed",
                        "limit < 90%"),
    "fail-ratio-fail": (MIXED, "fail_ratio<1%", [], 3, "FAILED", "fail_ratio of all requests"),
    # the thresholds hold, but failures still mean --exit-code-on-error's code
    "fail-ratio-pass-failures": (MIXED, "GET /fail:fail_ratio>=0.99", [], 1, "passed",
                                 "fail_ratio of GET /fail: 100%"),
    "rps-pass": (FAST, "rps>=2", [], 0, "passed", "req/s, limit >= 2 req/s"),
    "rps-fail": (FAST, "rps>=100000", [], 3, "FAILED", "rps of all requests: "),
    "checks-pass": (CHECKS, "checks>=0.4", ["--exit-code-on-error", 0], 0, "passed",
                    "checks held: "),
    "checks-fail": (CHECKS, "checks>=99%", ["--exit-code-on-error", 0], 3, "FAILED",
                    "limit >= 99%"),
    "no-samples-name": (FAST, "GET /nope:p95<100", [], 3, "ERROR",
                        'no samples: no request named "GET /nope"'),
    "no-samples-checks": (FAST, "checks>=0.5", [], 3, "ERROR", "no samples: no check ran"),
}


@pytest.fixture(scope="module")
def kinds(module_cicada, make_module_target):
    """Every KINDS run at once, 2 s each, each against a target of its own."""
    c = module_cicada
    procs = {}
    for kid, (tasks, thr, extra, _, _, _) in KINDS.items():
        t = make_module_target()
        c.write(f"{kid}.json", doc(tasks, t.url))
        procs[kid] = c.start("-f", f"{kid}.json", "--headless", "-u", 2, "-r", 100, "-t", 2,
                             "--threshold", thr, *extra)
    return {k: p.wait(SLACK) for k, p in procs.items()}


@pytest.mark.parametrize("kid", list(KINDS))
def test_each_kind_passes_and_fails(kinds, kid):
    _, thr, _, rc, verdict, desc = KINDS[kid]
    r = kinds[kid]
    assert r.rc == rc, r
    assert f"Shutting down (exit code {rc})" in r.err
    [(v, text, d)] = verdicts(r.err)
    assert (v, text) == (verdict, thr), r
    assert desc in d, d
    # the verdict comes after Locust's tables
    assert r.err.index("Thresholds:") > r.err.rindex("Response time percentiles")


def test_percentile_value_is_measured(kinds):
    [(_, _, d)] = verdicts(kinds["percentile-method"].err)
    ms = float(re.search(r": ([\d.]+) ms,", d).group(1))
    assert 60 <= ms < 1000, d


def test_scenario_and_command_line_thresholds(cicada, target):
    """The scenario's come first, in order, then --threshold's; an object may carry a
    description; a run with all passing exits 0."""
    cicada.write("s.json", doc(FAST, target.url, [
        "p99<5000",
        {"threshold": "GET /ok:fail_ratio<=0", "description": "no errors on the home page"},
        {"threshold": "rps>=1", "abort_on_fail": True, "abort_delay": "30s"}]))
    r = cicada.run("-f", "s.json", "--headless", "-u", 2, "-r", 100, "-t", 2,
                   "--threshold", "max<5s", "--threshold", "slow:p50<5000")
    assert r.rc == 0, r
    assert [(v, t) for v, t, _ in verdicts(r.err)] == [
        ("passed", "p99<5000"), ("passed", "GET /ok:fail_ratio<=0"), ("passed", "rps>=1"),
        ("passed", "max<5s"), ("passed", "slow:p50<5000")]


def test_config_file_thresholds(cicada, target):
    cicada.write("s.json", doc(FAST, target.url))
    cicada.write("locust.conf", "threshold = [p95<5000, rps>=100000]\n")
    r = cicada.run("-f", "s.json", "--headless", "-u", 1, "-t", 1)
    assert r.rc == EXIT_THRESHOLDS, r
    assert [(v, t) for v, t, _ in verdicts(r.err)] == [("passed", "p95<5000"),
                                                        ("FAILED", "rps>=100000")]


# ---- abort ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def aborts(module_cicada, make_module_target):
    c = module_cicada
    runs = {
        # id: (tasks, thresholds in the scenario, args)
        "cli": (MIXED, None, ["-t", 30, "--threshold", "fail_ratio<0.01 abort=1s"]),
        "scenario": (MIXED, [{"threshold": "fail_ratio<0.01", "abort_on_fail": True,
                              "abort_delay": 1}], ["-t", 30]),
        "checks": (CHECKS, ["checks>=0.9 abort=1"], ["-t", 30]),
        # no samples is no reason to stop: the test may not have reached that request
        "no-samples": (FAST, None, ["-t", 3, "--threshold", "GET /nope:p95<1 abort=0"]),
        "passing": (FAST, None, ["-t", 3, "--threshold", "p95<5000 abort=0"]),
        # without abort, a failed threshold lets the test run its time
        "no-abort": (MIXED, None, ["-t", 3, "--threshold", "fail_ratio<0.01"]),
    }
    procs = {}
    for rid, (tasks, thr, args) in runs.items():
        t = make_module_target()
        c.write(f"abort-{rid}.json", doc(tasks, t.url, thr))
        procs[rid] = c.start("-f", f"abort-{rid}.json", "--headless", "-u", 2, "-r", 100,
                             *args)
    return {k: p.wait(30 + SLACK) for k, p in procs.items()}


@pytest.mark.parametrize("rid", ["cli", "scenario", "checks"])
def test_abort_ends_the_test_early(aborts, rid):
    r = aborts[rid]
    assert r.rc == EXIT_THRESHOLDS, r
    assert r.elapsed < 10, r
    warn = [ln for ln in log_lines(r.err, "WARNING") if "Threshold " in ln]
    assert len(warn) == 1 and "failed: " in warn[0] and "(ended the test)" in warn[0], r
    assert "Ending the test: a threshold marked abort failed" in r.err
    [(v, _, d)] = verdicts(r.err)
    assert v == "FAILED" and d.endswith("(ended the test)"), d


@pytest.mark.parametrize("rid,rc", [("no-samples", 3), ("passing", 0), ("no-abort", 3)])
def test_no_abort_runs_its_time(aborts, rid, rc):
    r = aborts[rid]
    assert r.rc == rc, r
    assert r.elapsed >= 3, r
    assert "Ending the test" not in r.err
    assert "--run-time limit reached" in r.err


# ---- --json ---------------------------------------------------------------------------------

def test_json_summary_matches_the_csv(cicada, target):
    cicada.write("s.json", doc(MIXED + FAST[1:], target.url))
    r = cicada.run("-f", "s.json", "--headless", "-u", 2, "-r", 100, "-t", 2, "--json",
                   "--csv", "out", "--threshold", "p95<5000")
    assert r.rc == 1, r                   # failures: --exit-code-on-error's code
    assert r.out.startswith("["), r
    entries = json.loads(r.out)           # stdout holds the JSON and nothing else
    assert isinstance(entries, list)
    # Locust's shape: a serialized StatsEntry per name, Aggregated left out
    keys = ["name", "method", "last_request_timestamp", "start_time", "num_requests",
            "num_none_requests", "num_failures", "total_response_time", "max_response_time",
            "min_response_time", "total_content_length", "response_times",
            "num_reqs_per_sec", "num_fail_per_sec"]
    for e in entries:
        assert list(e) == keys, e
    rows = stats_rows(cicada.path("out_stats.csv"))
    names = {(e["method"], e["name"]) for e in entries}
    assert names == {k for k in rows if k != ("", "Aggregated")}
    assert names == {("GET", "/ok"), ("GET", "/fail"), ("GET", "slow")}
    for e in entries:
        row = rows[(e["method"], e["name"])]
        n = e["num_requests"]
        assert n > 0 and int(row["Request Count"]) == n, (e, row)
        assert int(row["Failure Count"]) == e["num_failures"]
        assert sum(e["response_times"].values()) == n - e["num_none_requests"]
        assert abs(float(row["Average Response Time"]) - e["total_response_time"] / n) < 0.01
        assert abs(float(row["Min Response Time"]) - e["min_response_time"]) <= 1
        assert abs(float(row["Max Response Time"]) - e["max_response_time"]) <= 1
        assert abs(float(row["Average Content Size"]) - e["total_content_length"] / n) < 0.01
        assert e["last_request_timestamp"] >= e["start_time"]
    fails = {e["name"]: e["num_failures"] for e in entries}
    assert fails["/ok"] == 0 and fails["/fail"] == int(rows[("GET", "/fail")]["Request Count"])
    # as Locust: the JSON replaces the summary tables; the verdict still shows
    tail = r.err[r.err.index("Shutting down"):]
    assert "Response time percentiles" not in tail
    assert verdicts(r.err) == [("passed", "p95<5000", verdicts(r.err)[0][2])]


# ---- --junit ---------------------------------------------------------------------------------

def test_junit_file(cicada, target):
    cicada.write("s.json", doc(FAST, target.url))
    r = cicada.run("-f", "s.json", "--headless", "-u", 2, "-r", 100, "-t", 2,
                   "--junit", "out.xml", "--threshold", "p95<5000", "--threshold",
                   "slow:max<10", "--threshold", "GET /nope:p50<1")
    assert r.rc == EXIT_THRESHOLDS, r
    root = ET.parse(cicada.path("out.xml")).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")
    [suite] = list(root)
    assert suite.tag == "testsuite" and suite.get("name") == "s.json"
    assert (suite.get("tests"), suite.get("failures")) == ("4", "2")
    cases = [(tc.get("classname"), tc.get("name"), tc.find("failure")) for tc in suite]
    assert [(c, n) for c, n, _ in cases] == [
        ("cicada.thresholds", "p95<5000"), ("cicada.thresholds", "slow:max<10"),
        ("cicada.thresholds", "GET /nope:p50<1"), ("cicada.requests", "no request failures")]
    assert cases[0][2] is None and cases[3][2] is None
    f = cases[1][2]
    assert f.get("type") == "threshold"
    assert f.get("message").startswith("max of slow: ") and \
        f.get("message").endswith("ms, limit < 10 ms")
    f = cases[2][2]
    assert f.get("type") == "no samples"
    assert f.get("message") == 'no samples: no request named "GET /nope"'
    for tc in suite:
        assert float(tc.get("time")) > 1


def test_junit_failures_case(cicada, target):
    """Request failures fail their own test case, unless --exit-code-on-error 0 says they
    do not matter."""
    cicada.write("s.json", doc(MIXED, target.url))
    r = cicada.run("-f", "s.json", "--headless", "-u", 1, "-t", 1, "--junit", "a.xml")
    assert r.rc == 1, r
    [tc] = ET.parse(cicada.path("a.xml")).getroot().iter("testcase")
    f = tc.find("failure")
    assert tc.get("name") == "no request failures" and f.get("type") == "failures"
    assert re.fullmatch(r"\d+ failed requests of \d+, 0 exceptions", f.get("message"))
    assert "GET /fail: HTTPError('500 Server Error" in f.text
    r = cicada.run("-f", "s.json", "--headless", "-u", 1, "-t", 1, "--junit", "b.xml",
                   "--exit-code-on-error", 0)
    assert r.rc == 0, r
    root = ET.parse(cicada.path("b.xml")).getroot()
    assert root.get("tests") == "0" and not list(root.iter("testcase"))


def test_junit_path_checked_before_the_test(cicada, target):
    cicada.write("s.json", doc(FAST, target.url))
    r = cicada.run("-f", "s.json", "--headless", "-u", 1, "-t", 5, "--junit", "no/dir/x.xml")
    assert r.rc == 1, r
    assert r.err.strip().endswith("cicada: error: --junit no/dir/x.xml: No such file or "
                                  "directory"), r
    assert r.elapsed < 5
    assert target.total() == 0


# ---- bad input -------------------------------------------------------------------------------

def test_bad_threshold_on_the_command_line(cicada, target):
    cicada.write("s.json", doc(FAST, target.url))
    r = cicada.run("-f", "s.json", "--headless", "-t", 1, "--threshold", "p95<")
    assert r.rc == 2, r
    assert r.err == ("cicada: error: argument --threshold: 'p95<': expected a number after "
                     "the comparison (at character 5)\n")
    r = cicada.run("-f", "s.json", "--headless", "-t", 1, "--threshold", "latency<5")
    assert r.rc == 2, r
    assert "argument --threshold: 'latency<5': unknown metric \"latency\": use pN" in r.err
    assert target.total() == 0


@pytest.mark.parametrize("thresholds,fragment,message", [
    (["p95<500", "p95 <= fast"], 'fast"', "threshold: expected a number after the comparison"),
    ([{"threshold": "p95<1", "abort_on_fial": True}], '"abort_on_fial"',
     'unknown key "abort_on_fial" in threshold (did you mean "abort_on_fail"?)'),
    ({"p95": 500}, '{\n    "p95"', '"thresholds" must be an array of thresholds, not an object'),
    (["GET /x:checks>=1"], 'GET /x:checks',
     "threshold: checks is the pass rate of every check: it takes no request name"),
])
def test_bad_threshold_in_the_scenario(cicada, target, thresholds, fragment, message):
    text = json.dumps(doc(FAST, target.url, thresholds), indent=2)
    cicada.write("s.json", text)
    r = cicada.run("-f", "s.json", "--headless", "-t", 1)
    assert r.rc == 1, r
    assert r.err == f"cicada: error: s.json:{text_pos(text, fragment)}: {message}\n"


# ---- the dashboard and the report ----------------------------------------------------------

def test_dashboard_and_report(cicada, target):
    cicada.write("s.json", doc(FAST, target.url, ["p95<5000"]))
    d = start_dashboard(cicada, "-f", "s.json", "--autostart", "-u", 2, "-r", 100,
                        "--threshold", "rps>=100000 abort=60", "--threshold",
                        "GET /nope:p50<1")
    # Evaluated before the first response, p95 has no samples yet ("error"): wait for one
    # evaluation after it (a loaded machine may take a while to answer the first).
    doc_ = d.wait_for(lambda x: len(x["thresholds"]) == 3 and
                      all(t["status"] for t in x["thresholds"]) and
                      x["thresholds"][0]["status"] != "error", 10 + SLACK,
                      "evaluated thresholds")
    p95, rps, nope = doc_["thresholds"]
    assert set(p95) == {"threshold", "request", "metric", "op", "limit", "unit",
                        "abort_on_fail", "aborted", "status", "value", "text"}
    assert (p95["threshold"], p95["request"], p95["metric"], p95["op"], p95["limit"],
            p95["unit"], p95["abort_on_fail"], p95["status"]) == \
        ("p95<5000", None, "p95", "<", 5000, "ms", False, "passed")
    assert 0 < p95["value"] < 5000
    assert (rps["metric"], rps["op"], rps["unit"], rps["abort_on_fail"], rps["aborted"],
            rps["status"]) == ("rps", ">=", "req/s", True, False, "failed")
    assert rps["text"].startswith("rps of all requests: ")
    assert (nope["request"], nope["status"], nope["value"]) == ("GET /nope", "error", None)
    assert nope["text"] == 'no samples: no request named "GET /nope"'
    page = d.get("/stats/report").text
    m = re.search(r"<script>window\.cicadaReport = (.*?);</script>", page, re.S)
    report = json.loads(m.group(1))
    assert [t["threshold"] for t in report["thresholds"]] == \
        ["p95<5000", "rps>=100000 abort=60", "GET /nope:p50<1"]
    assert 'id="report-thresholds"' in page
    assert 'id="thresholds-table"' in d.get("/").text
    result = d.stop_process()
    assert_clean_exit(result, codes=(EXIT_THRESHOLDS,))


def test_dashboard_without_thresholds(cicada, target):
    cicada.write("s.json", doc(FAST, target.url))
    d = start_dashboard(cicada, "-f", "s.json")
    assert d.stats()["thresholds"] == []
    assert_clean_exit(d.stop_process(), codes=(0,))


# ---- distributed -----------------------------------------------------------------------------

def start_master(c, *args):
    """A headless master on a free port of 127.0.0.1, once it listens."""
    for _ in range(3):
        port = free_port()
        p = c.start(*args, "--master", "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", port)
        end = time.monotonic() + SLACK
        while time.monotonic() < end and p.p.poll() is None:
            if f"Master listening for workers at tcp://127.0.0.1:{port}" in p.err_text():
                return p, port
            time.sleep(0.05)
        err = p.err_text()
        p.kill()
        if "Address already in use" not in err and "busy" not in err:
            pytest.fail(f"the master did not start:\n{err[-3000:]}")
    pytest.fail("no free port for the master")


def test_check_pass_rate_over_workers(cicada, target):
    """Two workers run the checks; the master's rate is over their merged reports."""
    cicada.write("s.json", doc(CHECKS, target.url))
    master, port = start_master(
        cicada, "-f", "s.json", "--headless", "--expect-workers", 2, "-u", 4, "-r", 100,
        "-t", 3, "--csv", "dist", "--exit-code-on-error", 0, "--junit", "dist.xml",
        "--threshold", "checks>=0.4", "--threshold", "checks<=0.6", "--threshold",
        "checks>=0.9")
    workers = [cicada.start("--worker", "--master-host", "127.0.0.1", "--master-port", port)
               for _ in range(2)]
    r = master.wait(3 + 2 * SLACK)
    for w in workers:
        w.wait(SLACK)
    assert r.rc == EXIT_THRESHOLDS, r
    v = verdicts(r.err)
    assert [(x[0], x[1]) for x in v] == [("passed", "checks>=0.4"), ("passed", "checks<=0.6"),
                                         ("FAILED", "checks>=0.9")]
    rate = float(re.search(r"checks held: ([\d.]+)%", v[0][2]).group(1)) / 100
    # every request runs one check; the /fail ones fail theirs
    rows = stats_rows(cicada.path("dist_stats.csv"))
    ok, fail = int(rows[("GET", "/ok")]["Request Count"]), \
        int(rows[("GET", "/fail")]["Request Count"])
    assert abs(rate - ok / (ok + fail)) < 0.0001, (rate, ok, fail)
    assert "reported as ready. 2 workers connected." in r.err
    root = ET.parse(cicada.path("dist.xml")).getroot()
    assert root.get("failures") == "1"
