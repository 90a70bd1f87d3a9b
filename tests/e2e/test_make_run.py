"""The newcomer's path, through the README's command: `make run` serves the dashboard on the
demo scenario against the built-in demo target; Start (the page's form) makes numbers and
chart points; Ctrl-C ends both processes with the summary and the CSV files.

It runs `make run` in this checkout (with free ports), so it uses the checkout's ./cicada
(built by `make all` inside the recipe: up to date under `make test`) and overwrites
build/demo_*.csv, as a `make run` by hand does.
"""

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import REPO, SLACK, free_port, stats_rows

# `make all` inside the recipe rebuilds a stale ./cicada: on this 2-core machine a full
# build takes about a minute.
START_TIMEOUT = 180 + SLACK


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def make_run(tmp_path):
    demo_port, web_port = free_port(), free_port()
    # Not the caller's make settings (`make SAN=1 asan-test` passes SAN=1 down through
    # MAKEFLAGS), nor its locust.conf or LOCUST_* variables.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LOCUST_", "MAKE", "MFLAGS"))}
    env["HOME"] = str(tmp_path)
    out, err = open(tmp_path / "make.stdout", "wb"), open(tmp_path / "make.stderr", "wb")
    # Its own session: Ctrl-C in a terminal signals the whole foreground process group.
    p = subprocess.Popen(["make", "--no-print-directory", "run", f"DEMO_PORT={demo_port}",
                          f"WEB_PORT={web_port}"], cwd=REPO, env=env, stdout=out,
                         stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    p.demo_port, p.web_port = demo_port, web_port
    p.texts = lambda: ((tmp_path / "make.stdout").read_text(errors="replace"),
                       (tmp_path / "make.stderr").read_text(errors="replace"))
    yield p
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)
    out.close()
    err.close()


def test_make_run_serves_the_demo_dashboard(make_run):
    p = make_run
    base = f"http://localhost:{p.web_port}"      # what the README says to open
    end = time.monotonic() + START_TIMEOUT
    while not listening(p.web_port):
        assert p.poll() is None, p.texts()
        assert time.monotonic() < end, p.texts()
        time.sleep(0.2)
    out, _ = p.texts()
    assert f"Open http://localhost:{p.web_port} and press Start" in out

    # The page, its assets (offline: compiled in), and the form's values.
    page = requests.get(base + "/", timeout=10)
    assert page.status_code == 200, page.text
    for src in re.findall(r'<script src="\./([^"]+)"', page.text):
        assert requests.get(f"{base}/{src}", timeout=10).status_code == 200, src
    data = json.loads(re.search(r"window\.cicada = (.*?);</script>", page.text).group(1))
    demo = f"http://127.0.0.1:{p.demo_port}"
    assert (data["state"], data["host"], data["num_users"], data["spawn_rate"]) == \
        ("ready", demo, 50, 10.0)
    assert data["locustfile"] == "examples/demo.json"

    # Start: what the New test form sends with its proposed values.
    r = requests.post(base + "/swarm", timeout=10, data={
        "user_count": data["num_users"], "spawn_rate": data["spawn_rate"],
        "host": data["host"], "run_time": ""})
    assert r.status_code == 200 and r.json()["success"] is True, r.text

    # Numbers and chart points.
    end = time.monotonic() + 10 + SLACK
    while True:
        doc = requests.get(base + "/stats/requests", timeout=10).json()
        hist = requests.get(base + "/stats/history", timeout=10).json()
        if (doc["state"] == "running" and doc["stats"][-1]["num_requests"] > 0
                and len(hist["points"]) >= 3 and hist["names"]):
            break
        assert time.monotonic() < end, (doc, hist)
        time.sleep(0.2)
    assert requests.get(f"{demo}/__demo/stats", timeout=10).json()["requests"] > 0

    # Ctrl-C: both processes end; the summary is printed, the CSV files are written.
    os.killpg(p.pid, signal.SIGINT)
    try:
        p.wait(SLACK)
    except subprocess.TimeoutExpired:
        pytest.fail(f"make run still running after Ctrl-C: {p.texts()}")
    _, err = p.texts()
    assert "Response time percentiles (approximated)" in err, err
    # The target was ended after the test, not by the Ctrl-C (it has a session of its
    # own), so the Buyers' on_stop logouts reached it.
    assert err.index("Demo target stopping after") > err.index("Shutting down"), err
    assert "POST /api/logout:" not in err, err          # no failed logout in the Error report
    assert not listening(p.web_port) and not listening(p.demo_port)
    rows = stats_rows(REPO / "build" / "demo_stats.csv")
    assert int(rows[("", "Aggregated")]["Request Count"]) >= doc["stats"][-1]["num_requests"]
    logouts = rows.get(("POST", "/api/logout"))
    assert logouts and logouts["Failure Count"] == "0", rows
