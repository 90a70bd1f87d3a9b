"""The built-in demo target driven by examples/demo.json."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import REPO, SLACK, free_port, read_csv, stats_rows

USERS = 40       # 30 Browsers and 10 Buyers (weights 3:1)
STALE = "HTTPError('404 Client Error: Not Found for url: /api/products/[id]')"


def wait_listening(port, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.p.poll() is None, proc.err_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"demo target not listening on {port}: {proc.err_text()}")


def demo_stats(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__demo/stats", timeout=5) as r:
        return json.loads(r.read())


def test_demo_run(cicada):
    port = free_port()
    demo = cicada.start("--demo-target", f"127.0.0.1:{port}")
    wait_listening(port, demo)
    assert demo_stats(port)["requests"] == 0
    r = cicada.run("-f", REPO / "examples" / "demo.json", "--host", f"http://127.0.0.1:{port}",
                   "--headless", "-u", USERS, "-r", USERS, "-t", "3s", "--csv", "X",
                   timeout=3 + SLACK)
    # The stale link's 404s (and the shop's rare 5xx) are failures.
    assert r.rc == 1, r
    assert 'All users spawned: {"Browser": 30, "Buyer": 10} (40 total users)' in r.err

    seen = demo_stats(port)
    rows = stats_rows(cicada.path("X_stats.csv"))
    counted = int(rows[("", "Aggregated")]["Request Count"])
    assert counted > USERS
    assert 0 <= seen["requests"] - counted <= USERS, (seen, counted)

    # The stale link: GET /api/products/999 named "/api/products/[id]".
    failures = read_csv(cicada.path("X_failures.csv"))
    assert failures[0] == ["Method", "Name", "Error", "Occurrences"]
    stale = [f for f in failures[1:] if f[:3] == ["GET", "/api/products/[id]", STALE]]
    assert len(stale) == 1, failures
    assert int(stale[0][3]) > 0

    # Every Buyer logged in once and its on_stop logged it out.
    assert rows[("POST", "/api/login")]["Request Count"] == "10"
    assert rows[("POST", "/api/logout")]["Request Count"] == "10"
    assert rows[("POST", "/api/logout")]["Failure Count"] == "0"
    assert seen["by_route"]["POST /api/login"] == 10
    assert seen["by_route"]["POST /api/logout"] == 10

    demo.signal(signal.SIGTERM)
    d = demo.wait(SLACK)
    assert d.rc == 0, d
    assert f"Demo target stopping after {seen['requests']} requests" in d.err


def test_make_run(tmp_path):
    """The README's `make run`: the demo target and the dashboard; Start from the dashboard,
    then Ctrl-C (SIGINT to the terminal's process group) ends both. The test stops first,
    so the Buyers' on_stop logouts still reach the target, and the CSV files are written."""
    demo_port, web_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAKE") and k not in ("MFLAGS", "SAN", "FUZZ")}
    p = subprocess.Popen(["make", "run", f"DEMO_PORT={demo_port}", f"WEB_PORT={web_port}"],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True, env=env)
    try:
        base = f"http://127.0.0.1:{web_port}"
        end = time.monotonic() + 300           # `make all` may have to build first
        while True:
            assert p.poll() is None, p.communicate()
            try:
                urllib.request.urlopen(base + "/", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < end, "the dashboard did not come up"
                time.sleep(0.2)
        req = urllib.request.Request(base + "/swarm", data=b"user_count=8&spawn_rate=8")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read())["success"] is True
        end = time.monotonic() + 10 + SLACK
        while demo_stats(demo_port)["by_route"].get("POST /api/cart", 0) < 2:
            assert time.monotonic() < end, demo_stats(demo_port)
            time.sleep(0.2)
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=SLACK)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    err = err.decode()
    assert "Response time percentiles (approximated)" in err, err
    assert "POST /api/logout:" not in err, err         # no failed logout in the Error report
    # The target was ended after the test, not by the Ctrl-C.
    assert err.index("Demo target stopping after") > err.index("Shutting down"), err
    rows = stats_rows(REPO / "build" / "demo_stats.csv")
    logins = rows[("POST", "/api/login")]
    assert int(logins["Request Count"]) == 2            # 8 users: 6 Browsers, 2 Buyers
    assert rows[("POST", "/api/logout")]["Request Count"] == "2"
    assert rows[("POST", "/api/logout")]["Failure Count"] == "0"
    for port in (demo_port, web_port):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


@pytest.fixture(scope="module")
def demo_target(module_cicada):
    port = free_port()
    demo = module_cicada.start("--demo-target", f"127.0.0.1:{port}")
    wait_listening(port, demo)
    yield port
    demo.signal(signal.SIGTERM)
    demo.wait(SLACK)


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "examples").glob("*.json")))
def test_example_runs_against_the_demo_target(cicada, demo_target, name):
    """Every scenario in examples/ runs as it is against the demo target (2 s of it) and
    fails only where it means to: demo.json's stale link (404) and the shop's rare 503s."""
    r = cicada.run("-f", REPO / "examples" / name, "-H", f"http://127.0.0.1:{demo_target}",
                   "--headless", "-u", 4, "-r", 4, "-t", "2s", "--csv", "X",
                   timeout=2 + SLACK)
    assert r.rc in (0, 1), r
    assert "Traceback" not in r.err and "error:" not in r.err, r
    rows = stats_rows(cicada.path("X_stats.csv"))
    assert int(rows[("", "Aggregated")]["Request Count"]) > 0, rows
    assert read_csv(cicada.path("X_exceptions.csv")) == [["Count", "Message", "Traceback",
                                                          "Nodes"]]
    for f in read_csv(cicada.path("X_failures.csv"))[1:]:
        assert f[:2] == ["GET", "/api/products/[id]"] and \
            ("'404 Client Error" in f[2] or "'503 Server Error" in f[2]), f
    assert r.rc == (1 if len(read_csv(cicada.path("X_failures.csv"))) > 1 else 0), r
