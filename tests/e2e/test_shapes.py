"""Load shapes (docs/scenario.md, "Load shapes"): --stages and the scenario's "stages" drive
the user count over time, headless, from the dashboard and on a master with workers; the
test ends by itself after the last stage; bad shapes are one-line errors.

Every run of the module starts at once in one fixture (the shapes take 5-6 s each), the
dashboard is polled meanwhile, and the tests read what each run left behind."""

import json
import re
import time
from datetime import datetime

import pytest

from conftest import (SLACK, free_port, history_users, log_lines, read_csv, start_dashboard,
                      stats_rows, text_pos)

# How far a stage may start from its planned time (the brief's tolerance).
ON_TIME = 0.3

CLI_STAGES = "2s:4:20,2s:10:20,2s:2:20"
CLI_PLAN = [(2, 4), (2, 10), (2, 2)]            # (duration, users)
DIST_STAGES = "2s:4:20,2s:8:20,1s:2:20"
DIST_PLAN = [(2, 4), (2, 8), (1, 2)]
DOWN_STAGES = "1s:8:100,3s:0:4"
WEB_STAGES = "2s:3:20,2s:6:20"
WEB_PLAN = [(2, 3), (2, 6)]


def log_time(line):
    """The wall-clock time of a cicada log line ("[2026-01-02 03:04:05,678] host/...")."""
    return datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def find_log(text, fragment):
    """The log lines containing fragment, as (time, line)."""
    return [(log_time(x), x) for x in log_lines(text) if fragment in x]


def one_log(text, fragment):
    found = find_log(text, fragment)
    assert len(found) == 1, (fragment, found, text[-3000:])
    return found[0][0]


def spawned(line):
    """The class counts of an "All users spawned: {...} (N total users)" line."""
    return json.loads(re.search(r"All users spawned: (\{.*?\}) \(", line).group(1))


def bounds(plan):
    """Start time of each stage and the end of the shape, relative to its start."""
    out, t = [], 0.0
    for dur, _ in plan:
        out.append(t)
        t += dur
    return out, t


def allowed_users(plan, e):
    """The user counts a sample taken e seconds into the shape may show: the stage's,
    or, within ON_TIME before a stage change and the first second after it (the ramp),
    anything between the two stages' counts."""
    starts, end = bounds(plan)
    users = [u for _, u in plan] + [0]
    prev = 0
    for i, s in enumerate(starts + [end]):
        if s - ON_TIME <= e < s + 1.0:
            lo, hi = sorted((prev, users[i]))
            return set(range(lo, hi + 1))
        prev = users[i]
    for i, s in enumerate(starts):
        if s <= e < s + plan[i][0]:
            return {users[i]}
    return {0, users[-2]} if e >= end else {0}


def check_stage_logs(err, plan, start_fragment=None):
    """The "Load shape stage N of M" lines at their planned times (from stage 1's), the
    end line at the shape's end; returns stage 1's time."""
    starts, end = bounds(plan)
    n = len(plan)
    t0 = one_log(err, f"Load shape stage 1 of {n}:")
    if start_fragment:
        assert abs(t0 - one_log(err, start_fragment)) <= ON_TIME, err
    for i, (dur, users) in enumerate(plan):
        t = one_log(err, f"Load shape stage {i + 1} of {n}: {users} users at ")
        assert abs(t - t0 - starts[i]) <= ON_TIME, (i + 1, t - t0, err[-3000:])
    t = one_log(err, f"The load shape has ended ({n} stages, {end:g} s)")
    assert abs(t - t0 - end) <= ON_TIME, (t - t0, err[-3000:])
    return t0


def check_history(path, plan, t0):
    """The history CSV's Aggregated User Count follows the plan, sample by sample (the
    rows are written on whole seconds); every stage's count shows in some sample; the
    row written at the end says 0 users."""
    rows = read_csv(path)
    head = rows[0]
    ts_col, users_col = head.index("Timestamp"), head.index("User Count")
    samples = [(int(r[ts_col]), int(r[users_col])) for r in rows[1:] if r[3] == "Aggregated"]
    assert samples, rows
    assert samples[-1][1] == 0, samples            # written when the test ended
    seen = []
    for ts, users in samples[:-1]:
        e = ts - t0
        assert users in allowed_users(plan, e), (round(e, 3), users, samples)
        if not seen or seen[-1] != users:
            seen.append(users)
    # Intermediate counts of a ramp aside, the counts come in the planned order.
    planned = [u for _, u in plan]
    assert [u for u in seen if u in planned] == planned, (seen, samples)
    return samples


def connections_by_stage(target, plan, t0, key=None):
    """Per stage: the connections (one per user) whose requests the target received well
    inside the stage (after its ramp, before the next), optionally split by key(request)."""
    starts, _ = bounds(plan)
    out = []
    for (dur, _), s in zip(plan, starts):
        lo, hi = t0 + s + 0.5, t0 + s + dur - ON_TIME
        reqs = [x for x in target.requests() if lo <= x.t_wall < hi]
        if key is None:
            out.append(len({x.conn_id for x in reqs}))
        else:
            per = {}
            for x in reqs:
                per.setdefault(key(x), set()).add(x.conn_id)
            out.append({k: len(v) for k, v in per.items()})
    return out


def cls_of(req):
    return dict(p.split("=", 1) for p in req.query.split("&"))["c"]


def user_class(name, wait=0.1):
    return {"name": name, "wait_time": wait,
            "tasks": [{"request": {"url": f"/ok?c={name}", "name": name}}]}


# ---- all the runs, at once ------------------------------------------------------------

def start_master(c, *args):
    """cicada --master on a free port of 127.0.0.1 (retried when the port was taken)."""
    for _ in range(3):
        port = free_port()
        proc = c.start(*args, "--master", "--master-bind-host", "127.0.0.1",
                       "--master-bind-port", port)
        up = f"Master listening for workers at tcp://127.0.0.1:{port}"
        end = time.monotonic() + SLACK
        while time.monotonic() < end and up not in proc.err_text() and \
                proc.p.poll() is None:
            time.sleep(0.05)
        if up in proc.err_text() and proc.p.poll() is None:
            return proc, port
        err = proc.err_text()
        proc.kill()
        if "Address already in use" not in err and "was busy" not in err:
            pytest.fail(f"master did not start:\n{err[-3000:]}")
    pytest.fail("no free port for the master after 3 tries")


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    c = module_cicada
    t = {k: make_module_target() for k in ("cli", "classes", "dist", "web", "short", "down")}
    for k in ("cli", "dist", "web", "short", "down"):
        c.write(f"{k}.json", {"host": t[k].url, "users": [user_class("U")]})
    # Stage 2 adds users of B only; stage 3 names no class, so A may gain users again.
    c.write("classes.json", {
        "host": t["classes"].url,
        "stages": [{"duration": 2, "users": 2},
                   {"duration": "2s", "users": 6, "spawn_rate": 50, "classes": ["B"],
                    "description": "only B joins"},
                   {"duration": 1, "users": 8}],
        "users": [user_class("A"), user_class("B")]})
    procs = {
        "cli": c.start("-f", "cli.json", "--headless", "--stages", CLI_STAGES,
                       "--csv", "cli", "--csv-full-history"),
        "classes": c.start("-f", "classes.json", "--headless", "--csv", "classes",
                           "--csv-full-history"),
        # A ramp-down at its spawn rate: 8 users to none, 4 a second.
        "down": c.start("-f", "down.json", "--headless", "--stages", DOWN_STAGES,
                        "--csv", "down", "--csv-full-history"),
        # -t before the shape's end ends the test.
        # -u and -r are ignored beside a shape, with a warning (as Locust's shape class).
        "short": c.start("-f", "short.json", "--headless", "--stages", "1s:2:20,10s:4:20",
                         "-t", "2s", "-u", 7, "-r", 3),
    }
    mproc, port = start_master(c, "-f", "dist.json", "--headless", "--stages", DIST_STAGES,
                               "--expect-workers", 2, "--csv", "dist", "--csv-full-history")
    workers = [c.start("--worker", "--master-host", "127.0.0.1", "--master-port", port)
               for _ in range(2)]
    procs["dist"] = mproc

    # The dashboard: a test started by /swarm follows the shape, not the form.
    d = start_dashboard(c, "-f", "web.json", "--stages", WEB_STAGES)
    r = d.post("/swarm", data={"user_count": 1, "spawn_rate": 1})
    swarm = (r.status_code, r.json())
    samples = []
    end = time.monotonic() + 5 + SLACK
    while time.monotonic() < end:
        now = time.time()
        doc = d.stats()
        samples.append((now, doc["state"], doc["user_count"], doc))
        if doc["state"] == "stopped":
            break
        time.sleep(0.1)
    web_after = d.stats()
    web = d.stop_process()

    c.results = {k: p.wait(8 + SLACK) for k, p in procs.items()}
    c.results["workers"] = [w.wait(5 + SLACK) for w in workers]
    c.results["web"] = web
    c.web = dict(swarm=swarm, samples=samples, after=web_after)
    c.targets = t
    for x in t.values():
        x.wait_idle(quiet=0.1)
    return c


# ---- --stages, headless -------------------------------------------------------------------

def test_cli_stages_drive_the_user_count(runs):
    r = runs.results["cli"]
    assert r.rc == 0, r
    t0 = check_stage_logs(r.err, CLI_PLAN, start_fragment="Starting cicada")
    samples = check_history(runs.path("cli_stats_history.csv"), CLI_PLAN, t0)
    assert len(samples) >= 6, samples
    # Each stage ramps to its count ("All users spawned"), in order.
    counts = [sum(spawned(x).values()) for _, x in find_log(r.err, "All users spawned")]
    assert counts == [4, 10, 2], counts
    # What the target saw: one connection per live user.
    assert connections_by_stage(runs.targets["cli"], CLI_PLAN, t0) == [4, 10, 2]


def test_cli_stages_end_the_test_with_a_summary(runs):
    r = runs.results["cli"]
    assert r.rc == 0, r
    # No -t: the shape ends the test after 6 s.
    assert 6 - ON_TIME <= r.elapsed < 6 + SLACK, r.elapsed
    assert "Response time percentiles (approximated)" in r.err
    assert "Generator: " in r.err
    agg = stats_rows(runs.path("cli_stats.csv"))[("", "Aggregated")]
    counted = int(agg["Request Count"])
    t = runs.targets["cli"]
    # ~4*20 + 10*20 + 2*20 requests at 10 a second per user.
    assert 200 < counted <= t.total() <= counted + 10, (counted, t.total())
    assert agg["Failure Count"] == "0"
    # Nothing reached the target after the end.
    last = max(x.t_wall for x in t.requests())
    end = one_log(r.err, "The load shape has ended")
    assert last <= end + ON_TIME, (last, end)


def test_ramp_down_follows_the_spawn_rate(runs):
    r = runs.results["down"]
    assert r.rc == 0, r
    check_stage_logs(r.err, [(1, 8), (3, 0)])
    t1 = one_log(r.err, "Load shape stage 2 of 2: 0 users at 4/s for 3 s")
    # As Locust's dispatcher: 4 users stop at once, 4 more a second later (not all 8 at
    # once, not one every 0.25 s).
    t_done = one_log(r.err, 'All users spawned: {"U": 0} (0 total users)')
    assert 1 - ON_TIME <= t_done - t1 <= 1 + ON_TIME, (t1, t_done)
    seen = history_users(runs.path("down_stats_history.csv"))
    assert set(seen) <= {8, 4, 0} and seen[-1] == 0, seen
    # What the target saw: 8 users, then 4 in the half-second after the first step down.
    t = runs.targets["down"]
    mid = {x.conn_id for x in t.requests() if t1 + 0.3 <= x.t_wall < t1 + 1 - ON_TIME}
    assert len(mid) == 4, mid
    assert not [x for x in t.requests() if x.t_wall > t_done + ON_TIME]


# ---- the scenario's "stages" with classes -------------------------------------------------

CLASSES_PLAN = [(2, 2), (2, 6), (1, 8)]


def test_scenario_stages_with_classes(runs):
    r = runs.results["classes"]
    assert r.rc == 0, r
    t0 = check_stage_logs(r.err, CLASSES_PLAN)
    check_history(runs.path("classes_stats_history.csv"), CLASSES_PLAN, t0)
    done = [spawned(x) for _, x in find_log(r.err, "All users spawned")]
    assert done[:2] == [{"A": 1, "B": 1}, {"A": 1, "B": 5}], done
    # The last stage names no class: the weights apply again and A gains users.
    assert len(done) == 3 and sum(done[2].values()) == 8 and done[2]["A"] >= 2, done
    by = connections_by_stage(runs.targets["classes"], CLASSES_PLAN, t0, key=cls_of)
    assert by[:2] == [{"A": 1, "B": 1}, {"A": 1, "B": 5}], by
    assert by[2] == done[2], by
    assert 5 - ON_TIME <= r.elapsed < 5 + SLACK


def test_run_time_ends_a_longer_shape(runs):
    r = runs.results["short"]
    assert r.rc == 0, r
    t0 = one_log(r.err, "Load shape stage 1 of 2:")
    t1 = one_log(r.err, "Load shape stage 2 of 2: 4 users at 20/s for 10 s")
    assert abs(t1 - t0 - 1) <= ON_TIME
    t_end = one_log(r.err, "--run-time limit reached, shutting down")
    assert abs(t_end - t0 - 2) <= ON_TIME
    assert "The load shape has ended" not in r.err
    assert 2 - ON_TIME <= r.elapsed < 2 + SLACK
    assert max(x.t_wall for x in runs.targets["short"].requests()) <= t_end + ON_TIME
    warn = log_lines(r.err, "WARNING")
    assert [x.split(": ", 1)[1] for x in warn] == [
        "The load shape sets the number of users and the spawn rate: -u/--users and "
        "-r/--spawn-rate are ignored"], warn
    done = [spawned(x) for _, x in find_log(r.err, "All users spawned")]
    assert done == [{"U": 2}, {"U": 4}], done


# ---- a test started from the dashboard ------------------------------------------------------

def test_dashboard_test_follows_the_shape(runs):
    status, body = runs.web["swarm"]
    # Locust's answer when a shape, not the form, drives the test.
    assert status == 200 and body == {"success": True, "host": runs.targets["web"].url,
                                      "message": "Swarming started using shape class"}, body
    err = runs.results["web"].err
    assert "Starting the load shape" in err, err[-3000:]
    t0 = check_stage_logs(err, WEB_PLAN)
    samples = runs.web["samples"]
    assert samples[-1][1] == "stopped", samples[-1][:3]   # the shape ended the test
    ok = {3: 0, 6: 0}
    for now, state, users, _ in samples:
        e = now - t0
        if state == "stopped":
            assert e >= 4 - ON_TIME, (e, samples)
            continue
        assert users in allowed_users(WEB_PLAN, e), (round(e, 3), users)
        ok[users] = ok.get(users, 0) + 1
    # The form said 1 user: the shape's counts show, for most of each stage.
    assert ok[3] >= 5 and ok[6] >= 5, ok
    after = runs.web["after"]
    assert (after["state"], after["user_count"]) == ("stopped", 0), after
    # The target saw the planned users (one connection each).
    assert connections_by_stage(runs.targets["web"], WEB_PLAN, t0) == [3, 6]
    assert runs.results["web"].rc in (0, 1), runs.results["web"]


def test_changing_the_test_by_hand_ends_the_shape(cicada, target):
    cicada.write("s.json", {"host": target.url, "users": [user_class("U")]})
    # Stage 1 lasts 4 s so that a slow poll (ASan, a loaded machine) still sees it.
    d = start_dashboard(cicada, "-f", "s.json", "--stages", "4s:3:20,1s:6:20")
    started = time.monotonic()
    assert d.post("/swarm", data={"user_count": 1, "spawn_rate": 1}).status_code == 200
    d.wait_for(lambda x: x["user_count"] == 3, SLACK, "the first stage's 3 users")
    r = d.post("/swarm", data={"user_count": 2, "spawn_rate": 10})
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    assert r.json()["message"] == "Swarming started", r.text     # the form's counts now
    # Past the shape's planned stage 2 and its end: the hand-set count stays.
    time.sleep(max(0.0, started + 6.5 - time.monotonic()))
    doc = d.stats()
    assert (doc["state"], doc["user_count"]) == ("running", 2), doc
    res = d.stop_process()
    assert res.rc in (0, 1), res
    assert "The test was changed by hand: the load shape no longer drives it" in res.err
    assert "Load shape stage 2 of 2" not in res.err
    assert "The load shape has ended" not in res.err


# ---- a master with two workers -------------------------------------------------------------

def test_distributed_run_follows_the_shape(runs):
    r = runs.results["dist"]
    assert r.rc == 0, r
    t0 = check_stage_logs(r.err, DIST_PLAN)
    check_history(runs.path("dist_stats_history.csv"), DIST_PLAN, t0)
    done = [spawned(x) for _, x in find_log(r.err, "All users spawned")]
    assert done == [{"U": 4}, {"U": 8}, {"U": 2}], done
    # Each worker runs half of every stage's users.
    for w in runs.results["workers"]:
        assert w.rc == 0, w
        got = [spawned(x) for _, x in find_log(w.err, "All users spawned")]
        assert got == [{"U": 2}, {"U": 4}, {"U": 1}], w.err[-3000:]
    assert connections_by_stage(runs.targets["dist"], DIST_PLAN, t0) == [4, 8, 2]
    assert 5 - ON_TIME <= r.elapsed < 5 + SLACK + 5, r.elapsed


# ---- bad shapes --------------------------------------------------------------------------------

STAGE_FORMAT = "--stages: stage {n} must be DURATION:USERS:SPAWN_RATE[:Class+Class]"


@pytest.mark.parametrize("stages, message", [
    ("2s:x:1", STAGE_FORMAT.format(n=1)),
    ("2s:4", STAGE_FORMAT.format(n=1)),
    ("0s:4:1", STAGE_FORMAT.format(n=1)),
    ("2s:4:0", STAGE_FORMAT.format(n=1)),
    ("2s:-1:1", STAGE_FORMAT.format(n=1)),
    ("soon:4:1", STAGE_FORMAT.format(n=1)),
    ("2s:4:1,3s:4:1:A:B", STAGE_FORMAT.format(n=2)),
    ("2s:4:1:Nope", '--stages: stage 1 names "Nope", which is not a user class of this test'),
    ("2s:4:1,1m:5:1:A+Nope",
     '--stages: stage 2 names "Nope", which is not a user class of this test'),
    # An empty field or stage is a typo, not a separator to skip: the fields would shift.
    ("2s::4:1", STAGE_FORMAT.format(n=1)),
    ("2s:4:1,,3s:1:1", STAGE_FORMAT.format(n=2)),
    ("2s:4:1,", STAGE_FORMAT.format(n=2)),
    ("2s:4:1:A+", STAGE_FORMAT.format(n=1)),
], ids=lambda v: v if ":" in v and not v.startswith("--") else "")
def test_bad_stages_are_one_line_errors(cicada, target, stages, message):
    cicada.write("s.json", {"host": target.url, "users": [user_class("A"), user_class("B")]})
    # (-t only bounds a run that wrongly starts.)
    r = cicada.run("-f", "s.json", "--headless", "--stages", stages, "-t", "1s")
    assert r.rc == 1, r
    assert r.out == "", r
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r
    assert lines[0].startswith("cicada: error: " + message), r
    time.sleep(0.2)
    assert target.total() == 0


def test_unknown_class_in_scenario_stages(cicada, target):
    cicada.write("s.json", {"host": target.url,
                            "stages": [{"duration": 1, "users": 2},
                                       {"duration": 1, "users": 2, "classes": ["Nope"]}],
                            "users": [user_class("A")]})
    pos = text_pos(cicada.path("s.json").read_text(), '"Nope"')
    r = cicada.run("-f", "s.json", "--headless", "-t", "5s")
    assert r.rc == 1, r
    assert r.err.strip() == f'cicada: error: s.json:{pos}: no user class "Nope"', r
    time.sleep(0.2)
    assert target.total() == 0


def test_stages_and_arrival_rate_exclude_each_other(cicada, target):
    cicada.write("s.json", {"host": target.url, "users": [user_class("A")]})
    r = cicada.run("-f", "s.json", "--headless", "--stages", "1s:1:1", "--arrival-rate", 5,
                   "-u", 2, "-t", "5s")
    assert r.rc == 1, r
    assert r.err.strip() == ("cicada: error: --stages (users) and --arrival-rate "
                             "(iterations) exclude each other"), r
    time.sleep(0.2)
    assert target.total() == 0


# ---- the examples: a step load, a spike, a stress ramp, a soak, an open model ----------------

def stage_users(doc):
    return [s["users"] for s in doc["stages"]]


def seconds(span):
    """A stage duration of the examples ("30s", "5m", "4h" or a number) in seconds."""
    if isinstance(span, (int, float)):
        return span
    return int(span[:-1]) * {"s": 1, "m": 60, "h": 3600}[span[-1]]


# Each example's stages must have the shape its name promises.
EXAMPLE_SHAPES = {
    # up in steps, a hold, then down to none
    "step": lambda u: len(u) >= 4 and u == sorted(u[:-1]) + [0] and len(set(u[:-1])) >= 3,
    # a short burst well above the level before and after it
    "spike": lambda u: len(u) == 3 and u[1] >= 10 * max(u[0], u[2]),
    # ever more users, to the breaking point
    "stress": lambda u: len(u) >= 3 and all(a < b for a, b in zip(u, u[1:])),
    # a ramp up, a long hold, a ramp down
    "soak": lambda u: len(u) == 3 and u[0] == u[1] > 0 and u[2] == 0,
}
EXAMPLE_IDS = [*EXAMPLE_SHAPES, "arrival"]


@pytest.fixture(scope="module")
def examples(module_cicada):
    """Each example for 1 s against the demo target it names, all at once."""
    from conftest import REPO
    from test_demo import wait_listening
    c = module_cicada
    port = free_port()
    demo = c.start("--demo-target", f"127.0.0.1:{port}")
    wait_listening(port, demo)
    docs = {k: json.loads((REPO / "examples" / f"{k}.json").read_text()) for k in EXAMPLE_IDS}
    procs = {k: c.start("-f", REPO / "examples" / f"{k}.json", "-H",
                        f"http://127.0.0.1:{port}", "--headless", "-t", "1s",
                        "--csv", f"example-{k}") for k in EXAMPLE_IDS}
    lists = {k: c.start("-f", REPO / "examples" / f"{k}.json", "--list") for k in EXAMPLE_IDS}
    out = {k: (docs[k], procs[k].wait(1 + SLACK), lists[k].wait(SLACK)) for k in EXAMPLE_IDS}
    demo.kill()
    return out


@pytest.mark.parametrize("name", EXAMPLE_IDS)
def test_examples_are_described_and_run(examples, module_cicada, name):
    doc, run, listed = examples[name]
    assert listed.rc == 0 and listed.out.startswith("Available Users:"), listed
    # The comment-like description says what the test is for.
    assert isinstance(doc.get("description"), str) and len(doc["description"]) > 40, doc
    assert run.rc == 0, run
    if name == "arrival":
        rate = doc["arrival_rate"]
        assert (f"Open model: {rate['start_rate']:g} iterations/s ramping by stages, users "
                f"up to {rate['max_users']}") in run.err, run.err[-3000:]
    else:
        users = stage_users(doc)
        assert EXAMPLE_SHAPES[name](users), (name, users)
        first = doc["stages"][0]
        n = len(doc["stages"])
        assert (f"Load shape stage 1 of {n}: {first['users']} users at "
                f"{first['spawn_rate']:g}/s for {seconds(first['duration']):g} s") in run.err, \
            run.err[-3000:]
    if name == "soak":
        assert seconds(doc["stages"][1]["duration"]) >= 3600, doc["stages"]
    # The requests it names exist on the demo target: the first second ran cleanly.
    agg = stats_rows(module_cicada.path(f"example-{name}_stats.csv"))[("", "Aggregated")]
    assert int(agg["Request Count"]) > 0 and agg["Failure Count"] == "0", agg
