"""Settings precedence, end to end: CLI > LOCUST_* > --config > ./locust.conf >
~/.locust.conf."""

import re

from conftest import SLACK, read_csv


def ramp(err):
    m = re.findall(r"/INFO/\S+: Ramping to (\d+) users at a rate of ([\d.]+) per second", err)
    assert len(m) == 1, err
    return int(m[0][0]), m[0][1]


def peak_users(cicada, prefix):
    rows = read_csv(cicada.path(f"{prefix}_stats_history.csv"))
    col = rows[0].index("User Count")
    return max(int(r[col]) for r in rows[1:])


def test_precedence(cicada, target):
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.2, "tasks": [{"request": "GET /ok"}]}]})
    # ~/.locust.conf: the lowest source. Only spawn-rate survives from it.
    (cicada.home / ".locust.conf").write_text(
        "users = 2\nspawn-rate = 50\nrun-time = 30s\nheadless = false\n")
    cicada.write("locust.conf", "# the project's settings\nlocustfile = s.json\n"
                                "users = 3\nrun-time = 2s\nheadless = true\n")
    cicada.write("extra.conf", "users: 4\n")
    env = cicada.env(LOCUST_USERS=5)
    conf, config, envr, cli = [cicada.start(*a, env=e) for a, e in [
        (["--csv", "A"], None),
        (["--config", "extra.conf", "--csv", "B"], None),
        (["--config", "extra.conf", "--csv", "C"], env),
        (["--config", "extra.conf", "-u", 7, "--csv", "D"], env),
    ]]
    results = [p.wait(2 + SLACK) for p in (conf, config, envr, cli)]
    for want, prefix, r in zip((3, 4, 5, 7), "ABCD", results):
        assert r.rc == 0, r
        assert ramp(r.err) == (want, "50.00"), (prefix, r.err)
        assert peak_users(cicada, prefix) == want
        assert f"All users spawned: {{\"U\": {want}}} ({want} total users)" in r.err
        # run-time = 2s from ./locust.conf beat ~/.locust.conf's 30s.
        assert "--run-time limit reached, shutting down" in r.err
        assert r.elapsed < 10, r.elapsed


def test_environment_beats_config_file_for_flags(cicada, target):
    """A LOCUST_* boolean and a list, over ./locust.conf."""
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.2, "tasks": [
            {"request": "GET /ok?t=a", "tags": ["a"]},
            {"request": "GET /ok?t=b", "tags": ["b"]}]}]})
    cicada.write("locust.conf", "tags = [a]\nonly-summary = false\n")
    r = cicada.run("-f", "s.json", "--headless", "-u", 2, "-r", 50, "-t", "2s",
                   env=cicada.env(LOCUST_TAGS="[b]", LOCUST_ONLY_SUMMARY="true"))
    assert r.rc == 0, r
    qs = {x.query for x in target.requests()}
    assert qs == {"t=b"}
    # only one request table (the summary's), no periodic one
    assert r.err.count("Type     Name ") == 2


def test_old_names_still_work(cicada, target):
    """-c/--clients, --hatch-rate and --no-web (Locust's early names) run the test they
    describe, each with a one-line deprecation notice; also in a config file."""
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.2, "tasks": [{"request": "GET /ok"}]}]})
    cicada.write("old.conf", "clients = 2\nhatch-rate = 4\n")
    a, b = cicada.run_many([
        ["-f", "s.json", "-c", 3, "--hatch-rate", 3, "--no-web", "-t", "1s"],
        ["-f", "s.json", "--config", "old.conf", "--no-web", "-t", "1s"],
    ], timeout=1 + SLACK)
    for r, users, rate in ((a, 3, "3.00"), (b, 2, "4.00")):
        assert r.rc == 0, r
        notices = [x for x in r.err.splitlines() if x.startswith("[DEPRECATED]")]
        assert notices == [
            "[DEPRECATED] The -c/--clients parameter has been renamed -u/--users",
            "[DEPRECATED] The --hatch-rate parameter has been renamed --spawn-rate",
            "[DEPRECATED] The --no-web parameter has been renamed --headless"], r.err
        assert ramp(r.err) == (users, rate)
        assert f'All users spawned: {{"U": {users}}} ({users} total users)' in r.err
    assert target.count("GET", "/ok") > 0
