"""Web API security: Basic authentication, the cross-origin guard, names inserted as text
only, HTTPS, and a port that is already taken."""

import base64
import json
import re
import shutil
import signal
import subprocess
import time
import warnings
from html.parser import HTMLParser

import pytest
import requests

from conftest import SLACK, assert_clean_exit, free_port, start_dashboard

SLOW = {"users": [{"name": "U", "wait_time": 0, "tasks": [{"request": "GET /slow?ms=200"}]}]}

XSS_NAME = "<img src=x onerror=alert(1)>"
END_NAME = "</script><img src=x onerror=alert(2)>"
COMMENT_NAME = "<!--<script>"


def named(name):
    return {"users": [{"name": "U", "wait_time": 0.05, "tasks": [
        {"request": {"url": "/ok", "name": name}}]}]}


@pytest.fixture
def target(make_target):
    """A target of the test's own (overrides conftest's shared one): answers to requests
    that an earlier test's users left in flight cannot reach it."""
    return make_target()


def free_listen_args():
    return ["--web-host", "127.0.0.1", "-P", free_port()]


# ---- --web-auth ---------------------------------------------------------------------------

AUTH_PATHS = [("GET", "/", 200), ("GET", "/static/app.js", 200),
              ("GET", "/static/chart.umd.min.js", 200), ("GET", "/stats/requests", 200),
              ("GET", "/stats/history", 200), ("GET", "/stats/requests/csv", 200),
              ("GET", "/stats/report", 200), ("GET", "/metrics", 200), ("GET", "/logs", 200),
              ("GET", "/tasks", 200), ("GET", "/exceptions", 200), ("GET", "/no/such", 404),
              ("POST", "/swarm", 400),          # an empty form: refused once logged in
              ("GET", "/stop", 200)]


@pytest.fixture(scope="module")
def auth_dash(module_cicada, make_module_target):
    c = module_cicada
    t = make_module_target()
    c.write("slow.json", SLOW)
    d = start_dashboard(c, "-f", "slow.json", "-H", t.url, "--web-auth", "user:pa ss")
    d.target = t
    yield d


@pytest.mark.parametrize("method, path, ok_status", AUTH_PATHS,
                         ids=[f"{m} {p}" for m, p, _ in AUTH_PATHS])
def test_basic_auth_on_every_path(auth_dash, method, path, ok_status):
    d = auth_dash
    for creds in (None, ("user", "wrong"), ("user", "pa ss "), ("User", "pa ss"),
                  ("", "")):
        r = d.request(method, path, auth=creds)
        assert r.status_code == 401, (creds, r.text[:200])
        assert r.headers["WWW-Authenticate"].startswith("Basic"), r.headers
        assert r.json()["success"] is False
    r = d.request(method, path, auth=("user", "pa ss"))
    assert r.status_code == ok_status, r.text[:300]


def test_basic_auth_scheme_is_case_insensitive(auth_dash):
    token = base64.b64encode(b"user:pa ss").decode()
    r = auth_dash.get("/stats/requests", headers={"Authorization": "basic " + token})
    assert r.status_code == 200


def test_refused_logins_started_nothing(auth_dash):
    time.sleep(0.2)
    assert auth_dash.stats(auth=("user", "pa ss"))["state"] == "ready"
    assert auth_dash.target.total() == 0
    assert_clean_exit(auth_dash.stop_process(), codes=(0,))


@pytest.mark.parametrize("value", ["userpass", "a:b:c"])
def test_web_auth_needs_user_colon_password(cicada, target, value):
    cicada.write("slow.json", SLOW)
    r = cicada.run("-f", "slow.json", "-H", target.url, "--autostart", "-u", 1,
                   *free_listen_args(), "--web-auth", value)
    assert r.rc == 1, r
    assert ("cicada: error: Credentials supplied with --web-auth should have the format: "
            "username:password") in r.err
    assert target.total() == 0


NO_AUTH_WARNING = ("The web interface accepts connections from other machines and has no "
                   "--web-auth")


@pytest.mark.parametrize("args, warned", [
    ([], True),
    (["--web-host", "0.0.0.0"], True),
    (["--web-host", "0.0.0.0", "--web-auth", "u:p"], False),
    (["--web-host", "127.0.0.1"], False)],
    ids=["default-no-auth", "all-no-auth", "all-auth", "loopback"])
def test_no_auth_beyond_loopback_warns(cicada, target, args, warned):
    cicada.write("slow.json", SLOW)
    port = free_port()
    r = cicada.run("-f", "slow.json", "-H", target.url, "--autostart", "-u", 1, "-t", "1s",
                   "--autoquit", 0, "-P", port, *args, timeout=15 + SLACK)
    assert r.rc == 0, r
    assert "Starting web interface" in r.err, r.err
    assert (NO_AUTH_WARNING in r.err) == warned, r.err
    if not args:
        assert (f"Starting web interface at http://0.0.0.0:{port} (accepting connections "
                "from all network interfaces)") in r.err, r.err


def listening_addresses(port):
    """The local addresses (hex, as /proc/net/tcp* writes them) listening on port."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:   # 0A: LISTEN
                found.append(addr)
    return found


def test_web_host_default_is_every_interface(cicada, target):
    """Without --web-host the dashboard listens on every interface, as Locust's: the
    wildcard address (IPv6 dual-stack or IPv4), not loopback."""
    cicada.write("slow.json", SLOW)
    port = free_port()
    p = cicada.start("-f", "slow.json", "-H", target.url, "-P", port)
    end = time.monotonic() + SLACK
    while not listening_addresses(port):
        assert p.p.poll() is None and time.monotonic() < end, p.err_text()
        time.sleep(0.05)
    addrs = listening_addresses(port)
    assert addrs and all(set(a) == {"0"} for a in addrs), addrs
    assert requests.get(f"http://127.0.0.1:{port}/stats/requests", timeout=10).ok
    p.signal(signal.SIGTERM)
    assert_clean_exit(p.wait(SLACK), codes=(0,))


# ---- cross-origin guard -------------------------------------------------------------------

def test_cross_origin_requests_cannot_change_the_test(cicada, target):
    cicada.write("slow.json", SLOW)
    d = start_dashboard(cicada, "-f", "slow.json", "-H", target.url)
    form = {"user_count": 2, "spawn_rate": 10}
    own = f"http://127.0.0.1:{d.port}"
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Origin": f"http://127.0.0.1:{d.port + 1}"},
                    {"Sec-Fetch-Site": "cross-site"},
                    # another port of the same host, or a sibling subdomain
                    {"Sec-Fetch-Site": "same-site"},
                    {"Origin": own, "Sec-Fetch-Site": "cross-site"}):
        r = d.post("/swarm", data=form, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.json()["success"] is False
        r = d.get("/stats/reset", headers=headers)
        assert r.status_code == 403, headers
    # Reading is not changing: allowed from anywhere.
    r = d.get("/stats/requests", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    time.sleep(0.3)
    assert d.stats()["state"] == "ready"
    assert target.total() == 0
    assert "refused POST /swarm from another origin" in d.proc.err_text()

    # The dashboard's own page sends its origin.
    r = d.post("/swarm", data=form, headers={"Origin": own, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200, r.text
    d.wait_state("running")
    r = d.get("/stop", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = d.get("/stop", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    # <img src="http://127.0.0.1:PORT/stop"> on a page of localhost:3000: no Origin.
    r = d.get("/stop", headers={"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors"})
    assert r.status_code == 403
    assert d.stats()["state"] == "running"
    r = d.get("/stop", headers={"Origin": own})
    assert r.status_code == 200
    assert r.json() == {"success": True, "message": "Test stopped"}
    d.wait_state("stopped")
    assert_clean_exit(d.stop_process(), codes=(0,))


def test_the_page_may_not_be_framed(cicada, target):
    """Clickjacking: another site's page could frame the dashboard under a decoy and have
    Start or Stop clicked; browsers refuse to frame it."""
    cicada.write("slow.json", SLOW)
    d = start_dashboard(cicada, "-f", "slow.json", "-H", target.url)
    r = d.get("/")
    assert r.status_code == 200
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert_clean_exit(d.stop_process(), codes=(0,))


# ---- DNS rebinding ------------------------------------------------------------------------

def test_loopback_dashboard_answers_only_loopback_host_names(cicada, target):
    """A page of evil.example whose name is rebound to 127.0.0.1 is same-origin with the
    dashboard (its Origin matches its Host), but its Host names evil.example: refused,
    on every path, reading included."""
    cicada.write("slow.json", SLOW)
    d = start_dashboard(cicada, "-f", "slow.json", "-H", target.url)
    p = d.port
    for host in (f"evil.example:{p}", "evil.example", f"127.0.0.1.evil.example:{p}",
                 f"localhost.evil.example:{p}", f"10.0.0.1:{p}", f"[::2]:{p}",
                 f"[::1]x:{p}", f"128.0.0.1:{p}", "x" * 300):
        for method, path in (("GET", "/stats/requests"), ("GET", "/"),
                             ("GET", "/static/app.js"), ("GET", "/stats/report"),
                             ("GET", "/stop")):
            r = d.request(method, path, headers={"Host": host})
            assert r.status_code == 403, (host, path, r.text[:200])
            assert r.json()["success"] is False
        r = d.post("/swarm", data={"user_count": 2, "spawn_rate": 10},
                   headers={"Host": host, "Origin": f"http://{host}",
                            "Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 403, (host, r.text)
    assert f'refused GET /stats/requests for Host "evil.example:{p}"' in d.proc.err_text()
    for host in (f"127.0.0.1:{p}", f"localhost:{p}", f"LocalHost:{p}", "localhost",
                 f"127.1.2.3:{p}", f"[::1]:{p}", f"[::ffff:127.0.0.1]:{p}"):
        r = d.get("/stats/requests", headers={"Host": host})
        assert r.status_code == 200, (host, r.text[:200])
    time.sleep(0.3)
    assert d.stats()["state"] == "ready"
    assert target.total() == 0
    assert_clean_exit(d.stop_process(), codes=(0,))


# ---- names are data, never markup ---------------------------------------------------------

def _script_end(page, i):
    """Where a browser ends the <script> element whose text starts at i: the HTML
    tokenizer's script data states ("<!--" escapes, "<script" inside them nests)."""
    def tag_at(j, word):
        return (page[j:j + len(word)].lower() == word
                and page[j + len(word):j + len(word) + 1] in ("\t", "\n", "\f", " ", "/", ">"))
    state = "data"
    while i < len(page):
        if state == "data":
            if page.startswith("<!--", i):
                state, i = "escaped", i + 4
                continue
            if tag_at(i, "</script"):
                return i
        else:
            if page[i] == ">" and page[i - 2:i] == "--":
                state = "data"
            elif state == "escaped" and tag_at(i, "</script"):
                return i
            elif state == "escaped" and tag_at(i, "<script"):
                state, i = "double", i + 7
                continue
            elif state == "double" and tag_at(i, "</script"):
                state, i = "escaped", i + 8
                continue
        i += 1
    return None


def script_texts(page):
    """The text of every <script> element as a browser splits the page."""
    out, i = [], 0
    while True:
        m = re.compile(r"<script\b[^>]*>", re.I).search(page, i)
        if not m:
            return out
        end = _script_end(page, m.end())
        assert end is not None, "a <script> element never ends"
        out.append(page[m.end():end])
        i = end


def report_blob(page):
    texts = [t for t in script_texts(page) if t.startswith("window.cicadaReport = ")]
    assert len(texts) == 1, [t[:80] for t in script_texts(page)]
    text = texts[0]
    assert text.endswith(";"), text[-200:]
    return json.loads(text[len("window.cicadaReport = "):-1])


class _Elements(HTMLParser):
    """The elements of a page (script text is not parsed, as in a browser)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_no_injected_element(page):
    p = _Elements()
    p.feed(page)
    p.close()
    bad = [t for t in p.tags if t[0] == "img" or any(k.startswith("on") for k in t[1])]
    assert not bad, bad


@pytest.fixture(scope="module")
def hostile(module_cicada, make_module_target):
    """One dashboard per hostile request name."""
    c = module_cicada
    t = make_module_target()
    d = {}
    for key, name in (("xss", XSS_NAME), ("end", END_NAME), ("comment", COMMENT_NAME)):
        c.write(f"{key}.json", named(name))
        d[key] = start_dashboard(c, "-f", f"{key}.json", "-H", t.url, "--autostart",
                                 "-u", 1, "-r", 10)
    for x in d.values():
        x.wait_for(lambda doc: len(doc["stats"]) == 2, 2 + SLACK, "the named row")
    yield d


@pytest.mark.parametrize("key, name, safe", [
    ("xss", XSS_NAME, "&lt;img src=x onerror=alert(1)&gt;"),
    ("end", END_NAME, "&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")])
def test_names_are_data_in_json_and_absent_from_the_page(hostile, key, name, safe):
    d = hostile[key]
    doc = d.stats()
    assert [(r["name"], r["safe_name"]) for r in doc["stats"]] == [
        (name, safe), ("Aggregated", "Aggregated")]
    end = time.monotonic() + 2 + SLACK
    while not d.get("/stats/history").json()["names"]:
        assert time.monotonic() < end, "no names in /stats/history"
        time.sleep(0.1)
    assert d.get("/stats/history").json()["names"] == [f"GET {name}"]
    page = d.get("/").text
    assert "<img" not in page and "onerror" not in page
    assert_no_injected_element(page)


def test_report_keeps_names_inside_its_data(hostile):
    page = hostile["xss"].get("/stats/report").text
    assert_no_injected_element(page)
    doc = report_blob(page)
    assert [r["name"] for r in doc["stats"]] == [XSS_NAME, "Aggregated"]


def test_report_keeps_a_script_end_tag_inside_its_data(hostile):
    page = hostile["end"].get("/stats/report").text
    assert_no_injected_element(page)
    doc = report_blob(page)
    assert [r["name"] for r in doc["stats"]] == [END_NAME, "Aggregated"]


def test_report_data_survives_a_comment_opener_in_a_name(hostile):
    page = hostile["comment"].get("/stats/report").text
    doc = report_blob(page)
    assert [r["name"] for r in doc["stats"]] == [COMMENT_NAME, "Aggregated"]


def test_hostile_dashboards_exit_cleanly(hostile):
    for d in hostile.values():
        assert_clean_exit(d.stop_process(), codes=(0,))


# ---- HTTPS --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed: cannot make a certificate")
    d = tmp_path_factory.mktemp("tls")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", "k.pem", "-out", "c.pem", "-days", "1",
                        "-subj", "/CN=localhost"], cwd=d, capture_output=True, timeout=60)
    if r.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {r.stderr.decode()[-500:]}")
    return d / "c.pem", d / "k.pem"


def test_https(cicada, target, cert):
    cicada.write("slow.json", SLOW)
    d = start_dashboard(cicada, "-f", "slow.json", "-H", target.url, "--tls-cert", cert[0],
                        "--tls-key", cert[1], scheme="https")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # InsecureRequestWarning: self-signed
        r = d.get("/stats/requests")
    assert r.status_code == 200
    assert r.json()["state"] == "ready"
    with pytest.raises(requests.exceptions.SSLError):
        d.get("/stats/requests", verify=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{d.port}/stats/requests", timeout=10)
    assert_clean_exit(d.stop_process(), codes=(0,))


@pytest.mark.parametrize("which", ["cert", "key"])
def test_missing_tls_file(cicada, target, cert, which):
    cicada.write("slow.json", SLOW)
    files = {"cert": str(cert[0]), "key": str(cert[1])}
    files[which] = "missing.pem"
    r = cicada.run("-f", "slow.json", "-H", target.url, "--autostart", "-u", 1,
                   *free_listen_args(), "--tls-cert", files["cert"], "--tls-key", files["key"])
    assert r.rc == 1, r
    assert f"cicada: error: --tls-{which} missing.pem: No such file or directory" in r.err
    assert "Starting web interface" not in r.err
    time.sleep(0.2)
    assert target.total() == 0


# ---- a port already taken -----------------------------------------------------------------

def test_port_in_use(cicada, target, taken_port):
    cicada.write("slow.json", SLOW)
    r = cicada.run("-f", "slow.json", "-H", target.url, "--autostart", "-u", 1,
                   "--web-host", "127.0.0.1", "-P", taken_port)
    assert r.rc == 1, r
    assert f"cicada: error: bind 127.0.0.1:{taken_port}: Address already in use" in r.err
    time.sleep(0.2)
    assert target.total() == 0


def test_port_in_use_neither_claims_exit_code_0_nor_writes_files(cicada, target, taken_port):
    cicada.write("slow.json", SLOW)
    r = cicada.run("-f", "slow.json", "-H", target.url, "--web-host", "127.0.0.1",
                   "-P", taken_port, "--html", "r.html", "--csv", "C")
    assert r.rc == 1, r
    assert f"bind 127.0.0.1:{taken_port}: Address already in use" in r.err
    assert "Shutting down (exit code 0)" not in r.err
    assert not cicada.path("r.html").exists()
    assert not cicada.path("C_stats.csv").exists()
