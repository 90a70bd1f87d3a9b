"""The console's final summary in Locust 2.12's format: every line of the request table, the
percentile table and the Error report re-rendered with the format strings of Locust's
stats.py must give the same text, the three come in Locust's order, and their header and
separator lines equal real Locust's byte for byte (side by side, when Locust is
installed)."""

import os

import pytest

from conftest import LOCUST, SLACK, ok_fail_pair

LOCUSTFILE, SCENARIO = ok_fail_pair(0.05)

# Locust 2.12, stats.py, off a terminal: STATS_NAME_WIDTH 80, STATS_TYPE_WIDTH 8.
NAME_W, TYPE_W = 80, 8
COL_W = NAME_W - TYPE_W + 4
ROW = f"%-{TYPE_W}s %-{COL_W}s %7d %12s |%7d %7d %7d%7d | %7.2f %11.2f"
HEAD = (f"%-{TYPE_W}s %-{COL_W}s %7s %12s |%7s %7s %7s%7s | %7s %11s"
        % ("Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s",
           "failures/s"))
SEP = (f'{"-" * TYPE_W}|{"-" * COL_W}|{"-" * 7}|{"-" * 13}|{"-" * 7}|{"-" * 7}|{"-" * 7}|'
       f'{"-" * 7}|{"-" * 8}|{"-" * 11}')
PCTS = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
P_TITLE = "Response time percentiles (approximated)"
P_HEAD = (f"%-{TYPE_W}s %-{NAME_W}s %8s " + " ".join(["%6s"] * len(PCTS))) % (
    "Type", "Name", *PCTS, "# reqs")
P_SEP = f'{"-" * TYPE_W}|{"-" * NAME_W}|{"-" * 8}|{("-" * 6 + "|") * len(PCTS)}'[:-1]
P_ROW = f"%-{TYPE_W}s %-{NAME_W}s %8d " + " ".join(["%6d"] * len(PCTS))
E_HEAD = "%-18s %-100s" % ("# occurrences", "Error")
E_SEP = f'{"-" * 18}|{"-" * ((80 + NAME_W) - 19)}'


def summary(err):
    """The lines printed after the 'Shutting down' log line: the final summary."""
    i = err.rindex("Shutting down (exit code")
    return err[err.index("\n", i) + 1:].split("\n")


def split_blocks(lines):
    """The summary's blocks, each a list of lines, split at blank lines."""
    blocks, cur = [], []
    for line in lines:
        if line == "":
            if cur:
                blocks.append(cur)
            cur = []
        else:
            cur.append(line)
    if cur:
        blocks.append(cur)
    return blocks


def rerender_stats_row(line):
    typ, name, rest = line[:TYPE_W].rstrip(), line[TYPE_W + 1:TYPE_W + 1 + COL_W].rstrip(), \
        line[TYPE_W + 1 + COL_W:]
    counts, times, rates = rest.split("|")
    reqs, fails = counts.split()
    avg, mn, mx, med = (int(x) for x in times.split())
    rps, fps = (float(x) for x in rates.split())
    return ROW % (typ + " " if typ else "", name, int(reqs), fails, avg, mn, mx, med, rps, fps)


def rerender_percentile_row(line):
    typ, name = line[:TYPE_W].rstrip(), line[TYPE_W + 1:TYPE_W + 1 + NAME_W].rstrip()
    nums = [int(x) for x in line[TYPE_W + 1 + NAME_W:].split()]
    assert len(nums) == len(PCTS) + 1, line
    return P_ROW % (typ, name, *nums)


def rerender_error_row(line):
    n, text = line[:18], line[19:]
    return "%-18i %-100s" % (int(n), text.rstrip())


def skeleton(lines):
    """The lines that do not depend on the numbers: titles, headers, separators."""
    keep = {HEAD, SEP, P_TITLE, P_HEAD, P_SEP, "Error report", E_HEAD, E_SEP, ""}
    return [x for x in lines if x in keep]


@pytest.fixture(scope="module")
def runs(module_cicada, target_server):
    """(cicada Result, Locust Result or None), run side by side."""
    c = module_cicada
    c.write("locustfile.py", LOCUSTFILE)
    c.write("s.json", SCENARIO)
    common = ["--headless", "-u", 2, "-r", 2, "-t", "2s", "--host", target_server.url]
    theirs = None
    if os.access(LOCUST, os.X_OK):
        theirs = c.start("-f", "locustfile.py", *common, exe=LOCUST)
    mine = c.start("-f", "s.json", *common)
    return mine.wait(2 + SLACK), theirs.wait(15 + SLACK) if theirs else None


def test_summary_lines_are_locusts_format(runs):
    r = runs[0]
    assert r.rc == 1, r                                    # /fail fails
    blocks = split_blocks(summary(r.err))
    stats, pcts, errors = blocks[0], blocks[1], blocks[2]

    # The request table: header, separator, rows by name, separator, Aggregated.
    assert stats[:2] == [HEAD, SEP], stats
    assert stats[-2] == SEP and stats[-1].startswith(" " * (TYPE_W + 1) + "Aggregated ")
    assert [x[TYPE_W + 1:].split()[0] for x in stats[2:-2]] == ["/fail", "/ok"]
    for line in stats[2:-2] + stats[-1:]:
        assert rerender_stats_row(line) == line

    # Percentiles: the title, header, separator, rows, separator, Aggregated.
    assert pcts[:3] == [P_TITLE, P_HEAD, P_SEP], pcts
    assert pcts[-2] == P_SEP and len(pcts) == 7, pcts
    for line in pcts[3:-2] + pcts[-1:]:
        assert rerender_percentile_row(line) == line

    # The Error report follows the percentiles at once, as in Locust.
    assert errors[:3] == ["Error report", E_HEAD, E_SEP], errors
    assert errors[-1] == E_SEP and len(errors) == 5, errors
    row = errors[3]
    assert rerender_error_row(row) == row
    assert row[19:].startswith("GET /fail: HTTPError('500 Server Error: Internal Server Error "
                               "for url: http://127.0.0.1:"), row


def test_summary_skeleton_equals_locusts(runs):
    mine, theirs = runs
    if theirs is None:
        pytest.skip("needs Locust")
    assert theirs.rc == 1, theirs
    ours = skeleton(summary(mine.err))
    # cicada's own lines after Locust's tables (the Generator verdict) are not Locust's.
    assert ours[:len(skeleton(summary(theirs.err)))] == skeleton(summary(theirs.err))
