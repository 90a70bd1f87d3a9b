"""--list, --show-task-ratio and --show-task-ratio-json, byte for byte against Locust."""

import json
import os
import re

import pytest

from conftest import LOCUST, SLACK

LOCUSTFILE = '''\
from locust import HttpUser, task


class Reader(HttpUser):
    weight = 3

    @task(3)
    def browse(self):
        pass

    @task(1)
    def search(self):
        pass


class Writer(HttpUser):
    weight = 1

    @task(1)
    def post(self):
        pass

    @task(2)
    def edit(self):
        pass

    @task(1)
    def delete(self):
        pass


class Admin(HttpUser):
    weight = 2

    @task
    def audit(self):
        pass

    @task
    def report(self):
        pass

    @task
    def purge(self):
        pass
'''

SCENARIO = {"host": "http://127.0.0.1:1", "users": [
    {"name": "Reader", "weight": 3, "tasks": [
        {"name": "browse", "weight": 3, "request": "GET /a"},
        {"name": "search", "weight": 1, "request": "GET /b"}]},
    {"name": "Writer", "weight": 1, "tasks": [
        {"name": "post", "weight": 1, "request": "POST /c"},
        {"name": "edit", "weight": 2, "request": "PUT /c"},
        {"name": "delete", "weight": 1, "request": "DELETE /c"}]},
    {"name": "Admin", "weight": 2, "tasks": [
        {"name": "audit", "request": "GET /d"},
        {"name": "report", "request": "GET /e"},
        {"name": "purge", "request": "GET /f"}]}]}

VARIANTS = [("--list",), ("--show-task-ratio",), ("--show-task-ratio-json",),
            ("--show-task-ratio", "-u", "7"), ("--show-task-ratio-json", "-u", "7")]


@pytest.fixture(scope="module")
def outputs(module_cicada):
    """{variant: (locust Result, cicada Result)}; Locust runs all at once."""
    if not os.access(LOCUST, os.X_OK):
        pytest.skip("needs Locust")
    c = module_cicada
    c.write("locustfile.py", LOCUSTFILE)
    c.write("s.json", SCENARIO)
    procs = [(c.start("-f", "locustfile.py", *v, exe=LOCUST), c.start("-f", "s.json", *v))
             for v in VARIANTS]
    out = {v: (lp.wait(15 + SLACK), cp.wait(SLACK)) for v, (lp, cp) in zip(VARIANTS, procs)}
    return out


@pytest.mark.parametrize("variant", VARIANTS, ids=" ".join)
def test_same_output_as_locust(outputs, variant):
    theirs, ours = outputs[variant]
    assert theirs.rc == 0, theirs
    assert ours.rc == 0, ours
    assert ours.err == ""
    assert ours.out == theirs.out
    if variant[0] == "--show-task-ratio-json":
        doc = json.loads(ours.out)
        assert doc == json.loads(theirs.out)
        assert ours.out == json.dumps(doc, indent=4) + "\n"


def test_list_format(outputs):
    ours = outputs[("--list",)][1]
    assert ours.out == "Available Users:\n    Reader\n    Writer\n    Admin\n"


def test_task_ratio_values(outputs):
    doc = json.loads(outputs[("--show-task-ratio-json",)][1].out)
    assert doc["per_class"]["Reader"] == {"ratio": 0.5, "tasks": {
        "browse": {"ratio": 0.75}, "search": {"ratio": 0.25}}}
    assert doc["total"]["Writer"]["tasks"]["edit"] == {"ratio": 1 / 6 * 0.5}
    assert list(doc["total"]) == ["Reader", "Writer", "Admin"]


def test_list_needs_no_host_and_sends_nothing(cicada, target):
    cicada.write("s.json", {"users": [{"name": "Only", "tasks": [{"request": "GET /ok"}]}]})
    r = cicada.run("-f", "s.json", "--list", "--headless", "-t", "2s")
    assert r.rc == 0, r
    assert r.out == "Available Users:\n    Only\n"
    assert target.total() == 0


@pytest.mark.parametrize("extra", [(), ("--processes", "2")], ids=["worker", "processes"])
def test_worker_lists_instead_of_connecting(cicada, target, extra):
    """Locust's --worker -l lists the classes of -f and exits: the listing flags win over
    running (a worker that connected instead would wait for a master until killed)."""
    cicada.write("s.json", {"host": target.url,
                            "users": [{"name": "Only", "tasks": [{"request": "GET /ok"}]}]})
    r = cicada.run("-f", "s.json", "--worker", *extra, "--list")
    assert r.rc == 0, r
    assert r.out == "Available Users:\n    Only\n"
    assert "Starting worker" not in r.err, r
    r = cicada.run("-f", "s.json", "--worker", *extra, "--show-task-ratio-json")
    assert r.rc == 0, r
    assert json.loads(r.out)["per_class"]["Only"]["ratio"] == 1.0
    assert target.total() == 0


def test_version_and_help(cicada):
    """-V/--version print the name and version (Locust: "locust 2.12.1"), -h/--help the
    usage; both exit 0 at once, even with other flags or a missing scenario."""
    for flag in ("-V", "--version"):
        r = cicada.run(flag, "-f", "missing.json", "--headless")
        assert r.rc == 0, r
        assert re.fullmatch(r"cicada \S+\n", r.out), r.out
        assert r.err == ""
    for flag in ("-h", "--help"):
        r = cicada.run(flag, "-u", "abc")
        assert r.rc == 0, r
        assert r.out.startswith("Usage: cicada [OPTIONS] [UserClass ...]\n"), r.out[:200]
        for name in ("--locustfile", "--users", "--spawn-rate", "--run-time", "--csv",
                     "--exit-code-on-error", "--stop-timeout", "--loglevel", "--tags"):
            assert name in r.out, name


def test_list_ignores_selection_and_tags(cicada):
    """--list names every class of -f, as Locust does before it looks at the positional
    class names or the tags: unknown names, a tag that leaves nothing, weight 0."""
    cicada.write("s.json", {"host": "http://127.0.0.1:1", "users": [
        {"name": "A", "tasks": [{"tags": ["x"], "request": "GET /a"}]},
        {"name": "Z", "weight": 0, "tasks": [{"request": "GET /z"}]}]})
    for extra in (["Nope"], ["-T", "zzz"], ["-E", "x"], ["Z"]):
        r = cicada.run("-f", "s.json", "--list", *extra)
        assert r.rc == 0, (extra, r)
        assert r.out == "Available Users:\n    A\n    Z\n", (extra, r)
        assert r.err == "", (extra, r)
