"""-t/--run-time: the run stops by itself; the formats Locust accepts; bad values."""

import signal
import time

import pytest

from conftest import SLACK, log_lines

RUN_TIME_ERROR = ("cicada: error: Valid --run-time formats are: 20, 20s, 3m, 2h, 1h20m, "
                  "3h30m10s, etc.")


def test_run_time_formats_stop_the_run(cicada, target):
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.1, "tasks": [{"request": "GET /ok"}]}]})
    base = ["-f", "s.json", "--headless", "-u", 1]
    spans = ["2s", "2", "0m2s", "0h0m2s"]
    procs = [cicada.start(*base, "-t", s) for s in spans]
    minute = cicada.start(*base, "-t", "1m")
    results = [p.wait(2 + SLACK) for p in procs]
    for span, r in zip(spans, results):
        assert r.rc == 0, (span, r)
        assert 1.8 <= r.elapsed < 6, (span, r.elapsed)
        msgs = [ln.split(": ", 1)[1] for ln in log_lines(r.err, "INFO")]
        assert "--run-time limit reached, shutting down" in msgs, r.err
        assert "No run time limit set, use CTRL+C to interrupt" not in msgs
    # "1m" is a minute, not a second: still running once the others are done.
    time.sleep(max(0.0, 3 - (time.monotonic() - minute.t0)))
    assert minute.p.poll() is None, minute.err_text()
    minute.signal(signal.SIGTERM)
    r = minute.wait(SLACK)
    assert r.rc == 0, r
    assert "--run-time limit reached" not in r.err
    assert "Got SIGTERM signal" in r.err


@pytest.mark.parametrize("span", ["1m30", "abc", "1d", "5s30m", ""])
def test_bad_run_time(cicada, target, span):
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "tasks": [{"request": "GET /ok"}]}]})
    r = cicada.run("-f", "s.json", "--headless", "-u", 1, "-t", span)
    assert r.rc == 1, r
    assert r.err.strip() == RUN_TIME_ERROR, r.err
    assert r.out == ""
    assert target.total() == 0


def test_bad_run_time_from_environment(cicada, target):
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "tasks": [{"request": "GET /ok"}]}]})
    r = cicada.run("-f", "s.json", "--headless", "-u", 1,
                   env=cicada.env(LOCUST_RUN_TIME="abc"))
    assert r.rc == 1, r
    # Locust's text, naming where the value came from.
    assert r.err.strip() == RUN_TIME_ERROR.replace("error: ", "error: LOCUST_RUN_TIME: "), r.err
    assert target.total() == 0
