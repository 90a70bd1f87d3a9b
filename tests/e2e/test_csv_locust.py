"""CSV files side by side with real Locust 2.12 (/usr/bin/locust)."""

import os

import pytest

from conftest import LOCUST, SLACK, ok_fail_pair, read_csv

LOCUSTFILE, SCENARIO = ok_fail_pair(0.1)

FILES = ["stats", "stats_history", "failures", "exceptions"]

pytestmark = pytest.mark.skipif(not os.access(LOCUST, os.X_OK), reason="needs Locust")


def first_line(data):
    return data[:data.index(b"\n") + 1]


def assert_crlf(data, what):
    assert data.endswith(b"\r\n"), what
    assert data.count(b"\n") == data.count(b"\r\n"), what
    assert b"\r" not in data.replace(b"\r\n", b""), what


@pytest.fixture(scope="module")
def cicada(module_cicada, target_server):
    """Locust and cicada, each with and without --csv-full-history, all at once."""
    c = module_cicada
    c.write("locustfile.py", LOCUSTFILE)
    c.write("s.json", SCENARIO)
    common = ["--headless", "-u", 2, "-r", 2, "-t", "3s", "--host", target_server.url]
    procs = [
        c.start("-f", "locustfile.py", *common, "--csv", "L", exe=LOCUST),
        c.start("-f", "locustfile.py", *common, "--csv", "LH", "--csv-full-history",
                exe=LOCUST),
        c.start("-f", "s.json", *common, "--csv", "C"),
        c.start("-f", "s.json", *common, "--csv", "CH", "--csv-full-history"),
    ]
    c.results = [p.wait(15 + SLACK) for p in procs]
    return c


def test_csv_files_match_locust(cicada):
    locust, locust_h, mine, mine_h = cicada.results
    assert locust.rc == 1 and locust_h.rc == 1, locust   # /fail fails
    assert mine.rc == 1 and mine_h.rc == 1, mine

    for theirs, ours in (("L", "C"), ("LH", "CH")):
        for f in FILES:
            a = cicada.path(f"{theirs}_{f}.csv").read_bytes()
            b = cicada.path(f"{ours}_{f}.csv").read_bytes()
            assert first_line(a) == first_line(b), f
            assert_crlf(a, f"{theirs}_{f}.csv")
            assert_crlf(b, f"{ours}_{f}.csv")

    for prefix in ("L", "C"):
        rows = read_csv(cicada.path(f"{prefix}_stats.csv"))
        width = len(rows[0])
        assert all(len(r) == width for r in rows), prefix
        if prefix == "C" or len(rows) > 1:  # Locust 2.12 may not have flushed its rows
            assert rows[-1][:2] == ["", "Aggregated"], (prefix, rows)
            assert [r[:2] for r in rows[1:-1]] == [["GET", "/fail"], ["GET", "/ok"]]
            ok = rows[-2]
            assert ok[rows[0].index("Average Content Size")] == "15.0"
            assert ok[rows[0].index("Failure Count")] == "0"

    # Default history: the Aggregated row only, every second.
    hist = read_csv(cicada.path("C_stats_history.csv"))
    assert len(hist) >= 3
    assert all(r[2:4] == ["", "Aggregated"] for r in hist[1:]), hist
    assert all(len(r) == len(hist[0]) for r in hist)


def test_full_history_rows(cicada):
    assert cicada.results[3].rc == 1, cicada.results[3]
    rows = read_csv(cicada.path("CH_stats_history.csv"))
    head = rows[0]
    assert all(len(x) == len(head) for x in rows)
    # Blocks: the entries of one moment, sorted by name, then the Aggregated row.
    blocks, cur = [], []
    for x in rows[1:]:
        cur.append(x)
        if x[2:4] == ["", "Aggregated"]:
            blocks.append(cur)
            cur = []
    assert cur == [], "rows after the last Aggregated row"
    assert len(blocks) >= 3, rows
    full = [b for b in blocks if len(b) == 3]
    assert len(full) >= 2, blocks
    for b in full:
        assert [x[2:4] for x in b] == [["GET", "/fail"], ["GET", "/ok"], ["", "Aggregated"]]
        assert len({x[0] for x in b}) == 1          # one timestamp per block
        assert len({x[1] for x in b}) == 1          # one user count per block
        total = head.index("Total Request Count")
        assert int(b[2][total]) == int(b[0][total]) + int(b[1][total])
    stamps = [int(b[0][0]) for b in blocks]
    assert stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] >= 2
    # The last block holds the final counts, as _stats.csv does.
    final = {(x[0], x[1]): x for x in read_csv(cicada.path("CH_stats.csv"))[1:]}
    total = head.index("Total Request Count")
    for x in blocks[-1]:
        assert x[total] == final[(x[2], x[3])][2]
