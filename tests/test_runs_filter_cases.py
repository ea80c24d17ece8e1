"""The filter cases shared with the page (frontend/test/runs_filter.test.ts runs the same file through
frontend/src/runs/filter.ts), so the server's and the page's filters can never drift apart."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from livepanel.runs_filter import FilterError, parse

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"
SHARED = json.loads((Path(__file__).parent / "runs_filter_cases.json").read_text(encoding="utf-8"))
CASES = SHARED["cases"]


def test_the_shared_file_has_both_kinds_of_case() -> None:
    assert sum("match" in c for c in CASES) > 50
    assert sum("match" not in c for c in CASES) > 40


@pytest.mark.parametrize("case", [c for c in CASES if "match" in c], ids=lambda c: c["expr"][:60])
def test_matching_runs(case: dict) -> None:
    f = parse(case["expr"])
    assert [r["env"] for r in SHARED["rows"][case["rows"]] if f.matches(r)] == case["match"]


@pytest.mark.parametrize("case", [c for c in CASES if "match" not in c], ids=lambda c: c["expr"][:60])
def test_errors(case: dict) -> None:
    with pytest.raises(FilterError) as info:
        parse(case["expr"])
    if "message" in case:
        assert str(info.value) == case["message"]
    else:
        assert case["error"] in str(info.value)


# ------------------------------------------------------------ random expressions through both


def _random_cases(seed: int, count: int) -> list[str]:
    """Expressions from the grammar's pieces, some of them damaged, and regexes of Python's syntax."""
    rng = random.Random(seed)
    names = ["lr", "optimizer", "name", "status", "alerts", "steps", "updated", "amp", "seed", "config.lr", "nothing"]
    names += ["summary.acc/test", "acc/test", "metric.loss/val.min", "loss", "größe", "metrics.acc.step", "note"]
    values = ["0.01", "1e-3", "1", "-1", "+5", ".5", "1.", "1e400", "true", "false", "null", "None", '"adam"']
    values += ["'sgd'", '"1e-3"', '""', "'it\\'s'", "930", "18.0"]
    pieces = ["[\\S]", "[^\\W]", "[a\\S]", "[^a\\s\\W]", "[\\S-a]"]
    pieces += ["a", "b", ".", "^", "$", "\\d", "\\w", "\\s", "\\b", "\\B", "\\W", "[a-c]", "[^a]", "[\\d]", "[]]", "("]
    pieces += [")", "(?:", "(?P<n>", "(?=", "(?<=a)", "|", "*", "+", "?", "{2}", "{1,3}", "{,2}", "*?", "*+", "(?>"]
    pieces += [
        "\\.",
        "\\-",
        "/",
        "\\n",
        "\\x41",
        "é",
        "٣",
        "\\Z",
        "\\A",
        "{",
        "]",
        "\\1",
        "(?i)",
        "(?s)",
        "(?m)",
        "\\q",
    ]
    junk = ["(", ")", "and", "or", "not", "=", "!", "&", "~", "'open", "\n"]

    def regex() -> str:
        p = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 6)))
        return p.replace("\\", "\\\\").replace('"', '\\"')

    def atom(depth: int) -> str:
        r = rng.random()
        if depth > 3 or r < 0.55:
            if rng.random() < 0.3:
                return f'{rng.choice(["name", "optimizer", "lr"])} ~ "{regex()}"'
            ops = ["==", "!=", "<", "<=", ">", ">="]
            return f"{rng.choice(names + values[:3])} {rng.choice(ops)} {rng.choice(values + names[:4])}"
        if r < 0.7:
            return "not " + atom(depth + 1)
        return "(" + expr(depth + 1) + ")" if r < 0.85 else atom(depth + 1)

    def expr(depth: int = 0) -> str:
        parts = [atom(depth)]
        for _ in range(rng.randrange(0, 3)):
            parts += [rng.choice(["and", "or"]), atom(depth)]
        text = " ".join(parts)
        if rng.random() < 0.15:
            toks = text.split(" ")
            toks.insert(rng.randrange(len(toks) + 1), rng.choice(junk))
            text = " ".join(toks)
        return text

    return [expr() for _ in range(count)]


RUNNER = """
import { readFileSync } from "node:fs";
import { parse } from "FILTER";
const d = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = d.exprs.map((e) => {
  try { const f = parse(e); return d.rows.filter((r) => f.matches(r)).map((r) => r.env); }
  catch (exc) { return "ERR " + exc.message; }
});
console.log(JSON.stringify(out));
"""


def test_random_expressions_read_the_same_in_the_page(tmp_path: Path) -> None:
    """3,000 random expressions (a fixed seed): the page's port gives the same runs or the same error."""
    node, esbuild = shutil.which("node"), FRONTEND / "node_modules" / ".bin" / "esbuild"
    if node is None or not esbuild.exists():
        pytest.skip("node and frontend/node_modules are needed (cd frontend && npm ci)")
    rows = SHARED["rows"]["mnist"] + SHARED["rows"]["texts"]
    exprs = _random_cases(19, 3000)
    want = []
    for e in exprs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # re's "possible nested set" of `[[`
                f = parse(e)
            want.append([r["env"] for r in rows if f.matches(r)])
        except FilterError as exc:
            want.append("ERR " + str(exc))
    (tmp_path / "cases.json").write_text(json.dumps({"rows": rows, "exprs": exprs}), encoding="utf-8")
    (tmp_path / "run.ts").write_text(RUNNER.replace("FILTER", str(FRONTEND / "src" / "runs" / "filter.ts")))
    bundle = [str(esbuild), str(tmp_path / "run.ts"), "--bundle", "--platform=node", "--format=esm"]
    subprocess.run([*bundle, f"--outfile={tmp_path / 'run.mjs'}", "--log-level=warning"], check=True, timeout=120)
    out = subprocess.run(
        [node, str(tmp_path / "run.mjs"), str(tmp_path / "cases.json")], capture_output=True, timeout=120
    )
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    got = json.loads(out.stdout)
    differ = []
    for e, w, g in zip(exprs, want, got, strict=True):
        same = w == g or (
            str(w).startswith("ERR bad regular expression") and str(g).startswith("ERR bad regular expression")
        )
        if not same:
            differ.append((e, w, g))
    assert not differ, differ[:5]
