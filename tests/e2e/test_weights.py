"""Task weights and user class weights."""

from conftest import SLACK, stats_rows


def test_task_and_class_weights(cicada, target, make_target):
    # Task weights 3:1, about 2000 requests.
    cicada.write("tasks.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.005, "tasks": [
            {"name": "often", "weight": 3, "request": "GET /ok?t=often"},
            {"name": "rarely", "weight": 1, "request": "GET /ok?t=rarely"}]}]})
    # Class weights 3:1 over 40 users (43 less the 3 of a fixed_count class): Locust's
    # dispatcher gives exactly 30 and 10.
    other = make_target()
    cicada.write("classes.json", {"host": other.url, "users": [
        {"name": "Fixed", "fixed_count": 3, "weight": 100, "wait_time": 5,
         "on_start": [{"request": "GET /ok?c=Fixed"}], "tasks": [{"request": "GET /big"}]},
        {"name": "Heavy", "weight": 3, "wait_time": 5,
         "on_start": [{"request": "GET /ok?c=Heavy"}], "tasks": [{"request": "GET /me"}]},
        {"name": "Light", "weight": 1, "wait_time": 5,
         "on_start": [{"request": "GET /ok?c=Light"}], "tasks": [{"request": "GET /logout"}]}]})
    t_run, c_run = cicada.run_many([
        ["-f", "tasks.json", "--headless", "-u", 4, "-r", 4, "-t", "3s", "--csv", "T"],
        ["-f", "classes.json", "--headless", "-u", 43, "-r", 43, "-t", "2s", "--csv", "K"],
    ], timeout=3 + SLACK)
    assert t_run.rc == 0, t_run
    assert c_run.rc == 0, c_run

    often = len([x for x in target.requests("GET", "/ok") if x.query == "t=often"])
    rarely = len([x for x in target.requests("GET", "/ok") if x.query == "t=rarely"])
    assert often + rarely >= 1000, (often, rarely)   # enough for the band below
    assert rarely > 0 and 2.2 <= often / rarely <= 4.0, (often, rarely)
    rows = stats_rows(cicada.path("T_stats.csv"))
    c_often = int(rows[("GET", "/ok?t=often")]["Request Count"])
    c_rarely = int(rows[("GET", "/ok?t=rarely")]["Request Count"])
    assert 2.2 <= c_often / c_rarely <= 4.0, (c_often, c_rarely)

    other.wait_idle(quiet=0.2)
    starts = [x.query for x in other.requests("GET", "/ok")]
    assert starts.count("c=Fixed") == 3, starts
    assert starts.count("c=Heavy") == 30, starts
    assert starts.count("c=Light") == 10, starts
    # Each user runs its first task right after on_start (then waits 5 s).
    assert other.count("GET", "/me") == 30
    assert other.count("GET", "/logout") == 10
    assert other.count("GET", "/big") == 3
    assert ('All users spawned: {"Fixed": 3, "Heavy": 30, "Light": 10} (43 total users)'
            in c_run.err), c_run.err


def test_equal_weights(cicada, target):
    """--equal-weights makes every task equally likely, whatever its weight."""
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.005, "tasks": [
            {"weight": 9, "request": "GET /ok?t=a"},
            {"weight": 1, "request": "GET /ok?t=b"}]}]})
    r = cicada.run("-f", "s.json", "--headless", "-u", 2, "-r", 2, "-t", "2s",
                   "--equal-weights", timeout=2 + SLACK)
    assert r.rc == 0, r
    qs = [x.query for x in target.requests("GET", "/ok")]
    a, b = qs.count("t=a"), qs.count("t=b")
    assert a + b >= 400, (a, b)
    assert 0.7 <= a / b <= 1.4, (a, b)


def test_tags_select_tasks(cicada, target):
    """-T/--tags keeps the tasks with any of the tags, -E/--exclude-tags drops those with
    any; a class left without tasks does not run (with a warning). Also from LOCUST_TAGS,
    in Locust's bracket syntax."""
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.02, "tasks": [
            {"tags": ["x"], "request": "GET /ok?t=a"},
            {"tags": ["y"], "request": "GET /ok?t=b"},
            {"tags": ["x", "y"], "request": "GET /ok?t=c"},
            {"request": "GET /ok?t=d"}]},
        {"name": "V", "wait_time": 0.02, "tasks": [{"tags": ["z"], "request": "GET /ok?v=z"}]}]})
    cases = {"T": ["-T", "x"], "E": ["--exclude-tags", "y"], "TE": ["--tags", "x", "y", "-E", "y"],
             "Tz": ["-T", "z,x"]}
    base = ["-f", "s.json", "--headless", "-u", 2, "-r", 2, "-t", "2s"]
    runs = cicada.run_many([base + args + ["--csv", name] for name, args in cases.items()],
                           timeout=2 + SLACK)
    env_run = cicada.run(*base, "--csv", "ENV", env=cicada.env(LOCUST_TAGS="[y, z]"),
                         timeout=2 + SLACK)
    want = {"T": {"/ok?t=a", "/ok?t=c"}, "E": {"/ok?t=a", "/ok?t=d", "/ok?v=z"},
            "TE": {"/ok?t=a"}, "Tz": {"/ok?t=a", "/ok?t=c", "/ok?v=z"},
            "ENV": {"/ok?t=b", "/ok?t=c", "/ok?v=z"}}
    for name, r in list(zip(cases, runs)) + [("ENV", env_run)]:
        assert r.rc == 0, (name, r)
        rows = stats_rows(cicada.path(f"{name}_stats.csv"))
        assert {n for (m, n) in rows if m} == want[name], (name, rows.keys())
    for r in (runs[0], runs[2]):                        # -T x and -T x y -E y: V has none
        assert "User class V had no tasks left after filtering by tags; it will not run" \
            in r.err, r.err
        assert 'All users spawned: {"U": 2} (2 total users)' in r.err, r.err
