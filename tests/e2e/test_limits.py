"""Limits of the machine and the environment (issue 9, item 3): clear errors, not crashes.

- a port already in use (dashboard, master, with --processes): one line naming the flag and
  the port, exit code 1, nothing sent to the target, no output files;
- an open-file limit below the users: raised and said when the hard limit allows, a
  warning with advice when it does not, and the connections beyond it counted as failures
  (also in workers, --processes);
- ephemeral ports running out (a network namespace with an 11-port range): counted, with a
  failure text that says what to change;
- unwritable --csv / --html / --junit paths: refused at start-up, before anything is sent;
- a disk that fills up during the run (a 64 KiB tmpfs in a mount namespace): each file
  named with its errno, exit code 1, tables and history rows whole, no half report.

The namespace tests need root (unshare, mount); they skip with the reason otherwise.
"""

import csv
import io
import json
import os
import resource
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import (HERE, SANITIZER_MARKS, SLACK, Dashboard, _wait_listening,
                      assert_clean_exit, free_port, read_csv, scenario)

OK = scenario(["GET /ok"], wait={"constant": 0.2})
# One request each 0.1 s per user: a user that cannot connect fails fast and often.
FAST = scenario(["GET /ok"], wait={"constant": 0.1})


def error_lines(err):
    return [line for line in err.splitlines() if line.startswith("cicada: error:")]


def assert_no_sanitizer(r):
    for mark in SANITIZER_MARKS:
        assert mark not in r.err, r


def can_unshare(flag):
    try:
        return subprocess.run(["unshare", flag, "true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


# ---- ports in use --------------------------------------------------------------------

def assert_refused_start(cicada, target, r, *fragments):
    """Exit code 1, one error line holding every fragment, nothing sent, no files."""
    assert r.rc == 1, r
    lines = error_lines(r.err)
    assert len(lines) == 1, r
    for f in fragments:
        assert f in lines[0], r
    assert "Shutting down" not in r.err, r
    assert "Starting worker" not in r.err, r
    assert_no_sanitizer(r)
    time.sleep(0.3)
    assert target.total() == 0
    left = sorted(p.name for p in cicada.dir.iterdir()
                  if p.name.startswith(("C_", "r.html", "j.xml")))
    assert left == [], left


OUTPUTS = ["--csv", "C", "--html", "r.html", "--junit", "j.xml"]


def test_dashboard_port_in_use(cicada, target, taken_port):
    cicada.write("t.json", OK)
    r = cicada.run("-f", "t.json", "-H", target.url, "--autostart", "-u", 2, "-t", 3,
                   "--web-host", "127.0.0.1", "-P", taken_port, *OUTPUTS)
    assert_refused_start(cicada, target, r, f"bind 127.0.0.1:{taken_port}",
                         "Address already in use", f"-P/--web-port {taken_port}")


def test_master_port_in_use(cicada, target, taken_port):
    cicada.write("t.json", OK)
    r = cicada.run("-f", "t.json", "-H", target.url, "--headless", "--master",
                   "--master-bind-host", "127.0.0.1", "--master-bind-port", taken_port,
                   "--expect-workers", 1, "-u", 2, "-t", 3, *OUTPUTS)
    assert_refused_start(cicada, target, r, f"master port ({taken_port}) was busy",
                         "--master-bind-port")


@pytest.mark.parametrize("which", ["master", "dashboard"])
def test_port_in_use_with_processes(cicada, target, taken_port, which):
    """The forked workers never start: they would connect to whatever holds the port."""
    cicada.write("t.json", OK)
    if which == "master":
        ports = ["--headless", "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", taken_port]
        want = [f"master port ({taken_port}) was busy", "--master-bind-port"]
    else:
        ports = ["--autostart", "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", free_port(), "--web-host", "127.0.0.1",
                 "-P", taken_port]
        want = [f"-P/--web-port {taken_port}", "Address already in use"]
    r = cicada.run("-f", "t.json", "-H", target.url, "--processes", 2, "-u", 2, "-t", 3,
                   *ports, *OUTPUTS)
    assert_refused_start(cicada, target, r, *want)
    # The children ended at once, not after the parent's 5-second wait for them.
    assert r.elapsed < 4.5, r


# ---- open-file limit -------------------------------------------------------------------

def nofile(soft, hard):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def run_limited(cicada, soft, hard, *args, timeout=SLACK):
    return cicada.start(*args, preexec_fn=nofile(soft, hard)).wait(timeout)


def test_fd_limit_raised_to_the_hard_limit_and_said(cicada, target):
    cicada.write("t.json", OK)
    r = run_limited(cicada, 100, 1000, "-f", "t.json", "-H", target.url, "--headless",
                    "-u", 150, "-r", 150, "-t", 3, "--csv", "C")
    assert r.rc == 0, r
    assert "Raised the open-file limit from 100 to 1000 (the hard limit) for 150 users" in r.err
    assert "need more open files" not in r.err, r
    agg = read_csv(cicada.path("C_stats.csv"))[-1]
    assert agg[1] == "Aggregated" and int(agg[2]) >= 150 and agg[3] == "0", agg


def test_fd_limit_below_users_warns_and_counts_failures(cicada, target):
    cicada.write("t.json", FAST)
    r = run_limited(cicada, 100, 100, "-f", "t.json", "-H", target.url, "--headless",
                    "-u", 200, "-r", 200, "-t", 3, "--csv", "C", "--html", "r.html",
                    "--junit", "j.xml")
    assert r.rc == 1, r  # failures, not a crash
    assert_no_sanitizer(r)
    # The outputs were written all the same: the users held every other descriptor.
    assert "/ERROR/" not in r.err, r
    assert cicada.path("r.html").stat().st_size > 10000
    assert cicada.path("j.xml").read_text().startswith("<?xml")
    warn = [line for line in r.err.splitlines() if "/WARNING/" in line and "open files" in line]
    assert len(warn) == 1, r
    assert "200 users need more open files than the limit allows (100, hard limit 100" in warn[0]
    assert "ulimit -Hn" in warn[0] and "--processes" in warn[0]
    fails = {row[2]: int(row[3]) for row in read_csv(cicada.path("C_failures.csv"))[1:]}
    emfile = [e for e in fails if e.startswith("OSError(24, 'Too many open files: no free "
                                               "file descriptor")]
    assert emfile and fails[emfile[0]] > 0, fails
    assert "ulimit -n" in emfile[0]
    # The users that got a descriptor worked: the target saw their requests (and maybe
    # a few more, in flight when the test stopped).
    agg = read_csv(cicada.path("C_stats.csv"))[-1]
    ok = int(agg[2]) - int(agg[3])
    assert 0 < ok <= target.total() <= ok + 200, (agg, target.total())


def test_fd_limit_dashboard_keeps_answering(cicada, target):
    """A test started from the form is checked too, and users short of descriptors leave
    the dashboard some: it still answers, and Stop still stops."""
    cicada.write("t.json", FAST)
    port = free_port()
    proc = cicada.start("-f", "t.json", "-H", target.url, "--web-host", "127.0.0.1", "-P", port,
                        preexec_fn=nofile(100, 100))
    assert _wait_listening(proc, port, f"Starting web interface at http://127.0.0.1:{port}",
                           SLACK), proc.err_text()
    d = Dashboard(proc, port)
    assert d.post("/swarm", data={"user_count": 200, "spawn_rate": 200}).status_code == 200
    d.wait_for(lambda x: any("Too many open files" in e["error"] for e in x["errors"]),
               SLACK, "failures for lack of descriptors")
    for _ in range(10):
        assert d.get("/").status_code == 200
        assert d.stats()["state"] in ("spawning", "running")
    assert "200 users need more open files than the limit allows (100, hard limit 100" in \
        proc.err_text()
    assert d.get("/stop").status_code == 200
    d.wait_state("stopped")
    assert_clean_exit(d.stop_process(), codes=(1,))


@pytest.mark.parametrize("soft,hard", [(100, 1000), (100, 100)])
def test_fd_limit_in_processes_workers(cicada, target, soft, hard):
    """Each forked worker raises its own limit and checks it against its own users."""
    cicada.write("t.json", FAST)
    r = run_limited(cicada, soft, hard, "-f", "t.json", "-H", target.url, "--headless",
                    "--processes", 2, "--master-bind-host", "127.0.0.1",
                    "--master-bind-port", free_port(), "-u", 300, "-r", 300, "-t", 4,
                    "--csv", "C", timeout=SLACK + 10)
    assert_no_sanitizer(r)
    if hard >= 1000:
        assert r.rc == 0, r
        said = r.err.count(f"Raised the open-file limit from {soft} to {hard} (the hard "
                           "limit) for ")
        assert said >= 2, r
    else:
        assert r.rc == 1, r
        said = r.err.count("users need more open files than the limit allows (100, hard "
                           "limit 100")
        assert said >= 2, r
        fails = read_csv(cicada.path("C_failures.csv"))[1:]
        assert any("Too many open files" in row[2] for row in fails), fails


# ---- ephemeral ports ---------------------------------------------------------------------

NETNS_DRIVER = textwrap.dedent("""
    import json, subprocess, sys, time
    sys.path.insert(0, sys.argv[1])
    from target import Target
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    t = Target().start()   # its own port first, before the range is narrowed
    # 11 local ports, and no early reuse of TIME_WAIT ports on loopback
    subprocess.run(["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=40000 40010"],
                   check=True)
    subprocess.run(["sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=0"], check=True)
    p = subprocess.run(sys.argv[2:] + ["-H", t.url], capture_output=True, text=True,
                       timeout=60)
    time.sleep(0.3)
    print(json.dumps({"rc": p.returncode, "err": p.stderr, "total": t.total()}))
    t.stop()
""")


def test_ephemeral_ports_run_out(cicada):
    if not can_unshare("-n"):
        pytest.skip("unshare -n is not available (needs root or user namespaces): "
                    "cannot narrow the local port range safely")
    cicada.write("driver.py", NETNS_DRIVER)
    cicada.write("t.json", scenario([{"request": {"method": "GET", "url": "/ok",
                                                  "connection": "request"}}],
                                    wait={"constant": 0.05}))
    cmd = ["unshare", "-n", sys.executable, "driver.py", str(HERE),
           os.environ.get("CICADA_BIN") or str(HERE.parents[1] / "cicada"),
           "-f", "t.json", "--headless", "-u", 4, "-r", 4, "-t", 3, "--csv", "C"]
    p = subprocess.run([str(a) for a in cmd], cwd=cicada.dir, env=cicada.env(),
                       capture_output=True, text=True, timeout=SLACK + 40)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout.splitlines()[-1])
    assert res["rc"] == 1, res["err"]  # failures, not a crash
    for mark in SANITIZER_MARKS:
        assert mark not in res["err"], res["err"]
    fails = {row[2]: int(row[3]) for row in read_csv(cicada.path("C_failures.csv"))[1:]}
    text = ("OSError(99, 'Cannot assign requested address: no free local port for a new "
            "connection; reuse connections (keep-alive), widen net.ipv4.ip_local_port_range")
    hit = [e for e in fails if e.startswith(text)]
    assert hit and fails[hit[0]] > 0, fails
    # The ports there were served requests, and every one the target saw is counted.
    agg = read_csv(cicada.path("C_stats.csv"))[-1]
    ok = int(agg[2]) - int(agg[3])
    assert 0 < ok <= res["total"] <= 11 * 2, (agg, res)


# ---- unwritable output paths -------------------------------------------------------------

FLAGS = {
    # flag: (value given, path named in the error)
    "--csv": ("{d}/C", "{d}/C_stats.csv"),
    "--html": ("{d}/r.html", "{d}/r.html"),
    "--junit": ("{d}/j.xml", "{d}/j.xml"),
}


@pytest.mark.parametrize("flag", list(FLAGS))
@pytest.mark.parametrize("case", ["missing-dir", "is-a-directory", "read-only"])
def test_unwritable_output_path(cicada, target, flag, case):
    cicada.write("t.json", OK)
    given, named = FLAGS[flag]
    wrap = []
    if case == "missing-dir":
        d, reason = "nodir", "No such file or directory"
    elif case == "is-a-directory":
        d, reason = "out", "Is a directory"
        (cicada.dir / named.format(d=d)).mkdir(parents=True)
    else:
        d = "ro"
        (cicada.dir / d).mkdir()
        if os.geteuid() == 0:
            # Root writes through permissions: a read-only mount it is.
            if not can_unshare("-m"):
                pytest.skip("unshare -m is not available: no read-only directory for root")
            wrap = ["unshare", "-m", "sh", "-c",
                    'mount -t tmpfs -o ro,size=64k tmpfs ro && exec "$@"', "sh"]
            reason = "Read-only file system"
        else:
            os.chmod(cicada.dir / d, 0o555)
            reason = "Permission denied"
    args = ["-f", "t.json", "-H", target.url, "--headless", "-u", 1, "-t", 2,
            flag, given.format(d=d)]
    if wrap:
        exe = os.environ.get("CICADA_BIN") or str(HERE.parents[1] / "cicada")
        r = cicada.start(*wrap[1:], exe, *args, exe=wrap[0]).wait(SLACK)
    else:
        r = cicada.run(*args)
    assert r.rc == 1, r
    assert error_lines(r.err) == [f"cicada: error: {flag} {named.format(d=d)}: {reason}"], r
    assert "Ramping" not in r.err and "Starting cicada" not in r.err, r
    time.sleep(0.3)
    assert target.total() == 0


def test_csv_refused_start_leaves_files_as_they_were(cicada, target):
    """A later CSV file that cannot be written: the earlier ones keep their content and no
    new empty file is left behind."""
    cicada.write("t.json", OK)
    cicada.write("C_stats.csv", "an earlier run's table\r\n")
    cicada.path("C_failures.csv").mkdir()
    r = cicada.run("-f", "t.json", "-H", target.url, "--headless", "-u", 1, "-t", 2,
                   "--csv", "C")
    assert r.rc == 1, r
    assert error_lines(r.err) == ["cicada: error: --csv C_failures.csv: Is a directory"], r
    assert cicada.path("C_stats.csv").read_bytes() == b"an earlier run's table\r\n"
    assert not cicada.path("C_stats_history.csv").exists()
    assert not cicada.path("C_exceptions.csv").exists()
    assert target.total() == 0


# ---- a full disk during the run ------------------------------------------------------------

FULL_SCRIPT = textwrap.dedent("""
    set -u
    mount -t tmpfs -o size=64k tmpfs full || exit 99
    # 10 of the 16 pages taken: the four headers fit, the history fills the rest in a
    # second or two
    dd if=/dev/zero of=full/filler bs=4k count=10 status=none
    "$@"
    rc=$?
    cp -a full/. saved/
    exit $rc
""")


def test_full_disk_during_run(cicada, target):
    if not can_unshare("-m"):
        pytest.skip("unshare -m is not available: cannot mount a small tmpfs")
    # 30 names with --csv-full-history: ~7 KiB of history a second
    cicada.write("t.json", scenario([f"GET /ok?n={i}" for i in range(30)],
                                    wait={"constant": 0.05}))
    cicada.write("full.sh", FULL_SCRIPT)
    (cicada.dir / "full").mkdir()
    (cicada.dir / "saved").mkdir()
    exe = os.environ.get("CICADA_BIN") or str(HERE.parents[1] / "cicada")
    r = cicada.start("-m", "bash", "full.sh", exe, "-f", "t.json", "-H", target.url,
                     "--headless", "-u", 3, "-r", 3, "-t", 5, "--csv", "full/C",
                     "--csv-full-history", "--html", "full/r.html", exe="unshare"
                     ).wait(SLACK + 10)
    if r.rc == 99:
        pytest.skip(f"cannot mount a tmpfs: {r.err[-300:]}")
    assert_no_sanitizer(r)
    # The requests all succeeded: the exit code is the files'.
    assert "Shutting down (exit code 0)" in r.err, r
    assert r.rc == 1, r
    assert "Exit code 1, not 0: an output could not be written" in r.err, r
    hist_err = "--csv full/C_stats_history.csv: No space left on device"
    assert hist_err in r.err, r
    # ... said when it happened, during the run, not only at the end
    assert r.err.index(hist_err) < r.err.index("--run-time limit reached"), r
    assert "--csv full/C_stats_history.csv is incomplete" in r.err, r
    assert "--html full/r.html: No space left on device" in r.err, r

    saved = cicada.dir / "saved"
    files = sorted(p.name for p in saved.iterdir())
    # No report claiming to be whole, and no temporary files left behind.
    assert "r.html" not in files and not [f for f in files if ".tmp" in f], files
    # The history holds whole rows only.
    raw = (saved / "C_stats_history.csv").read_bytes()
    assert raw.endswith(b"\r\n"), raw[-200:]
    rows = list(csv.reader(io.StringIO(raw.decode(), newline="")))
    assert len(rows) > 1
    assert all(len(row) == len(rows[0]) for row in rows), [r for r in rows
                                                            if len(r) != len(rows[0])][:3]
    # Each table is a complete table of some second (or still the header alone, if the
    # disk was full from the first second on), with its Aggregated row.
    stats = read_csv(saved / "C_stats.csv")
    assert stats[0][:2] == ["Type", "Name"], stats[:1]
    assert len(stats) == 1 or stats[-1][1] == "Aggregated", stats[-3:]
    assert all(len(row) == len(stats[0]) for row in stats)
    assert read_csv(saved / "C_failures.csv")[0] == ["Method", "Name", "Error", "Occurrences"]


def test_logfile_on_a_full_disk_goes_on_on_stderr(cicada, target):
    """--logfile on a full disk would swallow every later line, the errors about the other
    files among them."""
    cicada.write("t.json", OK)
    os.symlink("/dev/full", cicada.path("full.log"))
    r = cicada.run("-f", "t.json", "-H", target.url, "--headless", "-u", 1, "-t", 2,
                   "--logfile", "full.log")
    assert r.rc == 0, r
    lines = r.err.splitlines()
    assert lines[0] == ("cicada: error: --logfile full.log: No space left on device; "
                        "logging to stderr from now on"), r
    assert "Starting cicada" in lines[1], r
    assert "Shutting down (exit code 0)" in r.err, r
