"""Request counting: cicada's statistics against what the target really received."""

from conftest import SLACK, read_csv, scenario, stats_rows, summary_table
from target import BIG_SIZE, OK_BODY

USERS = 10


def test_counts_match_target(cicada, target):
    cicada.write("s.json", scenario(
        [{"request": "GET /ok", "weight": 3},
         "GET /big",
         {"request": {"method": "POST", "url": "/echo", "json": {"a": 1}}}],
        host=target.url, wait={"between": [0, 0.05]}))
    r = cicada.run("-f", "s.json", "--headless", "-u", USERS, "-r", USERS, "-t", "3s",
                   "--csv", "C", timeout=3 + SLACK)
    assert r.rc == 0, r
    target.wait_idle(quiet=0.2)
    seen = target.counts()
    assert set(seen) == {("GET", "/ok"), ("GET", "/big"), ("POST", "/echo")}, seen

    rows = stats_rows(cicada.path("C_stats.csv"))
    assert set(rows) == {("GET", "/ok"), ("GET", "/big"), ("POST", "/echo"),
                         ("", "Aggregated")}, rows.keys()
    agg = rows[("", "Aggregated")]
    counted = int(agg["Request Count"])
    # The target also saw the requests that were in flight when the users were stopped:
    # at most one per user.
    assert counted > 100, agg
    assert 0 <= target.total() - counted <= USERS, (target.total(), counted)
    assert agg["Failure Count"] == "0"
    per_name = 0
    for (method, path), n in seen.items():
        row = rows[(method, path)]
        c = int(row["Request Count"])
        per_name += c
        assert 0 <= n - c <= USERS, (method, path, n, c)
        assert row["Failure Count"] == "0"
    assert per_name == counted

    # Content sizes are exact: every answer of an endpoint has the same length.
    assert float(rows[("GET", "/ok")]["Average Content Size"]) == len(OK_BODY)
    assert float(rows[("GET", "/big")]["Average Content Size"]) == BIG_SIZE
    assert read_csv(cicada.path("C_failures.csv")) == [["Method", "Name", "Error",
                                                         "Occurrences"]]
    # The console summary agrees with the CSV file.
    table = summary_table(r.err)
    assert table[("", "Aggregated")] == (counted, "0(0.00%)")
    assert table[("GET", "/big")] == (int(rows[("GET", "/big")]["Request Count"]), "0(0.00%)")


def test_redirect_is_one_request(cicada, target):
    """A followed redirect counts once, under the requested name, as python-requests."""
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "Follow", "wait_time": 0.05, "tasks": [{"request": "GET /redirect?f=1"}]},
        {"name": "Stay", "wait_time": 0.05, "redirects": False,
         "tasks": [{"request": "GET /redirect?f=0"}]}]})
    r = cicada.run("-f", "s.json", "--headless", "-u", 2, "-r", 2, "-t", "2s",
                   "--csv", "C", timeout=2 + SLACK)
    assert r.rc == 0, r
    target.wait_idle(quiet=0.2)
    rows = stats_rows(cicada.path("C_stats.csv"))
    followed = int(rows[("GET", "/redirect?f=1")]["Request Count"])
    stayed = int(rows[("GET", "/redirect?f=0")]["Request Count"])
    assert followed > 0 and stayed > 0
    assert set(rows) == {("GET", "/redirect?f=1"), ("GET", "/redirect?f=0"),
                         ("", "Aggregated")}
    redirects = target.requests("GET", "/redirect")
    via = [x for x in redirects if x.query == "f=1"]
    assert 0 <= len(via) - followed <= 1
    # Only the following user went on to /ok, once per redirect.
    assert 0 <= len(via) - target.count("GET", "/ok") <= 1
    # The followed answer is /ok's body; the other one is the empty 302.
    assert float(rows[("GET", "/redirect?f=1")]["Average Content Size"]) == len(OK_BODY)
    assert float(rows[("GET", "/redirect?f=0")]["Average Content Size"]) == 0


def test_name_cap(cicada, target):
    """--max-names: names past the cap count under one "(other names)" row per method, with
    one warning, and every request is still counted."""
    names = [f"/ok?n={i}" for i in range(14)]
    cicada.write("s.json", {"host": target.url, "users": [
        {"name": "U", "wait_time": 0.02, "sequential": True,
         "tasks": [{"request": f"GET {n}"} for n in names]}]})
    r = cicada.run("-f", "s.json", "--headless", "-u", 2, "-r", 2, "-t", "2s",
                   "--max-names", 10, "--csv", "C", timeout=2 + SLACK)
    assert r.rc == 0, r
    warnings = [x for x in r.err.splitlines() if "distinct request names" in x]
    assert len(warnings) == 1, r.err
    assert '/WARNING/cicada.stats: More than 10 distinct request names' in warnings[0]
    rows = stats_rows(cicada.path("C_stats.csv"))
    named = {k for k in rows if k[1].startswith("/ok?n=")}
    assert named == {("GET", n) for n in names[:10]}, rows.keys()
    assert set(rows) == named | {("GET", "(other names)"), ("", "Aggregated")}
    counted = int(rows[("", "Aggregated")]["Request Count"])
    assert int(rows[("GET", "(other names)")]["Request Count"]) > 0
    assert sum(int(v["Request Count"]) for k, v in rows.items() if k[0]) == counted
    target.wait_idle(quiet=0.2)
    assert 0 <= target.total() - counted <= 2, (target.total(), counted)
