"""Bad input fails cleanly, with one clear line and the right exit code, and sends nothing."""

import json

import pytest

from conftest import SLACK


def pos(text, needle):
    """1-based (line, column) where needle starts in text."""
    i = text.index(needle)
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


GOOD = {"users": [{"name": "U", "tasks": [{"request": "GET /ok"}]}]}

UNKNOWN_KEY = """{
  "users": [
    {
      "name": "U",
      "tasks": [
        {"request": "GET /ok", "wieght": 2}
      ]
    }
  ]
}
"""

WRONG_TYPE = """{
  "users": [
    {"name": "U",
     "weight": "3",
     "tasks": [{"request": "GET /ok"}]}
  ]
}
"""

BAD_JSON = """{
  "users": [
    {"name": "U",, "tasks": [{"request": "GET /ok"}]}
  ]
}
"""

NO_HOST = """{"users": [
  {"name": "U", "tasks": [{"request": "GET /ok"}]}
]}
"""


def case_unknown_key():
    line, col = pos(UNKNOWN_KEY, '"wieght"')
    return UNKNOWN_KEY, [], 1, (f's.json:{line}:{col}: unknown key "wieght" in task '
                                f'(did you mean "weight"?)')


def case_wrong_type():
    line, col = pos(WRONG_TYPE, '"3"')
    return WRONG_TYPE, [], 1, f's.json:{line}:{col}: "weight" must be an integer, not a string'


def case_no_host():
    line, col = pos(NO_HOST, '"GET /ok"')
    return NO_HOST, [], 1, (f's.json:{line}:{col} (user class "U", task 1): relative URL '
                            f'"/ok" but no host: set "host" in the scenario or its user '
                            f'class, or use --host')


# name -> (scenario text or None for GOOD with the target's host, extra args, exit code,
#          the whole message after "cicada: error: ", or a callable giving all four)
CASES = {
    "unknown flag": (None, ["--bogus"], 2, "unrecognized arguments: --bogus"),
    "bad -u": (None, ["-u", "abc"], 2, "argument -u/--users: invalid int value: 'abc'"),
    "bad -r": (None, ["-r", "abc"], 2,
               "argument -r/--spawn-rate: invalid float value: 'abc'"),
    "bad loglevel": (None, ["-L", "VERBOSE"], 1,
                     "Invalid --loglevel. Valid values are: DEBUG/INFO/WARNING/ERROR/CRITICAL"),
    "history without csv": (None, ["--csv-full-history"], 2,
                            "'--csv-full-history' requires '--csv'."),
    "unknown class": (None, ["Nope"], 1, "Unknown User(s): Nope"),
    "missing file": (None, ["-f", "nope.json"], 1,
                     "Could not find 'nope.json'. See --help for available options."),
    "unknown key": case_unknown_key,
    "wrong type": case_wrong_type,
    "missing users": ('{"host": "http://127.0.0.1:1"}', [], 1,
                      's.json:1:1: scenario needs "users": a list of user classes'),
    "no host": case_no_host,
    "no weight": ('{"users": [{"name": "U", "weight": 0, "tasks": [{"request": "GET /ok"}]}]}',
                  [], 1, "There are no users with weight > 0."),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_sends_nothing(cicada, target, name):
    case = CASES[name]
    text, extra, code, msg = case() if callable(case) else case
    if text is None:
        text = json.dumps(dict(GOOD, host=target.url))
    cicada.write("s.json", text)
    # A host on the command line too, except where the missing host is the point.
    host = [] if name == "no host" else ["-H", target.url]
    r = cicada.run("-f", "s.json", *host, "--headless", "-u", 2, "-t", "2s", *extra,
                   timeout=SLACK)
    assert r.rc == code, r
    assert r.err == f"cicada: error: {msg}\n", r.err
    assert r.out == ""
    assert target.total() == 0
    assert not list(cicada.dir.glob("*.csv"))


def test_invalid_json_names_line_and_column(cicada, target):
    cicada.write("s.json", BAD_JSON)
    r = cicada.run("-f", "s.json", "-H", target.url, "--headless", "-t", "2s")
    assert r.rc == 1, r
    line, col = pos(BAD_JSON, ",,")
    assert r.err.startswith(f"cicada: error: s.json:{line}:{col + 1}: "), r.err
    assert r.err.count("\n") == 1
    assert target.total() == 0


@pytest.mark.parametrize("conf, code, msg", [
    ("users = 3\nbogus = 1\n", 2, "locust.conf:2:1: unknown key 'bogus'"),
    ("# users\nusers = abc\n", 2, "locust.conf:2:9: users: invalid int value: 'abc'"),
    ("run-time = 2s\n  = 3\n", 2, "locust.conf:2:3: expected 'key = value'"),
])
def test_bad_config_file(cicada, target, conf, code, msg):
    cicada.write("s.json", dict(GOOD, host=target.url))
    cicada.write("locust.conf", conf)
    r = cicada.run("-f", "s.json", "--headless", "-t", "2s")
    assert r.rc == code, r
    assert r.err == f"cicada: error: {msg}\n", r.err
    assert target.total() == 0


@pytest.mark.parametrize("host", ["http://x", "http://db:8080", "https://a"])
def test_short_host_names_are_valid(cicada, host):
    """Any http(s) URL with a host name is a base URL ("http://x" is 8 characters)."""
    cicada.write("s.json", '{"host": %s, "users": %s}' % (json.dumps(host),
                                                           json.dumps(GOOD["users"])))
    r = cicada.run("-f", "s.json", "--list")
    assert r.rc == 0, r
    assert r.out == "Available Users:\n    U\n"


@pytest.mark.parametrize("host", ["http://", "https://", "http://:80", "ftp://h"])
def test_host_without_a_name_is_refused(cicada, target, host):
    cicada.write("s.json", '{"host": %s, "users": %s}' % (json.dumps(host),
                                                           json.dumps(GOOD["users"])))
    r = cicada.run("-f", "s.json", "--headless", "-t", "1s")
    assert r.rc == 1, r
    assert r.err == ('cicada: error: s.json:1:10: "host" must be a base URL such as '
                     '"http://127.0.0.1:8080"\n'), r.err


def test_python_locustfile_says_why(cicada, target):
    """A Locust user's first try, -f locustfile.py: one line that says why it cannot run."""
    cicada.write("locustfile.py", "from locust import HttpUser, task\n")
    r = cicada.run("-f", "locustfile.py", "-H", target.url, "--headless", "-t", "2s")
    assert r.rc == 1, r
    assert r.err == ("cicada: error: locustfile.py:1:1: invalid literal, expected true, false "
                     "or null (a Python locustfile: cicada runs JSON scenarios, see "
                     "docs/scenario.md, and C locustfiles, see docs/c-api.md)\n"), r.err
    assert target.total() == 0
