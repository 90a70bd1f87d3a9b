"""Shared fixtures for cicada's end-to-end tests.

Every cicada process runs with cwd = the test's tmp_path (so ./locust.conf is controlled),
HOME = an empty directory under it (so ~/.locust.conf cannot leak in), no LOCUST_*
variables from the caller, a run-time limit and a subprocess timeout. Processes started in
the background are killed by pid in teardown if they are still alive.
"""

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from target import Target  # noqa: E402

CICADA = os.environ.get("CICADA_BIN") or str(REPO / "cicada")
LOCUST = "/usr/bin/locust"

# Seconds a bounded run may take beyond its -t before a test gives up on it (ASan builds
# are 2-3 times slower to start and stop).
SLACK = 20


def ok_fail_pair(wait):
    """The same test for real Locust and for cicada, for side-by-side comparisons: one
    user class, two tasks (GET /ok and GET /fail), a constant wait. Returns (locustfile
    source, scenario)."""
    locustfile = f'''\
from locust import HttpUser, constant, task


class U(HttpUser):
    wait_time = constant({wait})

    @task
    def ok(self):
        self.client.get("/ok")

    @task
    def fail(self):
        self.client.get("/fail")
'''
    scenario = {"users": [{"name": "U", "wait_time": wait, "tasks": [
        {"name": "ok", "request": "GET /ok"}, {"name": "fail", "request": "GET /fail"}]}]}
    return locustfile, scenario


def free_port():
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port():
    """A port that refuses connections (bound, never listening, kept for the session)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed_port._keep.append(s)
    return s.getsockname()[1]


closed_port._keep = []


class Result:
    """A finished process: rc, out, err (text), elapsed seconds."""

    def __init__(self, args, rc, out, err, elapsed):
        self.args, self.rc, self.out, self.err, self.elapsed = args, rc, out, err, elapsed

    def __repr__(self):
        return (f"<Result rc={self.rc} args={self.args!r}\n--- stdout ---\n{self.out}"
                f"\n--- stderr ---\n{self.err[-4000:]}>")


class Proc:
    """A background process whose output goes to files in the work directory."""

    def __init__(self, args, cwd, env, name, **kw):
        self.args = args
        self.out_path = Path(cwd) / f"{name}.stdout"
        self.err_path = Path(cwd) / f"{name}.stderr"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(args, cwd=cwd, env=env, stdout=self._out, stderr=self._err,
                                  stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)
        self.pid = self.p.pid

    def signal(self, sig):
        if self.p.poll() is None:
            os.kill(self.pid, sig)

    def err_text(self):
        return self.err_path.read_text(errors="replace")

    def wait(self, timeout):
        """Waits for the exit (fails the test on timeout) and returns a Result."""
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.args!r} did not exit within {timeout} s:\n"
                        f"{self.err_text()[-3000:]}")
        elapsed = time.monotonic() - self.t0
        self._out.close()
        self._err.close()
        return Result(self.args, rc, self.out_path.read_text(errors="replace"),
                      self.err_text(), elapsed)

    def kill(self):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait(10)
        for f in (self._out, self._err):
            if not f.closed:
                f.close()


class Cicada:
    """Runs cicada (or Locust) in one test's work directory."""

    def __init__(self, tmp_path):
        self.dir = Path(tmp_path)
        self.home = self.dir / "home"
        self.home.mkdir(exist_ok=True)
        self.procs = []
        self._n = 0

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        env["HOME"] = str(self.home)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def write(self, name, content):
        """Writes a file in the work directory (dicts and lists as JSON); returns its name."""
        if not isinstance(content, (str, bytes)):
            content = json.dumps(content, indent=2)
        p = self.dir / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        return name

    def start(self, *args, env=None, exe=None, **kw):
        """Starts cicada in the background; returns a Proc (killed in teardown if alive)."""
        self._n += 1
        argv = [exe or CICADA] + [str(a) for a in args]
        p = Proc(argv, self.dir, env if env is not None else self.env(), f"run{self._n}",
                 **kw)
        self.procs.append(p)
        return p

    def run(self, *args, timeout=SLACK, env=None, exe=None):
        """Runs cicada to the end; returns a Result."""
        return self.start(*args, env=env, exe=exe).wait(timeout)

    def run_many(self, arglists, timeout=SLACK, env=None):
        """Runs several cicada processes at the same time; returns their Results in order."""
        procs = [self.start(*a, env=env) for a in arglists]
        return [p.wait(timeout) for p in procs]

    def path(self, name):
        return self.dir / name

    def cleanup(self):
        for p in self.procs:
            p.kill()


@pytest.fixture
def cicada(tmp_path):
    c = Cicada(tmp_path)
    yield c
    c.cleanup()


@pytest.fixture(scope="module")
def module_cicada(tmp_path_factory):
    """A Cicada for module-scoped fixtures that run processes once for several tests."""
    c = Cicada(tmp_path_factory.mktemp("run"))
    yield c
    c.cleanup()


@pytest.fixture(scope="module")
def target_server():
    t = Target().start()
    yield t
    t.stop()


@pytest.fixture
def target(target_server):
    """The module's target, with its counters reset for this test."""
    target_server.wait_idle(quiet=0.05, timeout=2)
    target_server.reset()
    return target_server


def _target_factory():
    made = []

    def make():
        t = Target().start()
        made.append(t)
        return t

    yield make
    for t in made:
        t.stop()


@pytest.fixture
def make_target():
    """Extra targets, for tests that run several cicada processes at once."""
    yield from _target_factory()


@pytest.fixture(scope="module")
def make_module_target():
    """make_target for module-scoped fixtures."""
    yield from _target_factory()


@pytest.fixture
def taken_port():
    """A port of 127.0.0.1 another program listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    yield s.getsockname()[1]
    s.close()


# ---- scenario and CSV helpers ----------------------------------------------------------

def scenario(tasks, host=None, name="U", wait=None, **cls):
    """A one-class scenario document. tasks: list of task objects or "GET /x" strings."""
    tl = [{"request": t} if isinstance(t, str) else t for t in tasks]
    c = {"name": name, "tasks": tl}
    if wait is not None:
        c["wait_time"] = wait
    c.update(cls)
    doc = {"users": [c]}
    if host:
        doc["host"] = host
    return doc


def read_csv(path):
    """Rows of a CSV file as lists of strings (checks nothing about line endings)."""
    text = Path(path).read_bytes().decode()
    return list(csv.reader(io.StringIO(text, newline="")))


def stats_rows(path):
    """PREFIX_stats.csv as {(Type, Name): {column: value}}."""
    rows = read_csv(path)
    head = rows[0]
    return {(r[0], r[1]): dict(zip(head, r)) for r in rows[1:]}


def aggregated(path):
    return stats_rows(path)[("", "Aggregated")]


def log_lines(text, level=None):
    """The log lines of a cicada stderr text ("[date] host/LEVEL/logger: msg")."""
    out = []
    for line in text.splitlines():
        if line.startswith("[") and "/" in line:
            if level is None or f"/{level}/" in line:
                out.append(line)
    return out


def stats_tables(text):
    """The request tables printed on the console (periodic ones and the final summary's
    first table), in order, each as {(Type, Name): (# reqs, "# fails" cell)}."""
    tables, cur = [], None
    for line in text.splitlines():
        if line.startswith("Type     Name") and "# fails" in line:
            cur = {}
            tables.append(cur)
            continue
        if cur is None:
            continue
        if not line.strip():
            cur = None
            continue
        if line.startswith("--------|"):
            continue
        name, reqs, fails = line[9:].split("|")[0].rsplit(None, 2)
        cur[(line[:8].strip(), name.strip())] = (int(reqs), fails)
    return tables


def failure_rows(path):
    """PREFIX_failures.csv as {(Method, Name, Error): occurrences}."""
    rows = read_csv(path)
    assert rows[0] == ["Method", "Name", "Error", "Occurrences"], rows[0]
    return {(r[0], r[1], r[2]): int(r[3]) for r in rows[1:]}


def exception_rows(path):
    """PREFIX_exceptions.csv as {(Message, Traceback): count}."""
    rows = read_csv(path)
    assert rows[0] == ["Count", "Message", "Traceback", "Nodes"], rows[0]
    return {(r[1], r[2]): int(r[0]) for r in rows[1:]}


def history_users(path):
    """The User Count of each Aggregated row of PREFIX_stats_history.csv, in order."""
    rows = read_csv(path)
    col = rows[0].index("User Count")
    return [int(r[col]) for r in rows[1:] if r[3] == "Aggregated"]


def text_pos(text, fragment, start=0):
    """The "line:col" (1-based, a character a column) of the first occurrence of fragment
    in text at or after start, as cicada reports positions in a scenario file."""
    i = text.index(fragment, start)
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return f"{line}:{col}"


def summary_table(text):
    """The final summary's request table (the last table before the percentiles)."""
    head = text.rindex("Response time percentiles (approximated)")
    tables = stats_tables(text[:head])
    assert tables, text
    return tables[-1]


# ---- web dashboards ---------------------------------------------------------------------

# Text a sanitizer prints when it finds a bug; a clean run never contains it.
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


class Dashboard:
    """A cicada (or Locust) process in web mode, reachable at `base` (http(s)://127.0.0.1:P).

    get()/post() are requests' functions bound to the base URL, with a timeout and, for
    TLS, no certificate check; every request opens its own connection."""

    def __init__(self, proc, port, scheme="http"):
        self.proc, self.port, self.scheme = proc, port, scheme
        self.base = f"{scheme}://127.0.0.1:{port}"

    def request(self, method, path, **kw):
        import requests
        kw.setdefault("timeout", 10)
        if self.scheme == "https":
            kw.setdefault("verify", False)
        return requests.request(method, self.base + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def stats(self, **kw):
        """GET /stats/requests as a dict (asserts a 200)."""
        r = self.get("/stats/requests", **kw)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def wait_for(self, pred, timeout, what):
        """Polls /stats/requests until pred(doc) is true; returns that doc (fails on
        timeout or when the process has exited)."""
        end = time.monotonic() + timeout
        doc = None
        while True:
            assert self.proc.p.poll() is None, f"exited while waiting for {what}:\n" + \
                self.proc.err_text()[-3000:]
            doc = self.stats()
            if pred(doc):
                return doc
            if time.monotonic() > end:
                pytest.fail(f"no {what} within {timeout} s; last /stats/requests: {doc}")
            time.sleep(0.1)

    def wait_state(self, state, timeout=SLACK):
        return self.wait_for(lambda d: d["state"] == state, timeout, f"state {state!r}")

    def stop_process(self, timeout=SLACK):
        """SIGTERM, then waits for the exit; returns the Result."""
        self.proc.signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def _wait_listening(proc, port, marker, timeout):
    """Waits until proc logged `marker` and accepts connections on port. Returns True when
    ready, False when the process exited (e.g. the port was taken meanwhile)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.p.poll() is not None:
            return False
        if marker is None or marker in proc.err_text():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                pass
        time.sleep(0.05)
    pytest.fail(f"{proc.args!r} did not listen on {port} within {timeout} s:\n"
                f"{proc.err_text()[-3000:]}")


def start_dashboard(c, *args, exe=None, scheme="http", env=None, timeout=SLACK):
    """Starts cicada (or Locust, with exe=LOCUST) in web mode on a free port of 127.0.0.1
    in Cicada c's work directory, waits until it listens, returns a Dashboard. Another
    process taking the port between the choice and the bind gets a retry on a new port."""
    for _ in range(3):
        port = free_port()
        if exe == LOCUST:
            web = ["--web-host", "127.0.0.1", "--web-port", port]
            marker = None
        else:
            web = ["--web-host", "127.0.0.1", "-P", port]
            marker = f"Starting web interface at {scheme}://127.0.0.1:{port}"
        proc = c.start(*args, *web, exe=exe, env=env)
        if _wait_listening(proc, port, marker, timeout):
            return Dashboard(proc, port, scheme)
        if "Address already in use" not in proc.err_text():
            pytest.fail(f"{proc.args!r} exited at start:\n{proc.err_text()[-3000:]}")
    pytest.fail("no free port for the dashboard after 3 tries")


def assert_clean_exit(result, codes=(0, 1)):
    """A dashboard process ended by SIGTERM: an expected code and no sanitizer report."""
    assert result.rc in codes, result
    for mark in SANITIZER_MARKS:
        assert mark not in result.err, result
