"""C locustfiles (include/cicada.h, docs/c-api.md): `-f x.c` compiled into a cached shared
object, `-f x.so` prebuilt, C classes beside JSON ones, the examples against loopback
servers, hooks, misuse, stack overflows, and workers that build the C file they are sent.

Every test compiles into a cache under this module's own tmp directory (XDG_CACHE_HOME),
so builds are fresh and never touch ~/.cache; tests about the cache itself use one of
their own."""

import json
import re
import signal
import socketserver
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import (CICADA, REPO, SANITIZER_MARKS, SLACK, failure_rows, log_lines, read_csv,
                      stats_rows)
from test_distributed import start_master

# A program built with AddressSanitizer installs no SIGSEGV handler of its own.
ASAN = b"__asan_init" in Path(CICADA).read_bytes()


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """This module's compiler cache ($XDG_CACHE_HOME)."""
    return tmp_path_factory.mktemp("xdg-cache")


def refused(r):
    """A run that stopped before any user: exit code 1, and a clean one."""
    assert r.rc == 1, r
    assert "Ramping to" not in r.err, r
    for mark in SANITIZER_MARKS:
        assert mark not in r.err, r


def cenv(cicada, cache_dir, **extra):
    return cicada.env(XDG_CACHE_HOME=cache_dir, **extra)


def built(cache_dir, stem):
    """The shared objects built from <stem>.c in a cache, {path: mtime_ns}."""
    return {p: p.stat().st_mtime_ns for p in (Path(cache_dir) / "cicada").glob(f"{stem}-*.so")}


def plugin(body, classes):
    """A C locustfile: body (functions) and the cicada_add_class calls of its setup."""
    return ("#include <cicada.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
            "#include <string.h>\n#include <unistd.h>\n" + body +
            "\nstatic int setup(cicada_registry *reg)\n{\n" + classes +
            "\n    return 0;\n}\nCICADA_PLUGIN(setup)\n")


# One class "CUser" whose task GETs {url} named {name}.
SIMPLE = plugin(r"""
static void hit(cicada_user *u)
{
    cicada_response r;
    cicada_http(u, &(cicada_request){.url = URL, .name = NAME}, &r);
}
static const cicada_task tasks[] = {{.name = "hit", .weight = 1, .fn = hit}};
""", r"""
    if (cicada_add_class(reg, &(cicada_class){.name = "CUser", .weight = 1,
            .wait = CICADA_WAIT_BETWEEN, .wait_a = 0, .wait_b = 0.05,
            .tasks = tasks, .ntasks = 1}))
        return 1;""")


def simple(url="/ok", name="c ok"):
    return f'#define URL "{url}"\n#define NAME "{name}"\n' + SIMPLE


# ---- the examples ---------------------------------------------------------------------

def start_demo(cicada, cache_dir):
    """`cicada --demo-target 127.0.0.1:0`: (proc, port) once it listens."""
    demo = cicada.start("--demo-target", "127.0.0.1:0", env=cenv(cicada, cache_dir))
    end = time.monotonic() + 10
    while time.monotonic() < end:
        m = re.search(r"Demo target listening on http://127\.0\.0\.1:(\d+)", demo.err_text())
        if m:
            return demo, int(m.group(1))
        assert demo.p.poll() is None, demo.err_text()
        time.sleep(0.05)
    pytest.fail(f"the demo target did not start: {demo.err_text()}")


def demo_stats(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__demo/stats", timeout=5) as r:
        return json.loads(r.read())


def test_flow_example_against_the_demo_target(cicada, cache):
    demo, port = start_demo(cicada, cache)
    users = 6
    # The class's host is 127.0.0.1:8080; --host overrides it, as in Locust.
    r = cicada.run("-f", REPO / "examples" / "flow.c", "-H", f"http://127.0.0.1:{port}",
                   "--headless", "-u", users, "-r", users, "-t", "3s", "--csv", "F",
                   env=cenv(cicada, cache), timeout=3 + SLACK)
    # The demo target answers a few requests with 5xx on purpose: those are failures.
    assert r.rc in (0, 1), r
    assert 'All users spawned: {"Shopper": 6} (6 total users)' in r.err
    seen = demo_stats(port)["by_route"]
    rows = stats_rows(cicada.path("F_stats.csv"))
    names = {k for k in rows if k != ("", "Aggregated")}
    assert {("POST", "/api/login"), ("GET", "/api/products"), ("POST", "/api/cart")} <= names
    assert names <= {("POST", "/api/login"), ("GET", "/api/products"), ("POST", "/api/cart"),
                     ("POST", "/api/logout")}, names
    total = 0
    for method, name in names:
        n = int(rows[(method, name)]["Request Count"])
        total += n
        # The target also saw the requests in flight when the users were stopped.
        assert 0 <= seen.get(f"{method} {name}", 0) - n <= users, (method, name, seen, n)
    # on_start logged every user in, before its first task.
    assert int(rows[("POST", "/api/login")]["Request Count"]) >= users
    assert int(rows[("GET", "/api/products")]["Request Count"]) > users
    assert int(rows[("", "Aggregated")]["Request Count"]) == total
    assert 0 <= sum(v for k, v in seen.items() if k != "other") - total <= users
    demo.signal(signal.SIGTERM)
    demo.wait(SLACK)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        f = self.request.makefile("rb")
        for line in f:
            with self.server.lock:
                self.server.lines += 1
            try:
                self.request.sendall(line)
            except OSError:
                return


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Echo)
        self.lock = threading.Lock()
        self.lines = 0
        self.thread = threading.Thread(target=self.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


def test_echo_example_reports_a_non_http_protocol(cicada, cache):
    srv = EchoServer()
    users = 5
    try:
        r = cicada.run("-f", REPO / "examples" / "echo.c", "--headless", "-u", users, "-r",
                       users, "-t", "2s", "--csv", "E",
                       env=cenv(cicada, cache, ECHO_ADDR=f"127.0.0.1:{srv.server_address[1]}"),
                       timeout=2 + SLACK)
        time.sleep(0.2)
        lines = srv.lines
    finally:
        srv.stop()
    assert r.rc == 0, r
    rows = stats_rows(cicada.path("E_stats.csv"))
    assert set(rows) == {("echo", "connect"), ("echo", "ping"), ("", "Aggregated")}, rows
    # Each user connects once, in on_start.
    assert rows[("echo", "connect")]["Request Count"] == str(users)
    pings = int(rows[("echo", "ping")]["Request Count"])
    assert pings > users * 5, rows[("echo", "ping")]
    assert rows[("echo", "ping")]["Failure Count"] == "0"
    assert 0 <= lines - pings <= users, (lines, pings)
    # "ping N\n" comes back whole: the size reported is the line's.
    assert 7 <= float(rows[("echo", "ping")]["Average Content Size"]) <= 9
    assert read_csv(cicada.path("E_failures.csv")) == [["Method", "Name", "Error",
                                                         "Occurrences"]]
    # The console table shows the type like any method.
    assert re.search(r"^echo\s+ping\s", r.err, re.M), r.err


# ---- building -------------------------------------------------------------------------

BROKEN = plugin(r"""
static void t(cicada_user *u)
{
    cicada_response r;
    cicada_http(u, &(cicada_request){.url = "/ok"}, &r);
    int x = ;
}
static const cicada_task tasks[] = {{.name = "t", .weight = 1, .fn = t}};
""", "    cicada_add_class(reg, &(cicada_class){.name = \"B\", .tasks = tasks, .ntasks = 1});")


def test_compile_error_is_shown_and_nothing_starts(cicada, cache, target):
    cicada.write("broken.c", BROKEN)
    r = cicada.run("-f", "broken.c", "-H", target.url, "--headless", "-u", 2, "-t", "2s",
                   env=cenv(cicada, cache))
    refused(r)
    # The compiler's own message, with the file and line.
    line = BROKEN.splitlines().index("    int x = ;") + 1
    assert re.search(rf"^broken\.c:{line}:\d+: error: ", r.err, re.M), r.err
    assert "cicada: error: broken.c: the C compiler failed (its messages are above)" in r.err
    assert not built(cache, "broken")
    time.sleep(0.2)
    assert target.total() == 0


def test_no_compiler(cicada, tmp_path):
    cicada.write("nocc.c", simple())
    r = cicada.run("-f", "nocc.c", "--headless", "-u", 1, "-t", "1s",
                   env=cenv(cicada, tmp_path / "xdg", CC="/nonexistent"))
    refused(r)
    assert ('cicada: error: nocc.c: no C compiler ("/nonexistent" could not run): install '
            'gcc, or set CC') in r.err


def test_prebuilt_shared_object(cicada, cache, target):
    cicada.write("pre.c", simple("/ok?pre=1", "prebuilt"))
    subprocess.run(["cc", "-shared", "-fPIC", "-I", str(REPO / "include"), "-o", "pre.so",
                    "pre.c"], cwd=cicada.dir, check=True)
    # A bare name: loaded from the current directory, not searched in the library path.
    r = cicada.run("-f", "pre.so", "-H", target.url, "--headless", "-u", 2, "-r", 2,
                   "-t", "1s", "--csv", "P", env=cenv(cicada, cache), timeout=1 + SLACK)
    assert r.rc == 0, r
    target.wait_idle(quiet=0.1)
    n = int(stats_rows(cicada.path("P_stats.csv"))[("GET", "prebuilt")]["Request Count"])
    assert n > 2
    assert 0 <= target.count("GET", "/ok") - n <= 2
    # Nothing was compiled.
    assert not built(cache, "pre")


def test_prebuilt_with_the_header_from_the_cache(cicada, cache, target):
    """The header cicada writes next to its cache builds a plugin too."""
    cicada.write("first.c", simple())
    r = cicada.run("-f", "first.c", "-H", target.url, "--headless", "-u", 1, "-t", "1s",
                   env=cenv(cicada, cache), timeout=1 + SLACK)
    assert r.rc == 0, r
    inc = Path(cache) / "cicada" / "include"
    assert (inc / "cicada.h").read_bytes() == (REPO / "include" / "cicada.h").read_bytes()
    cicada.write("pre2.c", simple("/ok?pre=2", "prebuilt2"))
    subprocess.run(["cc", "-shared", "-fPIC", f"-I{inc}", "-o", "pre2.so", "pre2.c"],
                   cwd=cicada.dir, check=True)
    r = cicada.run("-f", cicada.path("pre2.so"), "-H", target.url, "--headless", "-u", 1,
                   "-t", "1s", "--csv", "P2", env=cenv(cicada, cache), timeout=1 + SLACK)
    assert r.rc == 0, r
    assert int(stats_rows(cicada.path("P2_stats.csv"))[("GET", "prebuilt2")]
               ["Request Count"]) > 0


def test_file_without_plugin_entry(cicada, cache):
    cicada.write("noentry.c", "#include <cicada.h>\nint nothing_here(void) { return 1; }\n")
    r = cicada.run("-f", "noentry.c", "--headless", "-u", 1, "-t", "1s",
                   env=cenv(cicada, cache))
    refused(r)
    assert ("cicada: error: noentry.c: no CICADA_PLUGIN(setup) in it (see docs/c-api.md)"
            in r.err)


def test_bad_class_is_refused(cicada, cache):
    cicada.write("badclass.c", plugin(
        "static void t(cicada_user *u) { (void)u; }\n"
        "static const cicada_task tasks[] = {{.name = \"t\", .fn = t}};\n",
        "    cicada_add_class(reg, &(cicada_class){.name = \"Bad\", .weight = 1,"
        " .wait = CICADA_WAIT_BETWEEN, .wait_a = 2, .wait_b = 1, .tasks = tasks,"
        " .ntasks = 1});"))
    r = cicada.run("-f", "badclass.c", "--headless", "-u", 1, "-t", "1s",
                   env=cenv(cicada, cache))
    refused(r)
    assert "badclass.c: cicada_add_class(Bad): a bad wait time" in r.err
    assert ("cicada: error: badclass.c: its setup function failed (returned 0; 1 class "
            "errors logged)") in r.err


def test_cache_reuse_and_rebuild(cicada, tmp_path, target):
    xdg = tmp_path / "xdg"
    log = tmp_path / "cc.log"
    # A compiler that says when it runs.
    wrapper = tmp_path / "cc-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec cc "$@"\n')
    wrapper.chmod(0o755)
    cicada.write("cached.c", simple("/ok?cached=1", "cached"))

    def run(cc=wrapper):
        r = cicada.run("-f", "cached.c", "-H", target.url, "--headless", "-u", 1, "-t",
                       "1s", env=cenv(cicada, xdg, CC=cc), timeout=1 + SLACK)
        assert r.rc == 0, r
        return built(xdg, "cached")

    first = run()
    assert len(first) == 1
    assert len(log.read_text().splitlines()) == 1
    # The compiler was told where cicada.h is, and what to build.
    assert f"-I{xdg}/cicada/include" in log.read_text()
    assert (xdg / "cicada" / "include" / "cicada.h").exists()
    # Again: the same object, untouched, no compiler run; not even one is needed.
    assert run() == first
    assert run(cc="/nonexistent") == first
    assert len(log.read_text().splitlines()) == 1
    # An edit rebuilds (a new object beside the old one).
    with open(cicada.path("cached.c"), "a") as f:
        f.write("/* edited */\n")
    after = run()
    assert len(after) == 2 and set(first) < set(after), after
    assert len(log.read_text().splitlines()) == 2


def test_docs_complete_examples_load(cicada, cache):
    """Every complete C file in docs/c-api.md (a ```c block with CICADA_PLUGIN) builds and
    loads."""
    text = (REPO / "docs" / "c-api.md").read_text()
    blocks = [b for b in re.findall(r"^```c\n(.*?)^```", text, re.M | re.S)
              if "CICADA_PLUGIN(" in b and "#include <cicada.h>" in b]
    assert blocks
    for i, b in enumerate(blocks):
        name = cicada.write(f"doc{i}.c", b)
        r = cicada.run("-f", name, "--list", env=cenv(cicada, cache))
        assert r.rc == 0, (b, r)
        assert "Available Users:" in r.out + r.err, r


# ---- C beside JSON --------------------------------------------------------------------

def test_mixed_json_and_c_classes(cicada, cache, target):
    cicada.write("j.json", {"users": [{"name": "JUser", "weight": 3,
                                       "wait_time": {"between": [0, 0.05]},
                                       "tasks": [{"request": {"url": "/ok",
                                                              "name": "json ok"}}]}]})
    cicada.write("c.c", simple("/echo?from=c", "c echo"))
    users = 8
    r = cicada.run("-f", "j.json,c.c", "-H", target.url, "--headless", "-u", users, "-r",
                   users, "-t", "2s", "--csv", "M", env=cenv(cicada, cache),
                   timeout=2 + SLACK)
    assert r.rc == 0, r
    assert 'All users spawned: {"CUser": 2, "JUser": 6} (8 total users)' in r.err
    target.wait_idle(quiet=0.1)
    rows = stats_rows(cicada.path("M_stats.csv"))
    assert set(rows) == {("GET", "json ok"), ("GET", "c echo"), ("", "Aggregated")}
    j = int(rows[("GET", "json ok")]["Request Count"])
    c = int(rows[("GET", "c echo")]["Request Count"])
    assert j > 0 and c > 0
    assert 0 <= target.count("GET", "/ok") - j <= 6
    assert 0 <= target.count("GET", "/echo") - c <= 2
    # Three JSON users for one C user, making requests at the same pace.
    assert 1.5 < j / c < 6, (j, c)


def test_duplicate_class_name_across_json_and_c(cicada, cache):
    cicada.write("j.json", {"users": [{"name": "CUser", "tasks": [{"request": "/ok"}]}]})
    cicada.write("dup.c", simple())
    r = cicada.run("-f", "j.json,dup.c", "--headless", "-u", 1, "-t", "1s",
                   env=cenv(cicada, cache))
    refused(r)
    assert 'dup.c: user class "CUser" is already defined in j.json' in r.err


# ---- hooks and misuse -----------------------------------------------------------------

HOOKS = plugin(r"""
#include <stdarg.h>

static FILE *out;
static cicada_user *first;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}

static void begin(cicada_user *u)
{
    if (!first)
        first = u;
}

static void hit(cicada_user *u)
{
    cicada_response r;
    cicada_http(u, &(cicada_request){.url = "/ok", .name = "hooked"}, &r);
}

static void on_event(void *data, const cicada_request_info *i)
{
    if (i)
        say("request %s %s %d", i->type, i->name, i->error != NULL);
    else
        say("%s", (const char *)data);
}

/* Suspending calls from a hook (the loop's stack): never allowed. */
static void misuse(void *data, const cicada_request_info *i)
{
    on_event(data, i);
    cicada_response r;
    cicada_user *u = first;
    const char *when = data;
    say("misuse %s http=%d", when, cicada_http(u, &(cicada_request){.url = "/ok"}, &r));
    say("misuse %s sleep=%d", when, cicada_sleep(u, 0.1));
    say("misuse %s wait_fd=%d", when, cicada_wait_fd(u, 0, 1, 0.1));
}

static const cicada_task tasks[] = {{.name = "hit", .weight = 1, .fn = hit}};
""", r"""
    out = fopen(getenv("HOOK_OUT"), "w");
    if (!out)
        return 1;
    say("init");
    cicada_on(reg, CICADA_ON_TEST_START, misuse, "test_start");
    cicada_on(reg, CICADA_ON_SPAWNING_COMPLETE, misuse, "spawning_complete");
    cicada_on(reg, CICADA_ON_TEST_STOP, on_event, "test_stop");
    cicada_on(reg, CICADA_ON_REQUEST, on_event, "request");
    if (cicada_add_class(reg, &(cicada_class){.name = "Hooked", .weight = 3,
            .wait = CICADA_WAIT_CONSTANT, .wait_a = 0.05, .on_start = begin,
            .tasks = tasks, .ntasks = 1}))
        return 1;""")


@pytest.fixture(scope="module")
def hooked(module_cicada, cache, make_module_target):
    """One run of HOOKS (3 C users) beside a JSON class (1 user)."""
    c = module_cicada
    t = make_module_target()
    c.write("hooks.c", HOOKS)
    c.write("hj.json", {"users": [{"name": "JHooked", "wait_time": 0.05,
                                   "tasks": [{"request": {"url": "/ok?j=1",
                                                          "name": "json hooked"}}]}]})
    c.result = c.run("-f", "hooks.c,hj.json", "-H", t.url, "--headless", "-u", 4, "-r", 4,
                     "-t", "1s", "--csv", "H", env=cenv(c, cache, HOOK_OUT=c.path("hooks.out")),
                     timeout=1 + SLACK)
    c.events = c.path("hooks.out").read_text().splitlines()
    return c


def test_hooks_fire(hooked):
    r, ev = hooked.result, hooked.events
    assert r.rc == 0, r
    assert 'All users spawned: {"Hooked": 3, "JHooked": 1} (4 total users)' in r.err
    assert ev[0] == "init"
    assert ev[1] == "test_start"
    assert ev.count("test_start") == ev.count("spawning_complete") == 1
    assert ev.count("test_stop") == 1 and ev[-1] == "test_stop"
    assert ev.index("spawning_complete") < ev.index("test_stop")
    rows = stats_rows(hooked.path("H_stats.csv"))
    # Every request of every user, C or JSON, exactly as counted.
    for name in ("hooked", "json hooked"):
        n = int(rows[("GET", name)]["Request Count"])
        assert n > 0
        assert ev.count(f"request GET {name} 0") == n, (name, n)
    assert len([e for e in ev if e.startswith("request ")]) == \
        int(rows[("", "Aggregated")]["Request Count"])


def test_suspending_calls_outside_a_task_are_misuse(hooked):
    r, ev = hooked.result, hooked.events
    for when in ("test_start", "spawning_complete"):
        for what in ("http", "sleep", "wait_fd"):
            assert f"misuse {when} {what}=-4" in ev, ev[:20]     # CICADA_MISUSE
    errors = "\n".join(log_lines(r.err, "ERROR"))
    for fn in ("cicada_http", "cicada_sleep", "cicada_wait_fd"):
        assert (f"cicada.capi: {fn} called outside a task of that user: it must be called "
                f"from a task, on_start or on_stop function") in errors, errors


# ---- fd waits, manual requests --------------------------------------------------------

WAITFD = plugin(r"""
#include <sys/socket.h>

struct pair {
    int fd[2];
};

static void open_pair(cicada_user *u)
{
    struct pair *p = cicada_context(u);
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p->fd);
}

static void close_pair(cicada_user *u)
{
    struct pair *p = cicada_context(u);
    close(p->fd[0]);
    close(p->fd[1]);
}

static const char *what(int rc, int want)
{
    return rc == want ? NULL : "unexpected";
}

static void waits(cicada_user *u)
{
    struct pair *p = cicada_context(u);
    double t0 = cicada_now(u);
    /* Nobody writes: the timeout passes first. */
    int rc = cicada_wait_fd(u, p->fd[0], 1, 0.2);
    if (rc == CICADA_STOPPED)
        return;
    cicada_report(u, "fd", "timeout", (cicada_now(u) - t0) * 1000, 0, what(rc, CICADA_TIMEOUT));
    /* Readable once there is something to read. */
    if (write(p->fd[1], "x", 1) != 1)
        cicada_report(u, "fd", "write", -1, 0, "write failed");
    t0 = cicada_now(u);
    rc = cicada_wait_fd(u, p->fd[0], 1, 5);
    if (rc == CICADA_STOPPED)
        return;
    char b;
    ssize_t n = read(p->fd[0], &b, 1);
    cicada_report(u, "fd", "readable", (cicada_now(u) - t0) * 1000, (size_t)n, what(rc, 1));
    /* Writable at once; asked for both, only writable. */
    rc = cicada_wait_fd(u, p->fd[1], 3, 5);
    if (rc == CICADA_STOPPED)
        return;
    cicada_report(u, "fd", "writable", -1, 0, what(rc, 2));
    /* Bad arguments. */
    cicada_report(u, "fd", "misuse", -1, 0, what(cicada_wait_fd(u, -1, 1, 0), CICADA_MISUSE));
}

static const cicada_task tasks[] = {{.name = "waits", .weight = 1, .fn = waits}};
""", r"""
    if (cicada_add_class(reg, &(cicada_class){.name = "Waiter", .weight = 1,
            .on_start = open_pair, .on_stop = close_pair, .tasks = tasks, .ntasks = 1,
            .context_size = sizeof(struct pair)}))
        return 1;""")


def test_wait_fd_timeout_and_readiness(cicada, cache):
    cicada.write("waitfd.c", WAITFD)
    r = cicada.run("-f", "waitfd.c", "--headless", "-u", 2, "-r", 2, "-t", "2s", "--csv", "W",
                   env=cenv(cicada, cache), timeout=2 + SLACK)
    assert r.rc == 0, r
    rows = stats_rows(cicada.path("W_stats.csv"))
    assert set(rows) == {("fd", n) for n in ("timeout", "readable", "writable", "misuse")} | \
        {("", "Aggregated")}, rows.keys()
    timeout = rows[("fd", "timeout")]
    assert int(timeout["Request Count"]) >= 4
    assert 195 <= float(timeout["Min Response Time"]) <= 260, timeout
    assert float(timeout["Max Response Time"]) < 1000, timeout
    assert float(rows[("fd", "readable")]["Max Response Time"]) < 500
    assert float(rows[("fd", "readable")]["Average Content Size"]) == 1
    assert rows[("", "Aggregated")]["Failure Count"] == "0"
    assert "cicada_wait_fd: a bad fd, events or timeout" in r.err


MANUAL = plugin(r"""
static void judge(cicada_user *u)
{
    cicada_response r;
    cicada_http(u, &(cicada_request){.url = "/ok", .name = "judged", .manual = 1}, &r);
    if (r.status == 200)
        cicada_failure(u, "custom verdict: no token in the answer");
    cicada_http(u, &(cicada_request){.url = "/fail", .name = "forgiven", .manual = 1}, &r);
    if (r.status == 500 && r.error)
        cicada_success(u);
}
static const cicada_task tasks[] = {{.name = "judge", .weight = 1, .fn = judge}};
""", r"""
    if (cicada_add_class(reg, &(cicada_class){.name = "Judge", .weight = 1,
            .wait = CICADA_WAIT_CONSTANT, .wait_a = 0.05, .tasks = tasks, .ntasks = 1}))
        return 1;""")


def test_manual_failure_text_in_failures_csv(cicada, cache, target):
    cicada.write("manual.c", MANUAL)
    r = cicada.run("-f", "manual.c", "-H", target.url, "--headless", "-u", 2, "-r", 2,
                   "-t", "1s", "--csv", "J", env=cenv(cicada, cache), timeout=1 + SLACK)
    assert r.rc == 1, r     # there are failures
    target.wait_idle(quiet=0.1)
    rows = stats_rows(cicada.path("J_stats.csv"))
    judged, forgiven = rows[("GET", "judged")], rows[("GET", "forgiven")]
    n = int(judged["Request Count"])
    assert n > 2
    assert judged["Failure Count"] == str(n)
    assert int(forgiven["Request Count"]) > 2 and forgiven["Failure Count"] == "0"
    assert failure_rows(cicada.path("J_failures.csv")) == {
        ("GET", "judged", "custom verdict: no token in the answer"): n}
    assert 0 <= target.count("GET", "/ok") - n <= 2


UNJUDGED = plugin(r"""
static void ask(cicada_user *u)
{
    cicada_response r;
    cicada_http(u, &(cicada_request){.url = "/ok", .name = "unjudged", .manual = 1}, &r);
}
static const cicada_task tasks[] = {{.name = "ask", .weight = 1, .fn = ask}};
""", r"""
    if (cicada_add_class(reg, &(cicada_class){.name = "Unjudged", .weight = 1,
            .wait = CICADA_WAIT_CONSTANT, .wait_a = 0.2, .tasks = tasks, .ntasks = 1}))
        return 1;""")


def test_unjudged_manual_request_counts_as_its_status(cicada, cache, target):
    cicada.write("unjudged.c", UNJUDGED)
    # A generous stop timeout: every task ends by itself, nothing is in flight at the end.
    r = cicada.run("-f", "unjudged.c", "-H", target.url, "--headless", "-u", 2, "-r", 2,
                   "-t", "1s", "-s", "5", "--csv", "U", env=cenv(cicada, cache),
                   timeout=1 + SLACK)
    assert r.rc == 0, r
    target.wait_idle(quiet=0.1)
    n = int(stats_rows(cicada.path("U_stats.csv"))[("GET", "unjudged")]["Request Count"])
    assert n == target.count("GET", "/ok") > 0


# ---- stack overflow -------------------------------------------------------------------

DEEP = plugin(r"""
static int dive(int n)
{
    volatile char frame[8192];
    memset((char *)frame, n, sizeof frame);
    return n == 0 ? frame[5] : dive(n - 1) + frame[100];
}
static void deep(cicada_user *u)
{
    (void)u;
    dive(1000);
}
static const cicada_task tasks[] = {{.name = "deep dive", .weight = 1, .fn = deep}};
""", r"""
    if (cicada_add_class(reg, &(cicada_class){.name = "Diver", .weight = 1, .tasks = tasks,
            .ntasks = 1}))
        return 1;""")


@pytest.mark.skipif(ASAN, reason="under AddressSanitizer the guard page handler is not "
                    "installed (ASan reports the overflow itself)")
def test_stack_overflow_names_the_task(cicada, cache):
    cicada.write("deep.c", DEEP)
    r = cicada.run("-f", "deep.c", "--headless", "-u", 1, "-t", "5s", env=cenv(cicada, cache))
    assert r.rc == -signal.SIGSEGV, r
    assert re.search(r"^cicada: stack overflow in deep dive \(stack of \d+ bytes\): keep "
                     r"large buffers off the task's stack", r.err, re.M), r.err
    assert r.elapsed < 5


# ---- distributed ----------------------------------------------------------------------

# The class's host comes from $DIST_HOST when set (NULL: --host).
DIST = plugin(r"""
static void hit(cicada_user *u)
{
    char url[64];
    snprintf(url, sizeof url, "/ok?w=%u", cicada_worker_index(u));
    cicada_response r;
    cicada_http(u, &(cicada_request){.url = url, .name = "dist ok"}, &r);
}
static const cicada_task tasks[] = {{.name = "hit", .weight = 1, .fn = hit}};
""", r"""
    if (cicada_add_class(reg, &(cicada_class){.name = "Dist", .weight = 1,
            .host = getenv("DIST_HOST"), .wait = CICADA_WAIT_BETWEEN, .wait_a = 0,
            .wait_b = 0.05, .tasks = tasks, .ntasks = 1}))
        return 1;""")


def distributed(cicada, tmp_path, master_args, worker_env, workers=2, users=4, secs=3):
    """A headless master running dist.c with `workers` workers, each with an empty cache
    of its own; returns (master Result, worker Results, worker caches)."""
    cicada.write("dist.c", DIST)
    mproc, port, _ = start_master(cicada, "-f", "dist.c", "--headless", "-u", users, "-r",
                                  users, "-t", f"{secs}s", "--expect-workers", workers,
                                  *master_args)
    caches = [tmp_path / f"wcache{i}" for i in range(workers)]
    procs = [cicada.start("--worker", "--master-host", "127.0.0.1", "--master-port", port,
                          env=cenv(cicada, caches[i], **worker_env)) for i in range(workers)]
    r = mproc.wait(secs + 2 * SLACK)
    return r, [w.wait(SLACK) for w in procs], caches


def check_distributed_counts(cicada, r, ws, target, users):
    assert r.rc == 0, r
    for w in ws:
        assert w.rc == 0, w
    target.wait_idle(quiet=0.2)
    rows = stats_rows(cicada.path("D_stats.csv"))
    assert set(rows) == {("GET", "dist ok"), ("", "Aggregated")}, rows.keys()
    n = int(rows[("", "Aggregated")]["Request Count"])
    assert n > users
    assert 0 <= target.total() - n <= users, (target.total(), n)
    # Both workers ran users, each with its own index (0-based, as {{worker_index}}).
    assert {q.query for q in target.requests()} == {"w=0", "w=1"}


def test_workers_build_the_c_file(cicada, tmp_path, target):
    r, ws, caches = distributed(cicada, tmp_path, ["--csv", "D"],
                                {"DIST_HOST": target.url})
    check_distributed_counts(cicada, r, ws, target, 4)
    # Each worker compiled the file it was sent into its own (empty) cache.
    for cd in caches:
        assert len(built(cd, "dist")) == 1, list((cd / "cicada").iterdir())
    assert {p.name for p in built(caches[0], "dist")} == \
        {p.name for p in built(caches[1], "dist")}


def test_workers_relative_urls_with_host_option(cicada, tmp_path, target):
    r, ws, _ = distributed(cicada, tmp_path, ["-H", target.url, "--csv", "D"], {})
    check_distributed_counts(cicada, r, ws, target, 4)


def test_worker_without_a_compiler_refuses(cicada, tmp_path, target):
    r, ws, _ = distributed(cicada, tmp_path, [], {"DIST_HOST": target.url,
                                                  "CC": "/nonexistent"},
                           workers=1, users=2, secs=2)
    assert re.search(r"/ERROR/cicada\.master: Worker \S+: \S*dist\.c: no C compiler "
                     r'\("/nonexistent" could not run\)', r.err), r.err
    w = ws[0]
    assert 'no C compiler ("/nonexistent" could not run)' in w.err
    assert "All users spawned" not in w.err
    # Its share leaves the plan: with no other worker, the test stops rather than idle,
    # naming the worker's error, and the headless master exits 1 (nothing could run).
    assert re.search(r"/ERROR/cicada\.main: No worker can run this test, stopping it: "
                     r"worker \S+: \S*dist\.c: no C compiler", r.err), r.err
    assert r.rc == 1, r
    time.sleep(0.2)
    assert target.total() == 0


# ---- the HTTP options of scenario requests ----------------------------------------------

OPTIONS = plugin(r"""
static void flow(cicada_user *u)
{
    cicada_response r;
    /* Each option must hold for its own request only: the next one goes without. */
    cicada_http(u, &(cicada_request){.url = "/ok?auth", .auth = "u:p:w"}, &r);
    cicada_http(u, &(cicada_request){.url = "/ok?plain"}, &r);
    cicada_http(u, &(cicada_request){.url = "/ok?fresh",
                                     .connection = CICADA_CONN_REQUEST}, &r);
    cicada_http(u, &(cicada_request){.url = "/ok?kept"}, &r);
    if (cicada_http(u, &(cicada_request){.url = "/ok?bad", .connection = 7}, &r) ==
        CICADA_MISUSE)
        cicada_report(u, "misuse", "connection 7", 0, 0, NULL);
}
static const cicada_task tasks[] = {{.name = "flow", .weight = 1, .fn = flow}};
""", r"""
    if (cicada_add_class(reg, &(cicada_class){.name = "Options", .weight = 1,
            .wait = CICADA_WAIT_CONSTANT, .wait_a = 0.02, .tasks = tasks, .ntasks = 1}))
        return 1;""")


def test_request_options_hold_for_their_own_request(cicada, cache, target):
    cicada.write("options.c", OPTIONS)
    r = cicada.run("-f", "options.c", "-H", target.url, "--headless", "-u", 2, "-r", 2,
                   "-t", "1s", "-s", "5", "--csv", "O", env=cenv(cicada, cache),
                   timeout=1 + SLACK)
    assert r.rc == 0, r
    assert "cicada_http: connection 7 is not a cicada_connection" in r.err, r.err
    target.wait_idle(quiet=0.1)
    by = {}
    for x in target.requests(path="/ok"):
        by.setdefault(x.query, []).append(x)
    assert set(by) == {"auth", "plain", "fresh", "kept"}, set(by)
    auth = lambda x: [v for k, v in x.headers if k.lower() == "authorization"]
    assert {tuple(auth(x)) for x in by["auth"]} == {("Basic dTpwOnc=",)}
    assert all(auth(x) == [] for x in by["plain"] + by["fresh"] + by["kept"])
    # A fresh connection for every /ok?fresh; the others keep one per user.
    fresh = [x.conn_id for x in by["fresh"]]
    assert len(fresh) == len(set(fresh)) > 2, fresh
    others = {x.conn_id for q in ("auth", "plain", "kept") for x in by[q]} - set(fresh)
    assert len(others) <= 2 * 2, others     # per user: its kept connection, and the one
    #                                          opened after each fresh one is closed
    rows = stats_rows(cicada.path("O_stats.csv"))
    assert int(rows[("misuse", "connection 7")]["Request Count"]) > 2


TLS_OPTIONS = plugin(r"""
static void flow(cicada_user *u)
{
    cicada_response r;
    cicada_http(u, &(cicada_request){.url = "/ok?strict", .name = "strict"}, &r);
    cicada_http(u, &(cicada_request){.url = "/ok?insecure", .insecure = 1}, &r);
    cicada_http(u, &(cicada_request){.url = "/ok?cert", .insecure = 1,
                                     .client_cert = "client.pem",
                                     .client_key = "client.key"}, &r);
}
static const cicada_task tasks[] = {{.name = "flow", .weight = 1, .fn = flow}};
""", r"""
    if (cicada_add_class(reg, &(cicada_class){.name = "Tls", .weight = 1,
            .wait = CICADA_WAIT_CONSTANT, .wait_a = 0.02, .tasks = tasks, .ntasks = 1}))
        return 1;""")


def test_tls_options(cicada, cache):
    import shutil
    from test_lang_http import tls_target
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make the test certificates")
    t = tls_target(cicada.dir)
    try:
        cicada.write("tls.c", TLS_OPTIONS)
        r = cicada.run("-f", "tls.c", "-H", t.url, "--headless", "-u", 2, "-r", 2, "-t",
                       "1s", "-s", "5", "--csv", "T", env=cenv(cicada, cache),
                       timeout=1 + SLACK)
        t.wait_idle(quiet=0.1)
        reqs = t.requests(path="/ok")
    finally:
        t.stop()
    assert r.rc == 1, r                  # "strict" fails: the certificate is self-signed
    fails = failure_rows(cicada.path("T_failures.csv"))
    assert {(m, n) for m, n, _ in fails} == {("GET", "strict")}, fails
    q = {}
    for x in reqs:
        q.setdefault(x.query, []).append(x)
    assert "strict" not in q and q["insecure"] and q["cert"], set(q)
    # The client certificate goes with the request that names it, and only with it.
    assert {x.extra.get("peer_cn") for x in q["cert"]} == {"cicada-client"}
    assert {x.extra.get("peer_cn") for x in q["insecure"]} == {None}


# ---- a body cut at 16 MiB ------------------------------------------------------------------

TRUNCATED = plugin(r"""
static void get(cicada_user *u)
{
    cicada_response r;
    cicada_http(u, &(cicada_request){.url = URL, .name = "big", .manual = 1}, &r);
    if (r.truncated && r.body_len == 16u << 20)
        cicada_success(u);
    else
        cicada_failure(u, r.truncated ? "cut elsewhere" : "not truncated");
    cicada_http(u, &(cicada_request){.url = "/ok", .name = "small", .manual = 1}, &r);
    if (r.truncated)
        cicada_failure(u, "a small body truncated");
    else
        cicada_success(u);
}
static const cicada_task tasks[] = {{.name = "get", .weight = 1, .fn = get}};
""", r"""
    if (cicada_add_class(reg, &(cicada_class){.name = "Big", .weight = 1,
            .wait = CICADA_WAIT_CONSTANT, .wait_a = 0.1, .tasks = tasks, .ntasks = 1}))
        return 1;""")


def test_response_says_when_its_body_was_cut(cicada, cache):
    from test_hostile import Hostile
    h = Hostile()
    try:
        cicada.write("big.c", f'#define URL "{h.url}/huge?mb=17"\n' + TRUNCATED)
        r = cicada.run("-f", "big.c", "-H", h.url, "--headless", "-u", 1, "-r", 1, "-t",
                       "1s", "-s", "10", "--csv", "B", env=cenv(cicada, cache),
                       timeout=1 + 10 + SLACK)
    finally:
        h.stop()
    assert r.rc == 0, r
    rows = stats_rows(cicada.path("B_stats.csv"))
    assert int(rows[("GET", "big")]["Request Count"]) >= 1, rows
    assert rows[("GET", "big")]["Failure Count"] == "0", rows
    assert rows[("GET", "small")]["Failure Count"] == "0", rows
