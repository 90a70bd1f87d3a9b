"""A real HTTP/1.1 keep-alive test target, run in-process on a thread.

Tests read what it saw through Python objects (no HTTP needed):

    t = Target(); t.start()
    ... run cicada against t.url ...
    t.count("GET", "/ok"); t.total(); t.requests() -> [Request, ...]
    t.reset(); t.stop()

Endpoints (any method unless noted):
    /ok          200, body OK_BODY (exactly len(OK_BODY) bytes)
    /big         200, BIG_SIZE bytes
    /fail        500
    /login       POST: 200, Set-Cookie: sid=<unique per call>
    /logout      200 (any method), for on_stop checks
    /me          200, body = the sid cookie received (or "none"); see sids_by_connection
    /slow?ms=N   sleeps N ms, then 200
    /echo        200, JSON {method, path, query, headers, body}
    /redirect    302 to /ok
    /doc         200, DOC_BODY (JSON for checks and captures), ETag: "v1",
                 Set-Cookie: flavor=mint
    /token-login POST, JSON {"username": ...}: 200, {"token": <unique per call>}; the
                 record's extra holds "token" and "username"
    /goto?to=P&code=N  redirect (N, default 302) to P (default /ok)
    anything else: 404

Target(tls=ctx) serves HTTPS with an ssl.SSLContext (url then starts with https://); a
request's extra["peer_cn"] is the common name of the client certificate, if any.
"""

import http.server
import itertools
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

OK_BODY = b"ok from target\n"
BIG_SIZE = 10000
BIG_BODY = b"x" * BIG_SIZE
# What /doc answers: bytes as written (checks and regexes see exactly this text).
DOC_BODY = (b'{"status": "ok", "id": 5, "price": 5.0, "token": "abc", '
            b'"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}], '
            b'"tags": ["x", "y"], "nested": {"odd key": true, "n": null}, '
            b'"csrf": "k9x7", "empty": ""}')


@dataclass
class Request:
    """One request as the target saw it."""
    method: str
    path: str                     # without the query
    query: str                    # raw query string ("" when none)
    client: tuple                 # (host, port) of the TCP connection
    cookies: dict                 # cookie name -> value
    headers: list                 # [(name, value), ...] in the order received
    body: bytes
    t_start: float                # time.monotonic() when the request line was read
    t_wall: float                 # time.time() at the same moment (to compare with logs)
    t_end: float = 0.0            # when the answer was ready (just before it was sent)
    conn_id: int = 0              # serial number of the TCP connection
    extra: dict = field(default_factory=dict)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cicada-e2e-target"
    sys_version = ""
    # One send per answer and no Nagle: otherwise the body waits for the client's
    # delayed ACK (40 ms per request).
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def log_message(self, fmt, *args):  # keep the test output clean
        pass

    def setup(self):
        super().setup()
        self.conn_id = self.server.target._register_conn(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.target._unregister_conn(self.connection)

    # every method goes through one handler
    def _any(self):
        tgt = self.server.target
        t0, wall = time.monotonic(), time.time()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, url.query
        cookies = {}
        for raw in self.headers.get_all("Cookie") or []:
            c = SimpleCookie()
            c.load(raw)
            cookies.update({k: v.value for k, v in c.items()})
        req = Request(method=self.command, path=path, query=query,
                      client=self.client_address[:2], cookies=cookies,
                      headers=list(self.headers.items()), body=body, t_start=t0,
                      t_wall=wall, conn_id=self.conn_id)
        if isinstance(self.connection, ssl.SSLSocket):
            peer = self.connection.getpeercert() or {}
            for rdn in peer.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName":
                        req.extra["peer_cn"] = v
        status, hdrs, out = self._route(tgt, req)
        # Recorded before the answer leaves, so the target never counts fewer requests
        # than a client that has read the answer.
        req.t_end = time.monotonic()
        tgt._record(req)
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)
        self.wfile.flush()

    def __getattr__(self, name):
        # do_GET, do_POST, ... and any other method token (PURGE, ...)
        if name.startswith("do_"):
            return self._any
        raise AttributeError(name)

    def _route(self, tgt, req):
        p = req.path
        text = [("Content-Type", "text/plain")]
        if p == "/ok":
            return 200, text, OK_BODY
        if p == "/big":
            return 200, text, BIG_BODY
        if p == "/fail":
            return 500, text, b"boom\n"
        if p == "/login":
            if req.method != "POST":
                return 405, text, b"POST only\n"
            sid = tgt._new_sid()
            req.extra["sid"] = sid
            return 200, text + [("Set-Cookie", f"sid={sid}; Path=/")], b"welcome\n"
        if p == "/logout":
            return 200, text, b"bye\n"
        if p == "/me":
            return 200, text, (req.cookies.get("sid") or "none").encode()
        if p == "/slow":
            q = urllib.parse.parse_qs(req.query)
            ms = int(q.get("ms", ["100"])[0])
            time.sleep(ms / 1000.0)
            return 200, text, OK_BODY
        if p == "/echo":
            doc = {"method": req.method, "path": req.path, "query": req.query,
                   "headers": req.headers, "body": req.body.decode("latin-1")}
            return 200, [("Content-Type", "application/json")], json.dumps(doc).encode()
        if p == "/redirect":
            return 302, [("Location", "/ok")], b""
        if p == "/doc":
            return 200, [("Content-Type", "application/json"), ("ETag", '"v1"'),
                         ("Set-Cookie", "flavor=mint; Path=/")], DOC_BODY
        if p == "/token-login":
            if req.method != "POST":
                return 405, text, b"POST only\n"
            try:
                user = json.loads(req.body or b"{}").get("username", "")
            except ValueError:
                return 400, text, b"bad JSON\n"
            token = f"tok{tgt._new_sid()}-{user}"
            req.extra.update(token=token, username=user)
            return 200, [("Content-Type", "application/json")], \
                json.dumps({"token": token}).encode()
        if p == "/goto":
            q = urllib.parse.parse_qs(req.query)
            code = int(q.get("code", ["302"])[0])
            return code, [("Location", q.get("to", ["/ok"])[0])], b""
        return 404, text, b"not found\n"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        # Clients that reset or drop a connection (users stopped mid-request) are normal.
        # So are TLS clients that refuse the certificate.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            super().handle_error(request, client_address)


class Target:
    """The test target: start(), then read its counters; stop() in teardown."""

    def __init__(self, tls=None):
        self._tls = tls           # an ssl.SSLContext: serve HTTPS
        self._lock = threading.Lock()
        self._reqs = []
        self._conns = {}          # socket -> conn id, while open
        self._conn_serial = itertools.count(1)
        self._sid_serial = itertools.count(1)
        self._conn_count = 0      # connections accepted since the last reset
        self._srv = None
        self._thread = None

    # ---- life cycle -----------------------------------------------------------------
    def start(self):
        self._srv = _Server(("127.0.0.1", 0), _Handler)
        self._srv.target = self
        self.port = self._srv.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if self._tls:
            # The handshake happens in the handler's thread, on its first read.
            self._srv.socket = self._tls.wrap_socket(self._srv.socket, server_side=True,
                                                     do_handshake_on_connect=False)
            self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if not self._srv:
            return
        self._srv.shutdown()
        self._srv.server_close()
        with self._lock:
            socks = list(self._conns)
        for s in socks:  # wake handler threads blocked on idle keep-alive connections
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._srv = None

    def reset(self):
        with self._lock:
            self._reqs = []
            self._conn_count = 0

    # ---- what tests read --------------------------------------------------------------
    def requests(self, method=None, path=None):
        """A copy of the request records, optionally filtered, in completion order."""
        with self._lock:
            rs = list(self._reqs)
        return [r for r in rs if (method is None or r.method == method)
                and (path is None or r.path == path)]

    def count(self, method, path):
        return len(self.requests(method, path))

    def counts(self):
        """{(method, path): n}"""
        out = {}
        for r in self.requests():
            out[(r.method, r.path)] = out.get((r.method, r.path), 0) + 1
        return out

    def sids_by_connection(self):
        """{conn_id: set of sid cookies that /me requests carried on that connection}"""
        out = {}
        for r in self.requests(path="/me"):
            out.setdefault(r.conn_id, set()).add(r.cookies.get("sid"))
        return out

    def total(self):
        with self._lock:
            return len(self._reqs)

    def connections(self):
        """Connections accepted since the last reset."""
        with self._lock:
            return self._conn_count

    def open_connections(self):
        with self._lock:
            return len(self._conns)

    def wait_idle(self, quiet=0.3, timeout=5.0):
        """Waits until no request has completed for `quiet` seconds."""
        end = time.monotonic() + timeout
        last = -1
        while time.monotonic() < end:
            n = self.total()
            if n == last:
                return
            last = n
            time.sleep(quiet)

    # ---- handler side ---------------------------------------------------------------
    def _record(self, req):
        with self._lock:
            self._reqs.append(req)

    def _new_sid(self):
        with self._lock:
            return f"s{next(self._sid_serial):06d}"

    def _register_conn(self, sock):
        with self._lock:
            cid = next(self._conn_serial)
            self._conns[sock] = cid
            self._conn_count += 1
            return cid

    def _unregister_conn(self, sock):
        with self._lock:
            self._conns.pop(sock, None)
