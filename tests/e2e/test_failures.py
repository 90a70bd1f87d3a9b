"""Failures: CSV rows in Locust's wording and quoting, the Error report, exit codes."""

import csv
import io

from conftest import SLACK, closed_port, read_csv, stats_rows, summary_table

# Locust's HttpUser names the full URL of a request that has no "name".
HTTP_500 = "HTTPError('500 Server Error: Internal Server Error for url: {url}/fail')"
HTTP_404 = "HTTPError('404 Client Error: Not Found for url: {url}/missing')"
NAMED_500 = "HTTPError('500 Server Error: Internal Server Error for url: broken')"
REFUSED = "ConnectionRefusedError(111, 'Connection refused')"


def csv_line(*fields):
    """A row as Python's csv.writer (Locust's writer) writes it."""
    buf = io.StringIO()
    csv.writer(buf).writerow(fields)
    return buf.getvalue().encode()


def failure_lines(path):
    return path.read_bytes().split(b"\r\n")


def error_report(text):
    """The Error report's rows: {"METHOD name: error": occurrences}."""
    lines = text[text.index("\nError report\n") + 1:].splitlines()
    assert lines[1].startswith("# occurrences      Error")
    assert lines[2].startswith("------------------|")
    out = {}
    for ln in lines[3:]:
        if ln.startswith("------------------|"):
            break
        n, err = ln.split(None, 1)
        # "%-18i %-100s": the count is padded to 18, the text to 100
        assert ln == f"{int(n):<18} {err.rstrip():<100}", repr(ln)
        out[err.rstrip()] = int(n)
    return out


def test_failures_csv_report_and_exit_codes(cicada, target, make_target):
    refused = closed_port()
    other = make_target()
    mixed = {"users": [{"name": "U", "wait_time": 0.02, "tasks": [
        {"request": "GET /ok"}, {"request": "GET /fail"}, {"request": "GET /missing"},
        {"request": {"url": "/fail", "name": "broken"}}]}]}
    clean = {"users": [{"name": "U", "wait_time": 0.02, "tasks": [{"request": "GET /ok"}]}]}
    cicada.write("mixed.json", mixed)
    cicada.write("clean.json", clean)
    default, custom, conn, ok = cicada.run_many([
        ["-f", "mixed.json", "-H", target.url, "--headless", "-u", 2, "-r", 10, "-t", "2s",
         "--csv", "A"],
        ["-f", "mixed.json", "-H", other.url, "--headless", "-u", 2, "-r", 10, "-t", "2s",
         "--csv", "B", "--exit-code-on-error", 3],
        ["-f", "clean.json", "-H", f"http://127.0.0.1:{refused}", "--headless", "-u", 2,
         "-r", 10, "-t", "2s", "--csv", "R"],
        ["-f", "clean.json", "-H", other.url, "--headless", "-u", 1, "-t", "2s",
         "--exit-code-on-error", 3],
    ], timeout=2 + SLACK)
    assert default.rc == 1, default
    assert custom.rc == 3, custom
    assert conn.rc == 1, conn
    assert ok.rc == 0, ok
    assert "Error report" not in ok.err

    # HTTP errors: one row per (method, name, error), with Locust's text, unquoted since
    # the text holds no comma; the count is the entry's failure count.
    target.wait_idle(quiet=0.2)
    http_500, http_404 = HTTP_500.format(url=target.url), HTTP_404.format(url=target.url)
    rows = stats_rows(cicada.path("A_stats.csv"))
    n_fail = int(rows[("GET", "/fail")]["Failure Count"])
    n_missing = int(rows[("GET", "/missing")]["Failure Count"])
    assert n_fail == int(rows[("GET", "/fail")]["Request Count"]) > 0
    assert n_missing == int(rows[("GET", "/missing")]["Request Count"]) > 0
    assert rows[("GET", "/ok")]["Failure Count"] == "0"
    n_named = int(rows[("GET", "broken")]["Failure Count"])
    assert n_named == int(rows[("GET", "broken")]["Request Count"]) > 0
    assert 0 <= target.count("GET", "/fail") - n_fail - n_named <= 2
    assert 0 <= target.count("GET", "/missing") - n_missing <= 2
    assert int(rows[("", "Aggregated")]["Failure Count"]) == n_fail + n_missing + n_named
    lines = failure_lines(cicada.path("A_failures.csv"))
    assert lines[0] == b"Method,Name,Error,Occurrences"
    assert lines[-1] == b""           # every line ends in CRLF, the last one too
    assert sorted(lines[1:-1]) == sorted([
        b"GET,/fail," + http_500.encode() + b",%d" % n_fail,
        b"GET,/missing," + http_404.encode() + b",%d" % n_missing,
        b"GET,broken," + NAMED_500.encode() + b",%d" % n_named])
    assert csv_line("GET", "/fail", http_500, n_fail) in cicada.path(
        "A_failures.csv").read_bytes()
    assert error_report(default.err) == {f"GET /fail: {http_500}": n_fail,
                                         f"GET /missing: {http_404}": n_missing,
                                         f"GET broken: {NAMED_500}": n_named}
    table = summary_table(default.err)
    assert table[("GET", "/fail")] == (n_fail, f"{n_fail}(100.00%)")

    # Connection refused: the text holds a comma, so the field is quoted.
    rows = stats_rows(cicada.path("R_stats.csv"))
    n = int(rows[("GET", "/ok")]["Failure Count"])
    assert n == int(rows[("GET", "/ok")]["Request Count"]) > 0
    lines = failure_lines(cicada.path("R_failures.csv"))
    assert lines[1:] == [b'GET,/ok,"' + REFUSED.encode() + b'",%d' % n, b""]
    assert lines[1] + b"\r\n" == csv_line("GET", "/ok", REFUSED, n)
    assert error_report(conn.err) == {f"GET /ok: {REFUSED}": n}
    assert read_csv(cicada.path("R_stats.csv"))[1][:4] == ["GET", "/ok", str(n), str(n)]
