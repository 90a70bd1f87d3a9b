"""Console and log options: --reset-stats, --only-summary, --print-stats, -L, --logfile."""

import re
from datetime import datetime

import pytest

from conftest import SLACK, free_port, log_lines, stats_rows, stats_tables, summary_table

USERS = 4
TABLE_HEAD = "Type     Name "


def log_time(line):
    """The wall-clock time of a log line ("[2026-11-25 18:46:33,723] ...")."""
    stamp = re.match(r"\[([^\]]+)\]", line).group(1)
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    c = module_cicada
    t_reset, t_other = make_module_target(), make_module_target()
    scen = {"users": [{"name": "U", "wait_time": 0.02, "tasks": [{"request": "GET /ok"}]}]}
    c.write("s.json", scen)
    base = ["-f", "s.json", "--headless", "-t", "3s"]
    procs = {
        # Spawning takes 1.5 s (4 users at 2 per second), then the stats are reset.
        "reset": c.start(*base, "-H", t_reset.url, "-u", USERS, "-r", 2, "--reset-stats",
                         "--csv", "R"),
        "summary": c.start(*base, "-H", t_other.url, "--only-summary"),
        "warning": c.start(*base, "-H", t_other.url, "-L", "WARNING"),
        "logfile": c.start(*base, "-H", t_other.url, "--logfile", "run.log"),
    }
    c.results = {k: p.wait(3 + SLACK) for k, p in procs.items()}
    t_reset.wait_idle(quiet=0.2)
    c.t_reset = t_reset
    return c


def test_reset_stats_when_spawning_completes(runs):
    r = runs.results["reset"]
    assert r.rc == 0, r
    resets = [ln for ln in log_lines(r.err, "INFO") if ln.endswith(": Resetting stats")]
    assert len(resets) == 1, r.err
    spawned = [ln for ln in log_lines(r.err, "INFO") if "All users spawned" in ln]
    assert len(spawned) == 1
    lines = r.err.splitlines()
    assert lines.index(resets[0]) == lines.index(spawned[0]) + 1

    counted = int(stats_rows(runs.path("R_stats.csv"))[("", "Aggregated")]["Request Count"])
    t = runs.t_reset
    # The requests of the ramp were dropped ...
    assert t.total() - counted > 3 * USERS, (t.total(), counted)
    # ... and only those: what the target saw after the reset is what cicada counted
    # (give or take the requests in flight at the reset and at the end).
    at = log_time(resets[0])
    after = len([x for x in t.requests() if x.t_wall >= at])
    assert abs(after - counted) <= 2 * USERS, (after, counted, t.total())
    assert summary_table(r.err)[("", "Aggregated")][0] == counted


def test_only_summary(runs):
    r = runs.results["summary"]
    assert r.rc == 0, r
    # The summary's two tables (requests, percentiles) and nothing periodic.
    assert r.err.count(TABLE_HEAD) == 2, r.err
    assert len(stats_tables(r.err)) == 1
    assert "Response time percentiles (approximated)" in r.err
    assert "Starting cicada" in r.err


def test_loglevel_warning_hides_info(runs):
    r = runs.results["warning"]
    assert r.rc == 0, r
    assert log_lines(r.err) == [], r.err
    # The tables are not log messages: the periodic one (at 2 s) and the summary remain.
    assert len(stats_tables(r.err)) == 2, r.err
    assert "Response time percentiles (approximated)" in r.err


def test_logfile_gets_the_log_console_keeps_tables(runs):
    r = runs.results["logfile"]
    assert r.rc == 0, r
    assert log_lines(r.err) == [], r.err
    assert len(stats_tables(r.err)) == 2, r.err
    log = runs.path("run.log").read_text()
    msgs = [ln.split(": ", 1)[1] for ln in log_lines(log)]
    assert msgs[0].startswith("Starting cicada")
    assert "Ramping to 1 users at a rate of 1.00 per second" in msgs
    assert "--run-time limit reached, shutting down" in msgs
    assert msgs[-1] == "Shutting down (exit code 0)"
    assert TABLE_HEAD not in log
    assert all(re.match(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] [^/]+/INFO/[\w.]+: ", ln)
               for ln in log.splitlines()), log


@pytest.mark.parametrize("flag", ["", "--print-stats"])
def test_print_stats_with_the_dashboard(cicada, target, flag):
    """With the dashboard the console gets only the final summary, unless --print-stats
    asks for the periodic tables too (every 2 s), as in Locust."""
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.05, "tasks": [{"request": "GET /ok"}]}]})
    r = cicada.run("-f", "s.json", "--autostart", "--autoquit", 0, "-t", "5s", "-u", 2,
                   "-r", 2, "--web-host", "127.0.0.1", "-P", free_port(),
                   *([flag] if flag else []), timeout=5 + SLACK)
    assert r.rc == 0, r
    tables = stats_tables(r.err)
    if flag:
        assert len(tables) >= 3, r.err        # periodic ones at about 2 s and 4 s, the summary
        assert tables[0][("", "Aggregated")][0] <= tables[-1][("", "Aggregated")][0]
    else:
        assert len(tables) == 1, r.err        # the summary alone
    assert "Response time percentiles (approximated)" in r.err
