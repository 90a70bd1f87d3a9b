"""Every ```json block of docs/scenario.md loads: whole scenarios (with "users") as they
are, fragments (a step, a user class) wrapped into the smallest scenario around them. Data
files a block names are created as small fixtures with the columns the docs use, so every
documented construct stays valid."""

import json
import re

import pytest

from conftest import REPO

DOC = REPO / "docs" / "scenario.md"
# A documented elision ("users": [ ... ]) stands for any valid list.
ELISION = re.compile(r"\[\s*\.\.\.\s*\]")
FILLER = '[{"name": "Elided", "tasks": [{"request": "/"}]}]'
# {{source.column}} references anywhere in the docs, for data fixtures and wrappers.
COLUMN = re.compile(r"\{\{\s*([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*\}\}")
# Blocks that are known not to load, by section: the reason is the bug.
BROKEN = {}


def slug(heading):
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def blocks():
    """(id, text) of each ```json block, named after its section."""
    out, section, lines, inside, start = [], "top", DOC.read_text().splitlines(), None, 0
    for i, line in enumerate(lines):
        if inside is not None:
            if line.startswith("```"):
                out.append((f"{section}-line{start}", "\n".join(inside)))
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
    for src, col in COLUMN.findall(DOC.read_text()):
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
    return doc


CASES = [pytest.param(text, id=bid,
                      marks=[pytest.mark.xfail(strict=True, reason=BROKEN[sec])]
                      if (sec := bid.rsplit("-line", 1)[0]) in BROKEN else [])
         for bid, text in blocks()]


def test_the_docs_have_json_examples():
    ids = [b for b, _ in blocks()]
    assert len(ids) >= 5, ids
    assert any(b.startswith("a-complete-example") for b in ids)


@pytest.mark.parametrize("text", CASES)
def test_docs_example_loads(cicada, text):
    doc = as_scenario(text, cicada.dir)
    cicada.write("example.json", doc)
    r = cicada.run("-f", "example.json", "--list")
    assert r.rc == 0, r
    assert r.out.splitlines()[0] == "Available Users:"
    assert sorted(x.strip() for x in r.out.splitlines()[1:]) == \
        sorted(c["name"] for c in doc["users"])
