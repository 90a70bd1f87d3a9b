"""Web API: starting, editing and stopping tests (POST /swarm, GET /stop, GET /stats/reset),
the answers of /swarm to bad forms, and the small informational endpoints."""

import json
import re
import time

import pytest

from conftest import SLACK, assert_clean_exit, start_dashboard

# Every request takes 300 ms, so right after a test starts nothing has been counted yet.
SLOW = {"users": [{"name": "U", "wait_time": 0, "tasks": [{"request": "GET /slow?ms=300"}]}]}

# The classes of test_info.py (task ratios are checked against --show-task-ratio-json).
CLASSES = {"users": [
    {"name": "Reader", "weight": 3, "wait_time": 1, "tasks": [
        {"name": "browse", "weight": 3, "request": "GET /ok"},
        {"name": "search", "weight": 1, "request": "GET /ok"}]},
    {"name": "Writer", "weight": 1, "wait_time": 1, "tasks": [
        {"name": "post", "weight": 1, "request": "POST /ok"},
        {"name": "edit", "weight": 2, "request": "PUT /ok"},
        {"name": "delete", "weight": 1, "request": "DELETE /ok"}]},
    {"name": "Admin", "weight": 2, "wait_time": 1, "tasks": [
        {"name": "audit", "request": "GET /ok"},
        {"name": "report", "request": "GET /ok"},
        {"name": "purge", "request": "GET /ok"}]}]}

# /ok and /fail, then 3 s in /slow: users spawned together are all inside /slow for a
# while after their first /fail, a quiet window for checking counters after a reset.
RESET = {"users": [{"name": "U", "wait_time": 0, "sequential": True, "tasks": [
    {"request": "GET /ok"}, {"request": "GET /fail"}, {"request": "GET /slow?ms=3000"}]}]}

# A capture that finds nothing is an exception (docs/scenario.md, Exceptions); /fail a
# failure. The task's name is markup and quotes: plain text in the JSON.
RAISES = {"users": [{"name": "U", "wait_time": 0.05, "tasks": [
    {"name": 'pick "<b>"', "steps": [
        {"request": {"url": "/echo", "capture": {"tok": "$.nothing"}}}]},
    {"request": "GET /fail"}]}]}
RAISES_MSG = 'capture "tok" found nothing'
RAISES_WHERE = re.compile(r's\.json:\d+:\d+ \(user class "U", task "pick "<b>"", step 1\)$')

MISSING = "Missing user_count or spawn_rate from /swarm request"
BAD_USERS = "user_count must be a whole number >= 0"
BAD_RATE = "spawn_rate must be a number > 0"
BAD_RUN_TIME = "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc."
BAD_HOST = 'host "{}" must be a base URL such as "http://127.0.0.1:8080"'


@pytest.fixture
def target(make_target):
    """A target of the test's own (overrides conftest's shared one): answers to requests
    that an earlier test's users left in flight cannot reach it."""
    return make_target()


def agg(doc):
    row = doc["stats"][-1]
    assert (row["method"], row["name"]) == ("", "Aggregated"), doc
    return row


def names(doc):
    return [(r["method"], r["name"]) for r in doc["stats"]]


@pytest.fixture(scope="module")
def idle(module_cicada, make_module_target):
    """A dashboard that is never started (tests here must leave it "ready")."""
    c = module_cicada
    t = make_module_target()
    c.write("classes.json", CLASSES)
    d = start_dashboard(c, "-f", "classes.json", "-H", t.url)
    d.target = t
    yield d


# ---- state transitions --------------------------------------------------------------------

def test_ready_spawning_running_stopped_and_new_test(cicada, target):
    cicada.write("s.json", SLOW)
    d = start_dashboard(cicada, "-f", "s.json", "-H", target.url)
    doc = d.stats()
    assert (doc["state"], doc["user_count"]) == ("ready", 0)
    assert names(doc) == [("", "Aggregated")]
    time.sleep(0.3)
    assert target.total() == 0          # web mode waits for /swarm

    t0 = time.monotonic()
    r = d.post("/swarm", data={"user_count": 5, "spawn_rate": 2})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"success": True, "message": "Swarming started", "host": target.url}
    doc = d.stats()
    assert doc["state"] == "spawning", doc
    assert doc["user_count"] < 5
    # A fresh test has no 10-second-old snapshot yet.
    assert doc["current_response_time_percentile_50"] is None
    assert doc["current_response_time_percentile_95"] is None
    assert doc["current_response_time_percentiles"] == {
        "response_time_percentile_0.5": None, "response_time_percentile_0.95": None}

    doc = d.wait_state("running", 3 + SLACK)
    assert time.monotonic() - t0 >= 1.5       # 5 users at 2 a second: the last at 2 s
    assert doc["user_count"] == 5
    doc = d.wait_for(lambda x: x["current_response_time_percentile_50"] is not None,
                     4 + SLACK, "a current percentile")
    for v in (doc["current_response_time_percentile_50"],
              doc["current_response_time_percentile_95"],
              *doc["current_response_time_percentiles"].values()):
        assert type(v) is int and 300 <= v < 2000, doc

    r = d.get("/stop")
    assert r.status_code == 200
    assert r.json() == {"success": True, "message": "Test stopped"}
    doc = d.wait_state("stopped")
    assert doc["user_count"] == 0
    before = agg(doc)["num_requests"]
    assert before > 0

    # From "stopped", /swarm starts a new test: statistics cleared (rows too, as Locust's
    # clear_all), nothing counted yet since every request takes 300 ms.
    r = d.post("/swarm", data={"user_count": 2, "spawn_rate": 10})
    assert r.status_code == 200, r.text
    doc = d.stats()
    assert doc["state"] in ("spawning", "running"), doc
    assert names(doc) == [("", "Aggregated")]
    assert agg(doc)["num_requests"] == 0
    doc = d.wait_for(lambda x: x["state"] == "running" and agg(x)["num_requests"] >= 4,
                     3 + SLACK, "requests of the second test")
    assert doc["user_count"] == 2

    # While running, /swarm edits the test: new user count, statistics kept.
    counted = agg(doc)["num_requests"]
    r = d.post("/swarm", data={"user_count": 4, "spawn_rate": 10})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Swarming started"
    doc = d.stats()
    assert agg(doc)["num_requests"] >= counted
    assert names(doc) == [("GET", "/slow?ms=300"), ("", "Aggregated")]
    doc = d.wait_for(lambda x: x["state"] == "running" and x["user_count"] == 4,
                     2 + SLACK, "4 users")
    assert agg(doc)["num_requests"] >= counted
    d.get("/stop")
    d.wait_state("stopped")

    # run_time: the test stops by itself; the process stays up.
    t0 = time.monotonic()
    r = d.post("/swarm", data={"user_count": 2, "spawn_rate": 10, "run_time": "2"})
    assert r.json() == {"success": True, "message": "Swarming started", "host": target.url,
                        "run_time": 2}
    assert d.stats()["state"] in ("spawning", "running")
    d.wait_state("stopped", 2 + SLACK)
    assert time.monotonic() - t0 >= 1.8
    time.sleep(0.3)
    assert d.proc.p.poll() is None
    assert d.get("/").status_code == 200
    assert "--run-time limit reached, stopping test" in d.proc.err_text()
    assert_clean_exit(d.stop_process(), codes=(0,))


def test_run_time_given_with_an_edit_stops_the_test(cicada, target):
    # Locust schedules a stop run_time seconds after any /swarm that carries one.
    cicada.write("s.json", SLOW)
    d = start_dashboard(cicada, "-f", "s.json", "-H", target.url, "--autostart", "-u", 1,
                        "-r", 10)
    d.wait_state("running")
    r = d.post("/swarm", data={"user_count": 2, "spawn_rate": 10, "run_time": "1s"})
    assert r.json()["run_time"] == 1
    d.wait_state("stopped", 1 + 1.5)


# ---- /swarm's answers to bad forms --------------------------------------------------------

@pytest.mark.parametrize("form, message", [
    ({}, MISSING),
    ({"user_count": 5}, MISSING),
    ({"spawn_rate": 1}, MISSING),
    ({"user_count": -1, "spawn_rate": 1}, BAD_USERS),
    ({"user_count": "abc", "spawn_rate": 1}, BAD_USERS),
    ({"user_count": "1.5", "spawn_rate": 1}, BAD_USERS),
    ({"user_count": "", "spawn_rate": 1}, BAD_USERS),
    ({"user_count": 1, "spawn_rate": 0}, BAD_RATE),
    ({"user_count": 1, "spawn_rate": -1}, BAD_RATE),
    ({"user_count": 1, "spawn_rate": "abc"}, BAD_RATE),
    ({"user_count": 1, "spawn_rate": 1, "run_time": "abc"}, BAD_RUN_TIME),
    ({"user_count": 1, "spawn_rate": 1, "run_time": "5x"}, BAD_RUN_TIME),
    ({"user_count": 1, "spawn_rate": 1, "host": "notaurl"}, BAD_HOST.format("notaurl")),
    ({"user_count": 1, "spawn_rate": 1, "host": "ftp://x"}, BAD_HOST.format("ftp://x")),
], ids=lambda v: json.dumps(v) if isinstance(v, dict) else "")
def test_swarm_rejects_bad_forms(idle, form, message):
    r = idle.post("/swarm", data=form)
    assert r.status_code == 400, r.text
    assert r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert doc["success"] is False
    assert doc["message"] == message
    assert set(doc) <= {"success", "message", "host"}
    if message == BAD_RUN_TIME or "host" in form:
        assert doc["host"] == idle.target.url      # as Locust's answer; the host unchanged


def test_swarm_refuses_multipart_and_get(idle):
    r = idle.post("/swarm", files={"user_count": (None, "1"), "spawn_rate": (None, "1")})
    assert r.request.headers["Content-Type"].startswith("multipart/form-data")
    assert r.status_code == 415, r.text
    assert r.json()["success"] is False
    r = idle.get("/swarm")
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"success": False, "message": "Method Not Allowed"}
    r = idle.get("/no/such/path")
    assert r.status_code == 404
    assert r.json() == {"success": False, "message": "not found"}


def test_oversized_body_gets_a_documented_error(idle):
    r = idle.post("/swarm", data={"user_count": 1, "spawn_rate": 1, "pad": "x" * (1 << 20)})
    assert r.status_code == 413
    assert r.json()["success"] is False and r.json()["message"]
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cache-Control"] == "no-store"


def test_bad_forms_started_nothing(idle):
    time.sleep(0.3)
    doc = idle.stats()
    assert (doc["state"], doc["user_count"]) == ("ready", 0)
    assert idle.target.total() == 0


def test_swarm_strips_angle_brackets_from_host(cicada, target):
    cicada.write("s.json", SLOW)
    d = start_dashboard(cicada, "-f", "s.json", "-H", "http://127.0.0.1:1")
    r = d.post("/swarm", data={"user_count": 1, "spawn_rate": 10, "run_time": "5m",
                               "host": f"<{target.url}>"})
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "message": "Swarming started", "host": target.url,
                        "run_time": 300}
    # The test runs against the host without the brackets.
    d.wait_for(lambda x: agg(x)["num_requests"] >= 1, 2 + SLACK, "a request")
    assert agg(d.stats())["num_failures"] == 0
    assert target.count("GET", "/slow") >= 1
    # An empty host keeps the current one.
    d.get("/stop")
    d.wait_state("stopped")
    r = d.post("/swarm", data={"user_count": 1, "spawn_rate": 10, "host": ""})
    assert r.json()["host"] == target.url
    d.get("/stop")


# ---- /stop, /stats/reset ------------------------------------------------------------------

def test_stop_when_nothing_runs(idle):
    r = idle.get("/stop")
    assert r.status_code == 200
    assert r.json() == {"success": True, "message": "Test stopped"}
    assert idle.stats()["state"] == "ready"


def test_reset_zeroes_counters_while_the_test_runs(cicada, target):
    cicada.write("s.json", RESET)
    d = start_dashboard(cicada, "-f", "s.json", "-H", target.url, "--autostart", "-u", 2,
                        "-r", 100)
    # Both users have had their /fail answered and now wait 3 s in /slow.
    d.wait_for(lambda x: any(r["name"] == "/fail" and r["num_requests"] == 2
                             for r in x["stats"]), 2 + SLACK, "2 counted /fail")
    quiet_until = min(r.t_end for r in target.requests("GET", "/fail")) + 3.0
    assert target.count("GET", "/slow") == 0
    doc = d.stats()
    assert doc["errors"] and agg(doc)["num_failures"] == 2

    r = d.get("/stats/reset")
    assert r.status_code == 200
    assert r.text == "ok"
    doc = d.stats()
    hist = d.get("/stats/history").json()
    assert time.monotonic() < quiet_until, "the quiet window passed: checks not valid"
    assert names(doc) == [("GET", "/fail"), ("GET", "/ok"), ("", "Aggregated")]
    for row in doc["stats"]:
        assert (row["num_requests"], row["num_failures"]) == (0, 0), row
        assert row["avg_response_time"] == 0.0 and row["max_response_time"] == 0
    assert doc["errors"] == []
    assert doc["fail_ratio"] == 0.0
    assert doc["state"] == "running" and doc["user_count"] == 2
    assert len(hist["points"]) <= 1               # the chart history was emptied
    assert d.get("/exceptions").json() == {"exceptions": []}

    # The test goes on counting.
    doc = d.wait_for(lambda x: any(r["name"] == "/slow?ms=3000" and r["num_requests"] == 2
                                   for r in x["stats"]), 3 + SLACK, "the /slow answers")
    assert doc["state"] == "running"
    assert_clean_exit(d.stop_process())


def test_exceptions_their_csv_and_reset(cicada, target):
    cicada.write("s.json", RAISES)
    d = start_dashboard(cicada, "-f", "s.json", "-H", target.url, "--autostart", "-u", 2,
                        "-r", 100)
    end = time.monotonic() + 2 + SLACK
    while True:
        r = d.get("/exceptions")
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
        doc = r.json()
        if doc["exceptions"] and doc["exceptions"][0]["count"] >= 10:
            break
        assert time.monotonic() < end, doc
        time.sleep(0.1)
    [e] = doc["exceptions"]
    assert set(e) == {"count", "msg", "traceback", "nodes"}
    assert type(e["count"]) is int
    assert (e["msg"], e["nodes"]) == (RAISES_MSG, "local")
    assert RAISES_WHERE.match(e["traceback"]), e

    r = d.get("/exceptions/csv")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].startswith("attachment;filename=exceptions_")
    lines = r.content.split(b"\r\n")
    assert lines[0] == b"Count,Message,Traceback,Nodes"
    assert lines[1:] == [b'%d,"capture ""tok"" found nothing","%s",local'
                         % (int(lines[1].split(b",")[0]),
                            e["traceback"].replace('"', '""').encode()), b""], lines
    assert int(lines[1].split(b",")[0]) >= e["count"]
    failed = d.stats()["errors"][0]["occurrences"]
    assert failed >= 5

    # A reset empties exceptions and failures; the counting goes on from zero.
    assert d.get("/stats/reset").text == "ok"
    after = d.get("/exceptions").json()["exceptions"]
    assert sum(x["count"] for x in after) < e["count"], after
    assert sum(x["occurrences"] for x in d.stats()["errors"]) < failed
    assert_clean_exit(d.stop_process())


def test_autoquit_waits_its_seconds_after_the_test(cicada, target):
    """--autoquit N: the dashboard stays up N seconds after the test ends, then exits."""
    cicada.write("s.json", SLOW)
    d = start_dashboard(cicada, "-f", "s.json", "-H", target.url, "--autostart", "-u", 1,
                        "-r", 10, "-t", "1s", "--autoquit", 2)
    d.wait_state("stopped", 1 + SLACK)
    time.sleep(1.0)
    assert d.proc.p.poll() is None, d.proc.err_text()
    assert d.stats()["state"] == "stopped"              # still answering
    r = d.proc.wait(2 + SLACK)
    assert r.rc == 0, r
    assert r.elapsed >= 1 + 2, r.elapsed                # -t, then --autoquit
    assert "Test stopped: quitting in 2 seconds (--autoquit)" in r.err


# ---- informational endpoints ----------------------------------------------------------------

def test_exceptions_worker_count_logs(idle):
    r = idle.get("/exceptions")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json() == {"exceptions": []}
    assert idle.get("/worker-count").json() == {"worker_count": 0}
    doc = idle.get("/logs").json()
    assert set(doc) == {"master", "workers"}
    assert doc["workers"] == {}
    assert all(isinstance(x, str) for x in doc["master"])
    line = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] [^/\s]+/INFO/cicada\.web: "
                      rf"Starting web interface at http://127\.0\.0\.1:{idle.port}$")
    assert any(line.match(x) for x in doc["master"]), doc
    assert any(re.search(r"/INFO/cicada\.main: Starting cicada \S+$", x)
               for x in doc["master"]), doc


def test_tasks_before_a_test_follow_the_planned_distribution(idle, module_cicada):
    expected = module_cicada.run("-f", "classes.json", "--show-task-ratio-json")
    assert expected.rc == 0, expected
    r = idle.get("/tasks")
    assert r.status_code == 200
    doc = r.json()
    assert doc == json.loads(expected.out)
    assert set(doc) == {"per_class", "total"}
    assert doc["per_class"]["Reader"] == {"ratio": 0.5, "tasks": {
        "browse": {"ratio": 0.75}, "search": {"ratio": 0.25}}}
    assert doc["total"]["Writer"]["tasks"]["edit"] == {"ratio": 1 / 6 * 0.5}


def test_common_headers(idle):
    for path in ("/stats/requests", "/", "/tasks", "/metrics", "/stats/requests/csv",
                 "/no/such/path"):
        r = idle.get(path)
        assert r.headers["Access-Control-Allow-Origin"] == "*", path
        assert r.headers["Cache-Control"] == "no-store", path


def test_static_files_carry_the_common_headers(idle):
    # docs/api.md: static files are revalidated (no-cache), API answers never stored.
    r = idle.get("/static/app.js")
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cache-Control"] == "no-cache"


def test_idle_dashboard_exits_cleanly(idle):
    assert idle.stats()["state"] == "ready"
    assert_clean_exit(idle.stop_process(), codes=(0,))
