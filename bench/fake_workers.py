"""N simulated workers for one cicada master (bench/distributed.sh): each says hello,
answers spawn orders, and sends a heartbeat and a stats report every second, as a busy
real worker would (20 request names, ~60 histogram buckets each), until the master says
quit. Measures nothing itself: the bench times the master.

    /usr/bin/python3 bench/fake_workers.py PORT N SECONDS
"""
import json
import random
import sys
import time

import zmq

port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
ctx = zmq.Context()
socks = []
for i in range(n):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.IDENTITY, f"fake_{i}_{random.getrandbits(32):08x}".encode())
    s.setsockopt(zmq.LINGER, 0)
    s.connect(f"tcp://127.0.0.1:{port}")
    socks.append(s)


def send(s, typ, data):
    s.send(json.dumps({"type": typ, "data": data}).encode())


def entry(name, now, reqs):
    hist = []
    for b in range(60):
        hist += [300 + b * 7, reqs // 60]
    timed = (reqs // 60) * 60
    return {"method": "GET", "name": name, "num_requests": timed, "num_none_requests": 0,
            "num_failures": 1, "total_rt_us": timed * 2500, "min_rt_us": 900,
            "max_rt_us": 90000, "total_content_length": timed * 1000, "start_time": now - 1,
            "last_request_ts": now, "hist": hist, "secs": [int(now), timed, 1]}


def report(now, users):
    entries = [entry(f"/api/item/{k}", now, 600) for k in range(20)]
    total = dict(entry("Aggregated", now, 600 * 20), method="")
    return {"entries": entries, "total": total,
            "errors": [{"method": "GET", "name": "/api/item/0", "error": "HTTPError('500')",
                        "occurrences": 20}],
            "exceptions": [], "user_count": users, "classes": {}}


for s in socks:
    send(s, "hello", {"protocol": 1, "version": "bench", "host": "fake", "pid": 0})
users = [0] * n
poller = zmq.Poller()
for s in socks:
    poller.register(s, zmq.POLLIN)
end = time.time() + secs
next_beat = time.time()
quit_seen = 0
while time.time() < end and quit_seen < n:
    for s, _ in poller.poll(timeout=50):
        i = socks.index(s)
        msg = json.loads(s.recv())
        t = msg["type"]
        if t == "spawn":
            users[i] = sum(msg["data"]["counts"].values())
            send(s, "spawning", {})
            send(s, "spawning_complete", {"user_count": users[i], "classes": msg["data"]["counts"]})
        elif t == "stop":
            users[i] = 0
            send(s, "stats", report(time.time(), 0))
            send(s, "stopped", {})
        elif t == "quit":
            quit_seen += 1
    if time.time() >= next_beat:
        next_beat += 1.0
        now = time.time()
        for i, s in enumerate(socks):
            send(s, "heartbeat", {"state": "running" if users[i] else "ready",
                                  "user_count": users[i], "cpu": 10.0, "rss": 20 << 20})
            if users[i]:
                send(s, "stats", report(now, users[i]))
