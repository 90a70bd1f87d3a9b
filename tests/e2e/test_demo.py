"""The built-in demo target driven by examples/demo.json."""

import json
import signal
import socket
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
