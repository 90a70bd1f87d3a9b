"""The built-in demo target driven by examples/demo.json."""

import json
import signal
import socket
import time
import urllib.request

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
