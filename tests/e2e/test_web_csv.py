"""Web API: the CSV downloads and /tasks, side by side with real Locust 2.12 in web mode."""

import os
import re
import time

import pytest

from conftest import LOCUST, SLACK, assert_clean_exit, start_dashboard

pytestmark = pytest.mark.skipif(not os.access(LOCUST, os.X_OK), reason="needs Locust")

LOCUSTFILE = '''\
from locust import HttpUser, constant, task


class Reader(HttpUser):
    weight = 3
    wait_time = constant(0.5)

    @task(3)
    def browse(self):
        self.client.get("/ok")

    @task(1)
    def search(self):
        self.client.get("/fail")


class Writer(HttpUser):
    weight = 1
    wait_time = constant(0.5)

    @task(1)
    def post(self):
        self.client.post("/ok")

    @task(2)
    def edit(self):
        self.client.put("/ok")

    @task(1)
    def delete(self):
        self.client.delete("/ok")


class Admin(HttpUser):
    weight = 2
    wait_time = constant(0.5)

    @task
    def audit(self):
        self.client.get("/ok")

    @task
    def report(self):
        self.client.get("/ok")

    @task
    def purge(self):
        self.client.get("/ok")
'''

SCENARIO = {"users": [
    {"name": "Reader", "weight": 3, "wait_time": 0.5, "tasks": [
        {"name": "browse", "weight": 3, "request": "GET /ok"},
        {"name": "search", "weight": 1, "request": "GET /fail"}]},
    {"name": "Writer", "weight": 1, "wait_time": 0.5, "tasks": [
        {"name": "post", "weight": 1, "request": "POST /ok"},
        {"name": "edit", "weight": 2, "request": "PUT /ok"},
        {"name": "delete", "weight": 1, "request": "DELETE /ok"}]},
    {"name": "Admin", "weight": 2, "wait_time": 0.5, "tasks": [
        {"name": "audit", "request": "GET /ok"},
        {"name": "report", "request": "GET /ok"},
        {"name": "purge", "request": "GET /ok"}]}]}

NO_HISTORY = b"Error: Server was not started with option to generate full history."

DOWNLOADS = [("/stats/requests/csv", "requests"), ("/stats/failures/csv", "failures"),
             ("/exceptions/csv", "exceptions")]


@pytest.fixture(scope="module")
def dash(module_cicada, target_server):
    """Locust and cicada, 6 users each (3 Reader, 1 Writer, 2 Admin), both with
    --csv-full-history; and a cicada without it."""
    c = module_cicada
    c.write("locustfile.py", LOCUSTFILE)
    c.write("s.json", SCENARIO)
    common = ["-H", target_server.url, "--autostart", "-u", 6, "-r", 100]
    d = {
        "mine": start_dashboard(c, "-f", "s.json", *common, "--csv", "C",
                                "--csv-full-history"),
        "plain": start_dashboard(c, "-f", "s.json", *common),
        "locust": start_dashboard(c, "-f", "locustfile.py", *common, "--csv", "L",
                                  "--csv-full-history", exe=LOCUST, timeout=30 + SLACK),
    }
    for k in d:
        d[k].wait_for(lambda x: x["state"] == "running" and x["user_count"] == 6, SLACK,
                      f"{k} running")
    d["locust"].wait_for(lambda x: x["stats"][-1]["num_requests"] > 0, SLACK, "requests")
    # cicada's history file has rows (one block a second).
    end = time.monotonic() + SLACK
    while c.path("C_stats_history.csv").read_bytes().count(b"\n") < 3:
        assert time.monotonic() < end, "no rows in C_stats_history.csv"
        time.sleep(0.1)
    d["dir"] = c
    return d


def first_line(data):
    return data[:data.index(b"\n") + 1]


def assert_crlf(data, what):
    assert data.endswith(b"\r\n"), what
    assert data.count(b"\n") == data.count(b"\r\n"), what


def check_attachment(r, prefix, t0, t1):
    disp = r.headers["Content-Disposition"]
    m = re.fullmatch(rf"attachment;filename={prefix}_(\d+(?:\.\d+)?)\.csv", disp)
    assert m, disp
    assert t0 - 1 <= float(m.group(1)) <= t1 + 1, (disp, t0, t1)


@pytest.mark.parametrize("path, prefix", DOWNLOADS)
def test_csv_download_like_locust(dash, path, prefix):
    theirs = dash["locust"].get(path)
    t0 = time.time()
    ours = dash["mine"].get(path)
    t1 = time.time()
    assert theirs.status_code == 200 and ours.status_code == 200, ours.text
    assert ours.headers["Content-Type"] == "text/csv" == theirs.headers["Content-Type"]
    check_attachment(ours, prefix, t0, t1)
    check_attachment(theirs, prefix, t0 - 5, t1)
    assert first_line(ours.content) == first_line(theirs.content)
    assert_crlf(ours.content, path)
    assert_crlf(theirs.content, path)
    if prefix == "requests":
        lines = ours.content.split(b"\r\n")
        assert lines[-2].startswith(b",Aggregated,"), lines
        keys = [tuple(ln.split(b",")[:2]) for ln in lines[1:-2]]
        assert keys and keys == sorted(keys, key=lambda k: (k[1], k[0])), keys
    if prefix == "failures":
        assert b"GET,/fail," in ours.content or dash["mine"].stats()["errors"] == []


def test_full_history_download(dash):
    # Without --csv-full-history: Locust's 404 text.
    r = dash["plain"].get("/stats/requests_full_history/csv")
    assert r.status_code == 404
    assert r.content == NO_HISTORY
    # With it: the file's content, under Locust's header.
    theirs = dash["locust"].get("/stats/requests_full_history/csv")
    t0 = time.time()
    ours = dash["mine"].get("/stats/requests_full_history/csv")
    t1 = time.time()
    assert theirs.status_code == 200 and ours.status_code == 200, ours.text
    assert ours.headers["Content-Type"] == "text/csv"
    assert theirs.headers["Content-Type"].startswith("text/csv")
    check_attachment(ours, "requests_full_history", t0, t1)
    assert first_line(ours.content) == first_line(theirs.content)
    on_disk = dash["dir"].path("C_stats_history.csv").read_bytes()
    assert len(ours.content) > len(first_line(ours.content))      # rows too
    assert on_disk.startswith(ours.content)
    assert_crlf(ours.content, "full history")


def test_tasks_match_locust_while_running(dash):
    theirs = dash["locust"].get("/tasks").json()
    ours = dash["mine"].get("/tasks").json()
    assert ours == theirs
    assert ours["per_class"]["Reader"]["ratio"] == 0.5
    assert ours["total"]["Writer"]["tasks"]["edit"]["ratio"] == pytest.approx(1 / 6 * 0.5)


def test_dashboards_exit_cleanly(dash):
    for which in ("mine", "plain"):
        assert_clean_exit(dash[which].stop_process())
