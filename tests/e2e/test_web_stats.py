"""Web API: /stats/requests (keys, types, order, errors, the 500-row cap), /stats/history
and /metrics, on tests started with --autostart."""

import html
import json
import math
import re
import time

import pytest

from conftest import SLACK, assert_clean_exit, start_dashboard

QUOTE_NAME = 'q"uote\\back'
XSS_NAME = "<img src=x onerror=alert(1)>"
AMP_NAME = "a<b>&c"

RICH = {"users": [{"name": "U", "wait_time": 0.05, "tasks": [
    {"request": "GET /ok"},
    {"request": "POST /ok"},
    {"request": "GET /fail"},
    {"request": {"url": "/ok", "name": AMP_NAME}},
    {"request": {"url": "/ok", "name": XSS_NAME}},
    {"request": {"url": "/ok", "name": QUOTE_NAME}}]}]}

# (method, name) as /stats/requests sorts them: by name, then method; Aggregated last.
ORDER = [("GET", "/fail"), ("GET", "/ok"), ("POST", "/ok"), ("GET", XSS_NAME),
         ("GET", AMP_NAME), ("GET", QUOTE_NAME), ("", "Aggregated")]

# One user runs the 600 tasks in order: after 600 requests every name has been seen.
MANY = {"users": [{"name": "U", "wait_time": 0, "sequential": True, "tasks": [
    {"request": f"GET /ok?n={i:03d}"} for i in range(600)]}]}

ROW_INTS = ["num_requests", "num_failures", "min_response_time", "max_response_time",
            "median_response_time", "ninetieth_response_time", "ninety_ninth_response_time",
            "response_time_percentile_0.95", "response_time_percentile_0.99"]
ROW_FLOATS = ["avg_response_time", "current_rps", "current_fail_per_sec", "total_rps",
              "total_fail_per_sec", "avg_content_length"]
TOP_FLOATS = ["current_rps", "current_fail_per_sec", "total_rps", "total_fail_per_sec",
              "fail_ratio", "total_avg_response_time"]
TOP_KEYS = {"stats", "errors", *TOP_FLOATS, "current_response_time_percentile_50",
            "current_response_time_percentile_95", "current_response_time_percentiles",
            "state", "user_count", "worker_count", "thresholds", "generator"}

HISTORY_COLUMNS = ["time", "user_count", "current_rps", "current_fail_per_sec",
                   "response_time_percentile_0.5", "response_time_percentile_0.95",
                   "avg_response_time"]


@pytest.fixture(scope="module")
def dash(module_cicada, make_module_target):
    """live: runs until the module ends; done: ran 2 s (-t) and stopped, the process up;
    many: 600 names."""
    c = module_cicada
    c.write("rich.json", RICH)
    c.write("many.json", MANY)
    t_live, t_done, t_many = make_module_target(), make_module_target(), make_module_target()
    d = {
        "live": start_dashboard(c, "-f", "rich.json", "-H", t_live.url, "--autostart",
                                "-u", 3, "-r", 100),
        "done": start_dashboard(c, "-f", "rich.json", "-H", t_done.url, "--autostart",
                                "-u", 3, "-r", 100, "-t", "2s"),
        "many": start_dashboard(c, "-f", "many.json", "-H", t_many.url, "--autostart",
                                "-u", 1, "-r", 1, "-t", "10s"),
    }
    d["live"].target, d["done"].target = t_live, t_done
    return d


def key(row):
    return (row["method"], row["name"])


def check_row_types(row):
    expected = {"method", "name", "safe_name", *ROW_INTS, *ROW_FLOATS, "timings"}
    assert set(row) == expected, set(row) ^ expected
    # cicada's own; test_timings.py checks what it holds.
    assert row["timings"] is None or isinstance(row["timings"], dict), row
    assert isinstance(row["method"], str) and isinstance(row["name"], str)
    for k in ROW_INTS:
        assert type(row[k]) is int, (k, row)
    for k in ROW_FLOATS:
        assert type(row[k]) is float, (k, row)


def test_rows_keys_types_and_order(dash):
    d = dash["live"]
    # current_rps averages whole seconds up to two seconds ago (Locust's window).
    doc = d.wait_for(lambda x: len(x["stats"]) == len(ORDER) and x["current_rps"] > 0
                     and x["current_response_time_percentile_95"] is not None,
                     4 + SLACK, "every row, a current rate and a current percentile")
    assert set(doc) == TOP_KEYS, set(doc) ^ TOP_KEYS       # no "workers": not a master
    assert [key(r) for r in doc["stats"]] == ORDER
    for row in doc["stats"]:
        check_row_types(row)
        assert row["safe_name"] == html.escape(row["name"], quote=False)
        assert (row["min_response_time"] <= row["median_response_time"]
                <= row["ninetieth_response_time"] <= row["response_time_percentile_0.95"]
                <= row["response_time_percentile_0.99"] <= row["max_response_time"]), row
        assert row["ninety_ninth_response_time"] == row["response_time_percentile_0.99"]
        assert row["num_requests"] > 0
        if row["name"] not in ("/fail", "Aggregated"):
            assert row["avg_content_length"] == 15.0          # target.OK_BODY
    by_key = {key(r): r for r in doc["stats"]}
    assert by_key[("GET", AMP_NAME)]["safe_name"] == "a&lt;b&gt;&amp;c"
    assert by_key[("GET", XSS_NAME)]["safe_name"] == "&lt;img src=x onerror=alert(1)&gt;"
    total = by_key[("", "Aggregated")]
    assert total["num_requests"] == sum(r["num_requests"] for r in doc["stats"][:-1])
    assert total["num_failures"] == by_key[("GET", "/fail")]["num_failures"]
    assert total["num_failures"] == by_key[("GET", "/fail")]["num_requests"]

    for k in TOP_FLOATS:
        assert type(doc[k]) is float, (k, doc[k])
    assert doc["fail_ratio"] == pytest.approx(total["num_failures"] / total["num_requests"])
    assert doc["total_avg_response_time"] == pytest.approx(total["avg_response_time"], abs=1e-6)
    # Rows carry six decimals (a fast form for big tables), the top level is exact.
    assert doc["total_rps"] == pytest.approx(total["total_rps"], abs=1e-6)
    assert doc["current_rps"] == pytest.approx(total["current_rps"], abs=1e-6)
    assert doc["current_rps"] > 0
    p50, p95 = (doc["current_response_time_percentile_50"],
                doc["current_response_time_percentile_95"])
    assert type(p50) is int and type(p95) is int and p50 <= p95
    assert doc["current_response_time_percentiles"] == {
        "response_time_percentile_0.5": p50, "response_time_percentile_0.95": p95}
    assert (doc["state"], doc["user_count"], doc["worker_count"]) == ("running", 3, 0)
    # A light closed-model run: measured, and not limited by the generator.
    gen = doc["generator"]
    assert set(gen) == {"cpu_percent", "cpu_percent_peak", "loop_lag_ms", "loop_lag_ms_peak",
                        "iterations", "iterations_late", "iterations_dropped", "limited",
                        "reason"}
    assert 0 <= gen["cpu_percent"] <= gen["cpu_percent_peak"]
    assert (gen["iterations"], gen["iterations_late"], gen["iterations_dropped"]) == (0, 0, 0)
    assert (gen["limited"], gen["reason"]) == (False, None)

    # The failing endpoint's error, in Locust's wording, counted once per failure.
    assert doc["errors"] == [{
        "method": "GET", "name": "/fail",
        "error": "HTTPError('500 Server Error: Internal Server Error for url: "
                 f"{d.target.url}/fail')",
        "occurrences": by_key[("GET", "/fail")]["num_failures"]}]


def report_data(d):
    page = d.get("/stats/report").text
    m = re.search(r"<script>window\.cicadaReport = (.*?);</script>", page, re.S)
    assert m, page[:2000]
    return json.loads(m.group(1))


def test_total_rps_is_the_whole_test_average(dash):
    d = dash["done"]
    t_start = d.proc.t0
    doc = d.wait_state("stopped", 2 + SLACK)
    time.sleep(0.2)
    doc = d.stats()
    rep = report_data(d)
    total = doc["stats"][-1]
    assert rep["stats"][-1]["num_requests"] == total["num_requests"] > 20
    span = rep["end_time"] - rep["start_time"]      # first to last request
    assert 1.5 <= span <= 2.5, rep
    assert time.time() - (time.monotonic() - t_start) - 0.1 <= rep["start_time"]
    for row in doc["stats"]:
        assert row["total_rps"] == pytest.approx(row["num_requests"] / span, abs=1e-6)
        assert row["total_fail_per_sec"] == pytest.approx(row["num_failures"] / span,
                                                          abs=1e-6)
    assert doc["total_rps"] == pytest.approx(total["num_requests"] / span, abs=1e-6)
    assert doc["total_fail_per_sec"] == pytest.approx(total["num_failures"] / span, abs=1e-6)
    assert (doc["state"], doc["user_count"]) == ("stopped", 0)


def test_answers_stay_at_most_a_second_old_while_polled(dash):
    """The answer is cached for a second and, while someone polls, rebuilt every second
    ahead of the next poll: however the polls fall, none may return numbers older than
    about a second (a refresh that stopped, or never replaced the cache, would)."""
    d = dash["live"]
    seen = []
    end = time.monotonic() + 4.5
    while time.monotonic() < end:
        doc = d.get("/stats/requests").json()
        seen.append((time.monotonic(), doc["stats"][-1]["num_requests"]))
        time.sleep(0.35)
    for i, (t0, n0) in enumerate(seen):
        for t1, n1 in seen[i + 1:]:
            assert n1 >= n0, seen
            if t1 - t0 >= 1.4:
                assert n1 > n0, (t0, t1, seen)


def test_at_most_500_rows_plus_aggregated(dash):
    d = dash["many"]
    doc = d.wait_for(lambda x: x["stats"][-1]["num_requests"] >= 600, 10 + SLACK,
                     "600 requests")
    rows = doc["stats"]
    assert len(rows) == 501
    assert [r["name"] for r in rows[:-1]] == [f"/ok?n={i:03d}" for i in range(500)]
    assert key(rows[-1]) == ("", "Aggregated")
    assert rows[-1]["num_requests"] >= 600
    assert rows[-1]["num_requests"] > sum(r["num_requests"] for r in rows[:-1])
    # The CSV download has every row.
    lines = d.get("/stats/requests/csv").text.splitlines()
    assert len(lines) == 1 + 600 + 1
    assert lines[-1].startswith(',Aggregated,')


def test_history(dash):
    d = dash["live"]
    r = d.get("/stats/history")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    h1 = r.json()
    assert set(h1) == {"interval", "columns", "points", "names", "series"}
    assert h1["interval"] == 1
    assert h1["columns"] == HISTORY_COLUMNS
    time.sleep(2.2)
    h2 = d.get("/stats/history").json()
    n1, n2 = len(h1["points"]), len(h2["points"])
    assert n1 >= 1 and 1 <= n2 - n1 <= 3, (n1, n2)
    times = [p[0] for p in h2["points"]]
    assert all(b - a == 1 for a, b in zip(times, times[1:])), times
    assert abs(times[-1] - time.time()) <= 2
    for p in h2["points"]:
        assert len(p) == len(HISTORY_COLUMNS)
        assert type(p[0]) is int and type(p[1]) is int
        assert p[4] is None or isinstance(p[4], (int, float))
    assert h2["points"][-1][1] == 3
    assert h2["points"][-1][2] > 0                 # current_rps
    assert sorted(h2["names"]) == sorted(f"{m} {n}" for m, n in ORDER[:-1])
    assert len(h2["series"]) == len(h2["names"])
    assert all(len(s) == n2 for s in h2["series"])
    assert all(v is None or type(v) is float or type(v) is int for s in h2["series"] for v in s)

    since = times[-2]
    h3 = d.get("/stats/history", params={"since": since}).json()
    assert h3["points"] and all(p[0] > since for p in h3["points"])
    assert h3["points"][0] == h2["points"][-1]
    assert all(len(s) == len(h3["points"]) for s in h3["series"])
    h4 = d.get("/stats/history", params={"since": time.time() + 3600}).json()
    assert h4["points"] == [] and h4["columns"] == HISTORY_COLUMNS

    for bad in ("abc", "1x", "nan"):
        r = d.get("/stats/history", params={"since": bad})
        assert r.status_code == 400, bad
        assert r.json()["success"] is False


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\\n]|\\.)*)"(,|$)')


def parse_metrics(text):
    """{(name, ((label, value), ...)): float} and {name: type}, checking the syntax."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            types[name] = typ
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        labels = []
        if m.group(2) is not None:
            rest = m.group(2)
            while rest:
                lm = LABEL.match(rest)
                assert lm, line
                value = re.sub(r'\\(.)', lambda x: {"n": "\n"}.get(x.group(1), x.group(1)),
                               lm.group(2))
                labels.append((lm.group(1), value))
                rest = rest[lm.end():]
        base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        assert base in types or m.group(1) in types, f"no # TYPE before {line}"
        samples[(m.group(1), tuple(labels))] = float(m.group(3))
    return samples, types


def test_metrics_while_running(dash):
    d = dash["live"]
    r = d.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.text
    samples, types = parse_metrics(text)
    assert samples[("cicada_users", ())] == 3
    assert samples[("cicada_state", (("state", "running"),))] == 1
    states = [k for k in samples if k[0] == "cicada_state"]
    assert sum(samples[k] for k in states) == 1
    for name in ("cicada_current_rps", "cicada_current_fail_per_sec"):
        assert types[name] == "gauge" and (name, ()) in samples
    assert samples[("cicada_current_rps", ())] > 0
    assert types["cicada_exceptions_total"] == "counter"
    assert samples[("cicada_exceptions_total", ())] == 0
    assert types["cicada_requests_total"] == "counter"
    assert types["cicada_response_time_seconds"] == "histogram"
    # Label values escape the double quote and the backslash.
    assert 'cicada_requests_total{method="GET",name="q\\"uote\\\\back"} ' in text
    assert ("cicada_requests_total", (("method", "GET"), ("name", QUOTE_NAME))) in samples
    assert ("cicada_requests_total", (("method", "GET"), ("name", XSS_NAME))) in samples


def test_metrics_agree_with_stats(dash):
    d = dash["done"]
    d.wait_state("stopped", 2 + SLACK)
    time.sleep(0.2)
    doc = d.stats()
    samples, _ = parse_metrics(d.get("/metrics").text)
    assert samples[("cicada_users", ())] == 0
    assert samples[("cicada_state", (("state", "stopped"),))] == 1
    rows = doc["stats"][:-1]
    series = {k for k in samples if k[0] == "cicada_requests_total"}
    assert series == {("cicada_requests_total", (("method", r["method"]), ("name", r["name"])))
                      for r in rows}
    for row in rows:
        lab = (("method", row["method"]), ("name", row["name"]))
        assert samples[("cicada_requests_total", lab)] == row["num_requests"], row
        assert samples[("cicada_failures_total", lab)] == row["num_failures"], row
        assert samples[("cicada_response_bytes_total", lab)] == \
            round(row["avg_content_length"] * row["num_requests"]), row
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items()
                          if k[0] == "cicada_response_time_seconds_bucket"
                          and k[1][:2] == lab), key=lambda b: b[0])
        assert len(buckets) >= 10
        assert buckets[-1][0] == math.inf
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), buckets           # cumulative
        count = samples[("cicada_response_time_seconds_count", lab)]
        assert buckets[-1][1] == count == row["num_requests"]
        total_s = samples[("cicada_response_time_seconds_sum", lab)]
        assert total_s == pytest.approx(row["avg_response_time"] * count / 1000, abs=1e-5)
        # The maximum lies in the first bucket that holds every request.
        first_full = next(le for le, v in buckets if v == count)
        assert row["max_response_time"] / 1000 <= first_full * 1.01 + 0.0005


def test_dashboards_exit_cleanly(dash):
    for which, codes in (("live", (1,)), ("done", (1,)), ("many", (0,))):
        assert_clean_exit(dash[which].stop_process(), codes)
