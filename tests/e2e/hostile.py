"""A loopback HTTP/1.1 target that misbehaves on purpose (issue 9, hostile targets).

Run as its own process, so that a path that streams at full speed (/huge) competes with
the healthy target of a test for a CPU core, not for the test process's GIL:

    /usr/bin/python3 tests/e2e/hostile.py      prints "listening PORT", serves on
                                               127.0.0.1 until stdin closes or SIGTERM

Every connection has its own thread; requests are parsed by hand so that answers can be
as broken as wanted. Paths (any method; the query tunes each case):

    /ok                 200, "ok\\n", keep-alive: the well-behaved path
    /reset              200 with Content-Length 100000, 1000 bytes of it, then an RST
                        (SO_LINGER 0) mid-body
    /badstatus?kind=K   a malformed status line: K=code "HTTP/1.1 abc Broken",
                        K=garbage "garbage", K=version "HTTP/7.3 200 OK"
    /badheader?kind=K   a malformed header: K=colon a line without a colon, K=length
                        "Content-Length: nope", K=nul a NUL byte in a header,
                        K=endless header lines forever (a memory bomb for a client that
                        keeps them all), K=longline one header line that never ends
    /badchunk           chunked encoding with a chunk size that is not hex
    /flood1xx           "100 Continue" interim responses forever, never a final one
    /early              answers 413 and closes as soon as the request's headers are in,
                        leaving its body unread (so the close is an RST)
    /silent             reads the request, never answers (the connection stays open
                        until the client gives up)
    /huge?mb=N          200 with Content-Length N MiB (default 200), streamed;
                        ?chunked=1 streams chunks forever
    /trickle?n=N&ms=M   200 with Content-Length N (default 1000), one byte every M ms
                        (default 50)
    /close-random       keep-alive answers; at random (seeded per connection) closes the
                        connection after an answer, before answering, or mid-body
    /burst5xx?len=L     bursts: of every 2L requests (default L=5) to this path, L get a
                        500/502/503/504 and L a 200, alternately
    /_stats             JSON counters of what was done (not counted itself)
    anything else       404
"""

import itertools
import json
import random
import select
import signal
import socket
import socketserver
import struct
import sys
import threading
import urllib.parse

OK_BODY = b"ok\n"
FIVE_XX = [(500, "Internal Server Error"), (502, "Bad Gateway"),
           (503, "Service Unavailable"), (504, "Gateway Timeout")]


class Counters:
    def __init__(self):
        self._lock = threading.Lock()
        self._c = {}

    def add(self, key, n=1):
        with self._lock:
            self._c[key] = self._c.get(key, 0) + n

    def snapshot(self):
        with self._lock:
            return dict(self._c)


class _Closed(Exception):
    """The handler is done with this connection."""


class _Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.sock = self.request
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        srv = self.server
        self.stats = srv.counters
        # Seeded per connection, so a run's mix of misbehaviours does not depend on
        # thread scheduling.
        self.rng = random.Random(next(srv.conn_serial))
        self.nreq = 0
        srv.track(self.sock, True)

    def finish(self):
        self.server.track(self.sock, False)

    # ---- reading ----------------------------------------------------------------------
    def _recv(self):
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            raise _Closed
        return data

    def read_request(self):
        """(method, path, query) of the next request; its body is read and dropped (except
        for /early, which answers without reading it)."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise _Closed
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target = lines[0].split(" ")[:2]
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        url = urllib.parse.urlsplit(target)
        if url.path == "/early":
            return method, url.path, {}
        while len(self.buf) < length:
            self.buf += self._recv()
        self.buf = self.buf[length:]
        return method, url.path, urllib.parse.parse_qs(url.query)

    # ---- writing ----------------------------------------------------------------------
    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            raise _Closed

    def answer(self, status, reason, body, extra=b""):
        self.send(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                  b"%s\r\n" % (status, reason.encode(), len(body), extra) + body)

    def reset(self):
        """Ends the connection with an RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        raise _Closed

    def wait_close(self):
        """Holds the connection, answering nothing, until the client or the server ends it."""
        while not self.server.stopping.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.2)
            if r:
                self._recv()  # raises _Closed at EOF; anything else sent is ignored
        raise _Closed

    # ---- the loop ---------------------------------------------------------------------
    def handle(self):
        try:
            while True:
                method, path, q = self.read_request()
                self.nreq += 1
                if path != "/_stats":
                    self.stats.add(path)
                self.route(method, path, q)
        except _Closed:
            pass

    def route(self, method, path, q):
        arg = lambda k, d: q.get(k, [d])[0]  # noqa: E731
        st = self.stats
        if path == "/ok":
            return self.answer(200, "OK", OK_BODY)
        if path == "/_stats":
            body = json.dumps(st.snapshot()).encode()
            return self.answer(200, "OK", body)
        if path == "/reset":
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"r" * 1000)
            st.add("reset:sent")
            return self.reset()
        if path == "/badstatus":
            kind = arg("kind", "code")
            line = {"code": b"HTTP/1.1 abc Broken", "garbage": b"garbage",
                    "version": b"HTTP/7.3 200 OK"}[kind]
            self.send(line + b"\r\nContent-Length: 3\r\n\r\nok\n")
            # The client may read the rest as anything; a new connection starts clean.
            raise _Closed
        if path == "/badheader":
            kind = arg("kind", "colon")
            if kind == "endless":
                self.send(b"HTTP/1.1 200 OK\r\n")
                for i in itertools.count():
                    if self.server.stopping.is_set():
                        raise _Closed
                    self.send(b"X-Filler-%d: %s\r\n" % (i, b"f" * 200))
            if kind == "longline":
                self.send(b"HTTP/1.1 200 OK\r\nX-Long: ")
                while not self.server.stopping.is_set():
                    self.send(b"l" * 4096)
                raise _Closed
            bad = {"colon": b"this line has no colon\r\n",
                   "length": b"Content-Length: nope\r\n",
                   "nul": b"X-Bad: a\x00b\r\n"}[kind]
            length = b"" if kind == "length" else b"Content-Length: 3\r\n"
            self.send(b"HTTP/1.1 200 OK\r\n" + length + bad + b"\r\nok\n")
            raise _Closed
        if path == "/badchunk":
            self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"3\r\nabc\r\nzz\r\nnot hex\r\n0\r\n\r\n")
            raise _Closed
        if path == "/flood1xx":
            while not self.server.stopping.is_set():
                self.send(b"HTTP/1.1 100 Continue\r\nX-Filler: %s\r\n\r\n" % (b"f" * 200))
            raise _Closed
        if path == "/early":
            self.send(b"HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n"
                      b"Content-Length: 0\r\n\r\n")
            st.add("early:sent")
            raise _Closed
        if path == "/silent":
            st.add("silent:held")
            return self.wait_close()
        if path == "/huge":
            chunk = b"h" * 65536
            if arg("chunked", "0") == "1":
                self.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
                while not self.server.stopping.is_set():
                    self.send(frame)
                    st.add("huge:bytes", len(chunk))
                raise _Closed
            total = int(arg("mb", "200")) << 20
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
            left = total
            while left > 0:
                if self.server.stopping.is_set():
                    raise _Closed
                n = min(left, len(chunk))
                self.send(chunk[:n])
                st.add("huge:bytes", n)
                left -= n
            st.add("huge:complete")
            return None
        if path == "/trickle":
            n, ms = int(arg("n", "1000")), int(arg("ms", "50"))
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            for _ in range(n):
                if self.server.stopping.wait(ms / 1000.0):
                    raise _Closed
                self.send(b"t")
            st.add("trickle:complete")
            return None
        if path == "/close-random":
            # The first request of a connection is always answered: a client that retries
            # a reused connection's failure on a new one then gets through.
            r = self.rng.random() if self.nreq > 1 else 0.0
            if r < 0.7:
                st.add("close-random:answered")
                return self.answer(200, "OK", OK_BODY)
            if r < 0.8:
                st.add("close-random:answered")
                st.add("close-random:close-after")
                self.answer(200, "OK", OK_BODY)
                raise _Closed
            if r < 0.9:
                st.add("close-random:close-before")
                raise _Closed
            st.add("close-random:close-mid")
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"m" * 100)
            raise _Closed
        if path == "/burst5xx":
            n = int(arg("len", "5"))
            with self.server.burst_lock:
                i = next(self.server.burst_serial)
            if (i // n) % 2 == 1:
                code, reason = FIVE_XX[(i // (2 * n)) % len(FIVE_XX)]
                st.add(f"burst5xx:{code}")
                return self.answer(code, reason, b"burst\n")
            st.add("burst5xx:200")
            return self.answer(200, "OK", OK_BODY)
        return self.answer(404, "Not Found", b"not found\n")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.counters = Counters()
        self.conn_serial = itertools.count(1)
        self.burst_lock = threading.Lock()
        self.burst_serial = itertools.count(0)
        self.stopping = threading.Event()
        self._socks_lock = threading.Lock()
        self._socks = set()

    def track(self, sock, alive):
        with self._socks_lock:
            (self._socks.add if alive else self._socks.discard)(sock)

    def handle_error(self, request, client_address):
        # Clients that give up (timeouts, users stopped at the end of a run) are the
        # normal case here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()
        with self._socks_lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    srv = _Server()
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print(f"listening {srv.server_address[1]}", flush=True)
    try:
        sys.stdin.read()  # the test closes our stdin (or dies) to end us
    except (ValueError, OSError):
        pass
    finally:
        srv.stop()
        t.join(5)


if __name__ == "__main__":
    main()
