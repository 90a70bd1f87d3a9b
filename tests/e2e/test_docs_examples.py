"""Every ```json block of docs/scenario.md and docs/har.md loads: whole scenarios (with
"users") as they are, fragments (a step, a user class) wrapped into the smallest scenario
around them. Data files a block names are created as small fixtures with the columns the
docs use, and client certificates as empty files (the loader checks only that they can be
read), so every documented construct stays valid."""

import json
import re

import pytest

from conftest import REPO, SLACK, failure_rows, free_port, stats_rows
from test_demo import wait_listening

DOC = REPO / "docs" / "scenario.md"
HAR_DOC = REPO / "docs" / "har.md"
# A documented elision ("users": [ ... ]) stands for any valid list.
ELISION = re.compile(r"\[\s*\.\.\.\s*\]")
FILLER = '[{"name": "Elided", "tasks": [{"request": "/"}]}]'
# {{source.column}} references anywhere in the docs, for data fixtures and wrappers.
COLUMN = re.compile(r"\{\{\s*([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*\}\}")
# Blocks that are known not to load, by section: the reason is the bug.
BROKEN = {}


def slug(heading):
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def blocks(doc=DOC, prefix=""):
    """(id, text) of each ```json block, named after its section."""
    out, section, lines, inside, start = [], "top", doc.read_text().splitlines(), None, 0
    for i, line in enumerate(lines):
        if inside is not None:
            if line.startswith("```"):
                out.append((f"{prefix}{section}-line{start}", "\n".join(inside)))
                inside = None
            else:
                inside.append(line)
        elif line.startswith("#"):
            section = slug(line.lstrip("#"))
        elif line.strip() == "```json":
            inside, start = [], i + 1
    return out


def columns_used():
    """{source: [columns]} of every {{source.column}} in the docs."""
    out = {}
    for src, col in COLUMN.findall(DOC.read_text() + HAR_DOC.read_text()):
        out.setdefault(src, [])
        if col not in out[src]:
            out[src].append(col)
    return out


def write_data(d, name, file, cols):
    cols = cols or ["value"]
    if file.endswith((".jsonl", ".ndjson")):
        row = {c: (i if i % 2 else f"{c}1") for i, c in enumerate(cols)}
        (d / file).write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    else:
        (d / file).write_text(",".join(cols) + "\n" + ",".join(f"{c}1" for c in cols) +
                              "\n" + ",".join(f"{c}2" for c in cols) + "\n")


def as_scenario(text, d):
    """The block as a whole scenario, with its data files written into d."""
    doc = json.loads(ELISION.sub(FILLER, text))
    assert isinstance(doc, dict), text
    if "users" not in doc:
        if "request" in doc or "think" in doc:          # a step
            cls = {"name": "Wrapped", "tasks": [{"steps": [doc]}]}
        elif "tasks" in doc:                             # a user class
            cls = doc
        else:
            pytest.fail(f"a docs block that is neither a scenario, a class nor a step: "
                        f"{text[:200]}")
        doc = {"users": [cls]}
        used = {src for src, _ in COLUMN.findall(text)}
        if used:
            doc["data"] = {src: {"file": f"{src}.csv"} for src in sorted(used)}
    cols = columns_used()
    for name, source in doc.get("data", {}).items():
        write_data(d, name, source["file"], cols.get(name))
    for cert in client_certs(doc):
        (d / cert).write_text("")
    return doc


def client_certs(v):
    """The files every "client_cert" in v names."""
    if isinstance(v, list):
        return [f for x in v for f in client_certs(x)]
    if not isinstance(v, dict):
        return []
    out = [f for k, x in v.items() if k != "client_cert" for f in client_certs(x)]
    cert = v.get("client_cert")
    if isinstance(cert, str):
        out.append(cert)
    elif isinstance(cert, dict):
        out += [cert[k] for k in ("cert", "key") if k in cert]
    return out


CASES = [pytest.param(text, id=bid,
                      marks=[pytest.mark.xfail(strict=True, reason=BROKEN[sec])]
                      if (sec := bid.rsplit("-line", 1)[0]) in BROKEN else [])
         for bid, text in blocks() + blocks(HAR_DOC, "har-")]


def test_the_docs_have_json_examples():
    ids = [b for b, _ in blocks()]
    assert len(ids) >= 5, ids
    assert any(b.startswith("a-complete-example") for b in ids)
    # every section of the scenario language has an example that loads
    for section in ("checks", "captures", "variables-and-templates", "test-data",
                    "http-options", "load-shapes", "thresholds"):
        assert any(b.startswith(section + "-line") for b in ids), (section, ids)
    har = [b for b, _ in blocks(HAR_DOC, "har-")]
    assert any(b.startswith("har-what-the-scenario-looks-like") for b in har), har
    assert any(b.startswith("har-making-the-recording-a-test") for b in har), har


@pytest.mark.parametrize("text", CASES)
def test_docs_example_loads(cicada, text):
    doc = as_scenario(text, cicada.dir)
    cicada.write("example.json", doc)
    r = cicada.run("-f", "example.json", "--list")
    assert r.rc == 0, r
    assert r.out.splitlines()[0] == "Available Users:"
    assert sorted(x.strip() for x in r.out.splitlines()[1:]) == \
        sorted(c["name"] for c in doc["users"])


# The examples written for the built-in demo target's API, as (section, which example of
# it), with what their run must show.
DEMO_RUNS = [("checks-line", 0), ("checks-line", 1), ("captures-line", 1),
             ("variables-and-templates-line", 1), ("test-data-line", 1)]


def test_demo_examples_run_clean(cicada):
    """Both examples of Checks (the login and the product list), the second of Captures,
    templates' functions and Test data each run against the demo target (the docs say
    every check there passes): requests counted, no failure and no exception."""
    port = free_port()
    demo = cicada.start("--demo-target", f"127.0.0.1:{port}")
    wait_listening(port, demo)
    picked = {}
    for bid, text in blocks():
        for prefix in {p for p, _ in DEMO_RUNS}:
            if bid.startswith(prefix):
                picked.setdefault(prefix, []).append((bid, text))
    procs = {}
    for prefix, which in DEMO_RUNS:
        bid, text = picked[prefix][which]
        name = bid.replace("-", "_")
        cicada.write(f"{name}.json", as_scenario(text, cicada.dir))
        procs[bid] = (name, cicada.start("-f", f"{name}.json", "--headless", "-u", 2, "-r", 20,
                                         "-t", "1s", "-H", f"http://127.0.0.1:{port}",
                                         "--csv", name))
    assert len(procs) == len(DEMO_RUNS), picked.keys()
    for bid, (name, p) in procs.items():
        r = p.wait(1 + SLACK)
        assert r.rc == 0, (bid, r)
        rows = stats_rows(cicada.path(f"{name}_stats.csv"))
        assert int(rows[("", "Aggregated")]["Request Count"]) > 0, bid
        assert failure_rows(cicada.path(f"{name}_failures.csv")) == {}, bid
        assert cicada.path(f"{name}_exceptions.csv").read_text().count("\n") == 1, bid
