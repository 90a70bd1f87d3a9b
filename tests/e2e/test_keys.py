"""Keyboard control of a headless run on a terminal: w/W add 1/10 users, s/S remove."""

import os
import pty
import re
import signal
import termios
import time

from conftest import SLACK


def wait_for(proc, pattern, start, timeout=10):
    """Waits until pattern appears in proc's stderr after offset start; returns the offset
    just past the match."""
    end = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < end:
        text = proc.err_text()
        m = rx.search(text, start)
        if m:
            return m.end()
        assert proc.p.poll() is None, text
        time.sleep(0.05)
    raise AssertionError(f"no {pattern!r} in:\n{proc.err_text()[start:]}")


def test_keys_change_the_user_count(cicada, target):
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.1, "tasks": [{"request": "GET /ok"}]}]})
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    try:
        p = cicada.start("-f", "s.json", "--headless", "-u", 2, "-r", 50, "--only-summary",
                         stdin=slave)
        os.close(slave)
        slave = None
        at = wait_for(p, r"All users spawned: \{\"U\": 2\} \(2 total users\)\n", 0)
        steps = [(b"w", 3), (b"W", 13), (b"s", 12), (b"S", 2)]
        for key, users in steps:
            os.write(master, key)
            at = wait_for(p, rf"/INFO/[\w.]+: Ramping to {users} users at a rate of 100\.00 "
                             rf"per second\n", at)
            at = wait_for(p, rf"All users spawned: \{{\"U\": {users}\}} \({users} total "
                             rf"users\)\n", at)
        # Keys that mean nothing are ignored.
        os.write(master, b"x")
        time.sleep(0.3)
        p.signal(signal.SIGINT)
        r = p.wait(SLACK)
        # The terminal is left as it was found (echo and line mode back on).
        assert termios.tcgetattr(master)[3] == before[3]
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert r.rc == 0, r
    ramps = re.findall(r"Ramping to (\d+) users", r.err)
    assert ramps == ["2", "3", "13", "12", "2"], r.err
    assert "Shutting down (exit code 0)" in r.err
    assert target.count("GET", "/ok") > 0
