"""A login flow (docs/scenario.md, "Variables and templates"): on_start logs in with an
account from a unique CSV source, a capture keeps the token, and a class header sends it
with every later request. The class header waits for its variable, so the login itself
goes without it.

Each user keeps its own keep-alive connection (the default), so the target tells users
apart by connection, as test_cookies does."""

import json

import pytest

from conftest import SLACK

USERS = 4
ACCOUNTS = [(f"user{i}", f"pw{i}") for i in range(1, USERS + 1)]


@pytest.fixture(scope="module")
def run(module_cicada, make_module_target):
    c, t = module_cicada, make_module_target()
    c.write("accounts.csv", "username,password\n" +
            "".join(f"{u},{p}\n" for u, p in ACCOUNTS))
    c.write("login.json", {
        "host": t.url,
        "data": {"accounts": {"file": "accounts.csv", "mode": "unique"}},
        "users": [{
            "name": "L", "wait_time": 0.02,
            "headers": {"Authorization": "Bearer {{token}}"},
            "on_start": [{"request": {
                "method": "POST", "url": "/token-login",
                "json": {"username": "{{accounts.username}}",
                         "password": "{{accounts.password}}"},
                "capture": {"token": "$.token"}}}],
            "tasks": [
                {"request": "GET /ok"},
                {"request": {"url": "/echo", "headers": {"X-Own": "1"}}},
                {"request": {"url": "/echo?own", "name": "own-auth",
                             "headers": {"authorization": "Custom x"}}}],
            "on_stop": [{"request": "POST /logout"}]}]})
    c.result = c.run("-f", "login.json", "--headless", "-u", USERS, "-r", 50, "-t", "2s",
                     timeout=2 + SLACK)
    t.wait_idle(quiet=0.1)
    c.target = t
    return c


def header_values(req, name):
    return [v for k, v in req.headers if k.lower() == name.lower()]


def test_each_user_logs_in_once_with_its_own_account(run):
    assert run.result.rc == 0, run.result
    logins = run.target.requests("POST", "/token-login")
    assert len(logins) == USERS
    sent = sorted(tuple(json.loads(x.body).values()) for x in logins)
    assert sent == sorted(ACCOUNTS)
    tokens = [x.extra["token"] for x in logins]
    assert len(set(tokens)) == USERS
    # the class header waits for {{token}}: the login goes without it
    for x in logins:
        assert header_values(x, "Authorization") == [], x.headers
        assert x.headers[-1] != ("Authorization", "Bearer ")
    assert len({x.conn_id for x in logins}) == USERS


# Every templated request goes through the same per-user request struct, so the client
# must compare what it applied, not the pointer: the GET after the templated login
# carries its own Authorization header and not the login's Content-Type.
def test_every_later_request_carries_its_users_token(run):
    t = run.target
    # By token, not by connection: a slow run (ASan) may see a user's keep-alive
    # connection replaced, and the new one carries the same user's token.
    logged_in = {x.extra["token"]: x.t_end for x in t.requests("POST", "/token-login")}
    later = [x for x in t.requests() if x.path != "/token-login"]
    assert len(later) > 10 * USERS
    seen = set()
    for x in later:
        auth = header_values(x, "Authorization")
        if x.query == "own":
            # a request's own header wins over the class's, by case-insensitive name
            assert auth == ["Custom x"], x.headers
        else:
            assert len(auth) == 1 and auth[0].startswith("Bearer "), x.headers
            token = auth[0][len("Bearer "):]
            assert token in logged_in and x.t_start >= logged_in[token], x.headers
            seen.add(token)
        if x.path == "/echo" and x.query == "":
            assert header_values(x, "X-Own") == ["1"]
        assert header_values(x, "Content-Type") == [], x.headers
    assert len(seen) == USERS
    # on_stop's logout is a later request too: one per user, with its token
    logouts = t.requests("POST", "/logout")
    assert sorted(header_values(x, "Authorization")[0] for x in logouts) == \
        sorted(f"Bearer {tok}" for tok in logged_in)
    assert {x.query for x in t.requests("GET", "/echo")} == {"", "own"}
