"""HTTP options (docs/scenario.md, "HTTP options"): basic_auth, verify_tls and client_cert
against an HTTPS loopback target with self-signed certificates, http_version, and timeout
and redirects per class and per request."""

import base64
import ctypes
import re
import shutil
import ssl
import subprocess
import time

import pytest

from conftest import SLACK, failure_rows, free_port, stats_rows, text_pos
from target import Target


def basic(userpwd):
    return "Basic " + base64.b64encode(userpwd.encode()).decode()


def auth_of(req):
    return [v for k, v in req.headers if k.lower() == "authorization"]


def make_cert(d, name, cn):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.pem"),
                    "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=DNS:{cn}" if not cn[0].isdigit()
                    else f"subjectAltName=IP:{cn}"],
                   check=True, capture_output=True, timeout=30)


def tls_target(d):
    """A started HTTPS Target with a self-signed certificate for 127.0.0.1 that asks for
    a client certificate (client.pem/client.key in d, CN cicada-client) without
    requiring one; the certificates are made in d."""
    make_cert(d, "server", "127.0.0.1")
    make_cert(d, "client", "cicada-client")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "server.pem", d / "server.key")
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_verify_locations(d / "client.pem")
    return Target(tls=ctx).start()


@pytest.fixture(scope="module")
def runs(module_cicada, make_module_target):
    c = module_cicada
    t_plain, t_dyn = make_module_target(), make_module_target()
    # Classes run their tasks in order: every one runs in a 2 s test, even under ASan.
    c.write("plain.json", {"host": t_plain.url, "users": [
        {"name": "A", "basic_auth": ["user", "pa:ss"], "wait_time": 0.01, "sequential": True,
         "tasks": [
            {"request": "/ok?class"},
            {"request": {"url": "/ok?own", "basic_auth": "u2:p2"}},
            {"request": {"url": "/ok?inherit", "http_version": "1.1"}}]},
        {"name": "N", "wait_time": 0.01, "http_version": "2", "tasks": [
            # the class asks for HTTP/2; this request says 1.1, which the target speaks
            {"request": {"url": "/ok?none", "http_version": "1.1"}}]},
        {"name": "Tm", "timeout": 0.2, "wait_time": 0.01, "sequential": True, "tasks": [
            {"request": {"url": "/slow?ms=500", "name": "class-timeout"}},
            {"request": {"url": "/slow?ms=300", "name": "own-timeout", "timeout": 5}},
            {"request": {"url": "/slow?ms=300", "name": "own-short", "timeout": 0.05}}]},
        {"name": "Rd", "redirects": False, "wait_time": 0.01, "sequential": True, "tasks": [
            {"request": {"url": "/goto?to=/ok?cls", "name": "cls-noredir",
                         "check": {"status": 302}}},
            {"request": {"url": "/goto?to=/ok?own-redir", "name": "own-redir",
                         "redirects": True, "check": {"status": 200}}}]},
        {"name": "Rf", "wait_time": 0.01, "sequential": True, "tasks": [
            {"request": {"url": "/goto?to=/ok?follow", "name": "follow",
                         "check": {"status": 200}}},
            {"request": {"url": "/goto?to=/ok?nofollow&code=307", "name": "nofollow",
                         "redirects": False, "check": {"status": 307}}}]}]})
    # Templated requests one after another, each with its own options.
    c.write("dyn.json", {"host": t_dyn.url, "users": [
        {"name": "D", "wait_time": 0.01, "tasks": [{"steps": [
            {"request": {"url": "/slow?ms=10&u={{user_index}}", "name": "dyn-long",
                         "timeout": 5, "headers": {"X-A": "{{user_index}}"}}},
            {"request": {"url": "/slow?ms=400&u={{user_index}}", "name": "dyn-short",
                         "timeout": 0.1, "basic_auth": "a:b"}}]}]}]})
    c.bad_text = ('{"users": [{"name": "U", "tasks": [{"request": {"url": "http://h/x",\n'
                  '  "client_cert": {"cert": "nope.pem"}}}]}]}')
    c.write("cert.json", c.bad_text)
    procs = {
        "plain": c.start("-f", "plain.json", "--headless", "-u", 5, "-r", 50, "-t", "2s",
                         "--csv", "plain"),
        "dyn": c.start("-f", "dyn.json", "--headless", "-u", 1, "-t", "2s", "--csv", "dyn"),
        "cert": c.start("-f", "cert.json", "--list"),
    }
    c.results = {k: p.wait(2 + SLACK) for k, p in procs.items()}
    c.targets = {"plain": t_plain, "dyn": t_dyn}
    for t in c.targets.values():
        t.wait_idle(quiet=0.1)
    return c


def queries(t, path="/ok"):
    out = {}
    for x in t.requests(path=path):
        out.setdefault(x.query, []).append(x)
    return out


def test_basic_auth(runs):
    assert runs.results["plain"].rc == 1, runs.results["plain"]  # timeouts, on purpose
    q = queries(runs.targets["plain"])
    for query, want in [("class", [basic("user:pa:ss")]), ("own", [basic("u2:p2")]),
                        ("inherit", [basic("user:pa:ss")]), ("none", [])]:
        assert q[query], query
        assert all(auth_of(x) == want for x in q[query]), (query, q[query][0].headers)


def test_timeouts_per_class_and_request(runs):
    rows = stats_rows(runs.path("plain_stats.csv"))
    fails = failure_rows(runs.path("plain_failures.csv"))
    assert {k for k in fails if k[1] in ("class-timeout", "own-timeout", "own-short")} == {
        ("GET", "class-timeout", "ReadTimeout('no complete response within 0.2 s')"),
        ("GET", "own-short", "ReadTimeout('no complete response within 0.05 s')")}
    assert rows[("GET", "own-timeout")]["Failure Count"] == "0"
    assert int(rows[("GET", "own-timeout")]["Request Count"]) > 0
    for name in ("class-timeout", "own-short"):
        assert rows[("GET", name)]["Failure Count"] == rows[("GET", name)]["Request Count"]


def test_redirects_per_class_and_request(runs):
    rows = stats_rows(runs.path("plain_stats.csv"))
    for name in ("cls-noredir", "own-redir", "follow", "nofollow"):
        assert int(rows[("GET", name)]["Request Count"]) > 0, name
        assert rows[("GET", name)]["Failure Count"] == "0", name
    q = queries(runs.targets["plain"])
    assert "cls" not in q and "nofollow" not in q
    assert q["own-redir"] and q["follow"]
    assert ("GET", "/ok?own-redir") not in rows     # counted under the request's name


def test_client_cert_paths_are_checked_at_load(runs):
    r = runs.results["cert"]
    assert r.rc == 1, r
    pos = text_pos(runs.bad_text, '"nope.pem"')
    assert r.err == f'cicada: error: cert.json:{pos}: ./nope.pem: cannot read: No such file or directory\n'


def test_templated_requests_keep_their_own_timeout(runs):
    assert failure_rows(runs.path("dyn_failures.csv")) == {
        ("GET", "dyn-short", "ReadTimeout('no complete response within 0.1 s')"):
            int(stats_rows(runs.path("dyn_stats.csv"))[("GET", "dyn-short")]["Request Count"])}


def test_templated_requests_keep_their_own_headers_and_auth(runs):
    reqs = runs.targets["dyn"].requests("GET", "/slow")
    assert len(reqs) > 4
    for x in reqs:
        own = [v for k, v in x.headers if k == "X-A"]
        if "ms=10&" in x.query:
            assert own == ["1"] and auth_of(x) == [], x.headers
        else:
            assert own == [] and auth_of(x) == [basic("a:b")], x.headers


def test_basic_auth_from_test_data_is_each_users_own(cicada, target):
    """Two users take a unique row each and authenticate with it, on every request of
    the class and on a request's own basic_auth ("user:password" form); a class without
    basic_auth, whose requests run on the same pooled handles, sends none."""
    cicada.write("creds.csv", "user,pass\nalice,pw1\nbob,p:w2\n")
    cicada.write("auth.json", {"host": target.url,
        "data": {"creds": {"file": "creds.csv", "mode": "unique"}},
        "users": [
            {"name": "A", "fixed_count": 2, "wait_time": 0.01, "sequential": True,
             "connection": "shared",
             "basic_auth": ["{{creds.user}}", "{{creds.pass}}"],
             "tasks": [
                {"request": "/ok?cls&u={{user_index}}"},
                {"request": {"url": "/ok?own&u={{user_index}}",
                             "basic_auth": "{{creds.user}}-x:{{creds.pass}}"}},
                {"request": {"url": "/ok?static", "basic_auth": ["s", "t"]}}]},
            {"name": "N", "fixed_count": 1, "wait_time": 0.01, "connection": "shared",
             "tasks": [{"request": "/ok?none"}]}]})
    r = cicada.run("-f", "auth.json", "--headless", "-u", 3, "-r", 50, "-t", "2s",
                   timeout=2 + SLACK)
    assert r.rc == 0, r
    target.wait_idle(quiet=0.1)
    seen = {}
    for x in target.requests(path="/ok"):
        kind, _, user = x.query.partition("&u=")
        seen.setdefault(kind, {}).setdefault(user, set()).update(auth_of(x) or ["none"])
    pairs = {basic("alice:pw1"), basic("bob:p:w2")}
    # each user sends its own pair, every time, and the two users hold different rows
    assert len(seen["cls"]) == 2 and all(len(v) == 1 for v in seen["cls"].values()), seen
    assert set().union(*seen["cls"].values()) == pairs, seen
    for u, (a,) in seen["cls"].items():
        who = {basic("alice:pw1"): "alice-x:pw1", basic("bob:p:w2"): "bob-x:p:w2"}[a]
        assert seen["own"][u] == {basic(who)}, seen
    assert seen["static"] == {"": {basic("s:t")}}, seen
    assert seen["none"] == {"": {"none"}}, seen


def test_templated_basic_auth_and_client_cert_errors_at_load(cicada):
    text = ('{"host": "http://127.0.0.1:1", "data": {"creds": {"file": "c.csv"}},\n'
            ' "users": [{"name": "U", "basic_auth": ["{{creds.usr}}", "x"], "tasks": [{"request": "/x"}]}]}')
    cicada.write("c.csv", "user,pass\na,b\n")
    cicada.write("a.json", text)
    r = cicada.run("-f", "a.json", "--list")
    assert r.rc == 1, r
    assert r.err == (f"cicada: error: a.json:{text_pos(text, 'creds.usr')}: "
                     'unknown data column "creds.usr"\n')
    text = ('{"users": [{"name": "U", "tasks": [{"request": {"url": "http://h/x",\n'
            '  "client_cert": "certs/{{user_index}}.pem"}}]}]}')
    cicada.write("b.json", text)
    r = cicada.run("-f", "b.json", "--list")
    assert r.rc == 1, r
    assert r.err == (f"cicada: error: b.json:{text_pos(text, '{{user_index')}: "
                     '"client_cert" takes a file path, not a template: certificates are '
                     'checked when the file loads\n')


# ---- TLS ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_run(module_cicada):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make the test certificates")
    c = module_cicada
    t = tls_target(c.dir)
    try:
        c.write("tls.json", {"host": t.url, "users": [
            {"name": "Insecure", "verify_tls": False, "wait_time": 0.02, "sequential": True,
             "tasks": [
                {"request": "/ok?insecure"},
                {"request": {"url": "/ok?cert",
                             "client_cert": {"cert": "client.pem", "key": "client.key"}}}]},
            {"name": "Strict", "wait_time": 0.02, "sequential": True, "tasks": [
                {"request": {"url": "/ok?strict", "name": "strict"}},
                {"request": {"url": "/ok?own-insecure", "verify_tls": False}}]}]})
        c.tls_result = c.run("-f", "tls.json", "--headless", "-u", 4, "-r", 50, "-t", "2s",
                             "--csv", "tls", timeout=2 + SLACK)
        t.wait_idle(quiet=0.1)
        c.tls_target = t
        yield c
    finally:
        t.stop()


def test_verify_tls_and_client_cert(tls_run):
    r, t = tls_run.tls_result, tls_run.tls_target
    assert r.rc == 1, r                      # the strict class fails, on purpose
    fails = failure_rows(tls_run.path("tls_failures.csv"))
    assert len(fails) == 1, fails
    (method, name, error), n = next(iter(fails.items()))
    assert (method, name) == ("GET", "strict")
    assert error.startswith("SSLError('") and error.endswith("')"), error
    rows = stats_rows(tls_run.path("tls_stats.csv"))
    assert rows[("GET", "strict")]["Request Count"] == str(n) and n > 0
    q = queries(t)
    assert "strict" not in q                 # the handshake failed: no request arrived
    assert q["insecure"] and q["cert"] and q["own-insecure"]
    # the client certificate is sent only by the request that names it
    assert {x.extra.get("peer_cn") for x in q["cert"]} == {"cicada-client"}
    assert {x.extra.get("peer_cn") for x in q["insecure"] + q["own-insecure"]} == {None}


# ---- HTTP/2 --------------------------------------------------------------------------------

NGINX_CONF = """
worker_processes 1;
daemon off;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    log_format proto '$server_protocol $request_uri $connection';
    access_log {d}/access.log proto;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{ return 200 "ok\\n"; }}
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl http2;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.key;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def libcurl_version():
    """The version of the libcurl cicada links (the system's libcurl.so.4)."""
    try:
        lib = ctypes.CDLL("libcurl.so.4")
    except OSError:
        return None
    lib.curl_version.restype = ctypes.c_char_p
    m = re.match(rb"libcurl/(\d+)\.(\d+)", lib.curl_version())
    return (int(m[1]), int(m[2])) if m else None


@pytest.fixture(scope="module")
def h2_runs(module_cicada):
    """Python's http.server does not speak HTTP/2, so these run against nginx when it is
    installed. Without TLS (h2c with prior knowledge, as curl uses for http:// URLs) one
    class opens a connection per request, the other keeps its connection (the default);
    over TLS (HTTP/2 negotiated by ALPN) one class asks for HTTP/2 and one does not."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make the test certificates")
    nginx = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if not nginx:
        pytest.skip("HTTP/2 needs a server that speaks h2c: Python's http.server does not "
                    "and nginx is not installed")
    c = module_cicada
    d = c.dir / "nginx"
    (d / "tmp").mkdir(parents=True)
    port = free_port()
    tls_port = free_port()
    make_cert(d, "server", "127.0.0.1")
    (d / "nginx.conf").write_text(NGINX_CONF.format(d=d, port=port, tls_port=tls_port))
    srv = subprocess.Popen([nginx, "-c", str(d / "nginx.conf"), "-p", str(d)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 10
        while not (d / "nginx.pid").exists():
            assert srv.poll() is None, srv.stderr.read().decode()
            assert time.monotonic() < end, "nginx did not start"
            time.sleep(0.05)
        for mode in ("request", "user"):
            c.write(f"h2-{mode}.json", {"host": f"http://127.0.0.1:{port}", "users": [
                {"name": "H2", "http_version": "2", "connection": mode, "wait_time": 0.05,
                 "tasks": [{"request": f"/h2-{mode}"}]}]})
        c.write("h2-tls.json", {"host": f"https://127.0.0.1:{tls_port}", "users": [
            {"name": "H2", "http_version": "2", "verify_tls": False, "wait_time": 0.05,
             "tasks": [{"request": "/h2-tls"}]},
            {"name": "H1", "verify_tls": False, "wait_time": 0.05,
             "tasks": [{"request": "/h1-tls"}]}]})
        procs = {m: c.start("-f", f"h2-{m}.json", "--headless", "-u", 2 if m == "tls" else 1,
                            "-r", 10, "-t", "1s", "--csv", f"h2-{m}")
                 for m in ("request", "user", "tls")}
        c.h2 = {m: p.wait(1 + SLACK) for m, p in procs.items()}
    finally:
        srv.terminate()
        srv.wait(10)
    c.h2_log = (d / "access.log").read_text().splitlines()
    return c


H2C_WARNING = ("cannot reuse an HTTP/2 connection without TLS (curl/curl#10634, fixed in "
               "8.0.0): each HTTP/2 request to an http:// URL opens a new connection")


def h2_requests(h2_runs, path):
    """(protocol, connection number) of each request nginx logged for path."""
    out = [tuple(x.split()[::2]) for x in h2_runs.h2_log if x.split()[1] == path]
    assert len(out) > 3, h2_runs.h2_log
    return out


def test_http2_prior_knowledge(h2_runs):
    r = h2_runs.h2["request"]
    assert r.rc == 0, r
    reqs = h2_requests(h2_runs, "/h2-request")
    assert {p for p, _ in reqs} == {"HTTP/2.0"}
    # "connection": "request": a new connection each time
    assert len({c for _, c in reqs}) == len(reqs)


# libcurl 7.88 (Debian 12's) fails every request after the first on a reused h2c
# connection with "Error in the HTTP2 framing layer" (curl/curl#10634, fixed in 8.0.0 by
# curl/curl#10643): there cicada opens a connection per request instead, and says so once.
def test_http2_prior_knowledge_with_the_default_connection(h2_runs):
    r = h2_runs.h2["user"]
    assert r.rc == 0, r
    reqs = h2_requests(h2_runs, "/h2-user")
    assert {p for p, _ in reqs} == {"HTTP/2.0"}
    if (libcurl_version() or (0, 0))[:2] == (7, 88):
        assert r.err.count(H2C_WARNING) == 1, r
        assert len({c for _, c in reqs}) == len(reqs)
    else:
        assert H2C_WARNING not in r.err, r
        assert len({c for _, c in reqs}) == 1     # one user keeps its connection


def test_http2_over_tls(h2_runs):
    """On https:// HTTP/2 is negotiated (ALPN) and its connection kept, whatever the
    libcurl; a class that does not ask for it speaks HTTP/1.1 to the same server."""
    r = h2_runs.h2["tls"]
    assert r.rc == 0, r
    assert H2C_WARNING not in r.err, r
    h2 = h2_requests(h2_runs, "/h2-tls")
    assert {p for p, _ in h2} == {"HTTP/2.0"}
    assert len({c for _, c in h2}) == 1          # one user keeps its connection
    h1 = h2_requests(h2_runs, "/h1-tls")
    assert {p for p, _ in h1} == {"HTTP/1.1"}
    assert len({c for _, c in h1}) == 1
