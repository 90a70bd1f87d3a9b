"""Sequential tasks: written order, a task of weight N N times in a row, cycling."""

from conftest import SLACK


def test_sequential_order(cicada, target):
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "sequential": True, "wait_time": 0.01,
         "on_start": [{"request": "GET /ok?step=start"}],
         "tasks": [
             {"name": "A", "weight": 2, "request": "GET /ok?step=A"},
             {"name": "B", "request": "GET /ok?step=B"},
             {"name": "C", "weight": 3, "steps": [{"request": "GET /ok?step=C1"},
                                                  {"request": "GET /ok?step=C2"}]}]}]})
    r = cicada.run("-f", "s.json", "--headless", "-u", 1, "-t", "2s", timeout=2 + SLACK)
    assert r.rc == 0, r
    seen = [x.query.split("=", 1)[1] for x in target.requests()]
    cycle = ["A", "A", "B", "C1", "C2", "C1", "C2", "C1", "C2"]
    assert seen[0] == "start"
    got = seen[1:]
    assert len(got) >= 3 * len(cycle), got
    want = (cycle * (len(got) // len(cycle) + 1))[:len(got)]
    assert got == want
