"""The filter cases shared with the page (frontend/test/runs_filter.test.ts runs the same file through
frontend/src/runs/filter.ts), so the server's and the page's filters can never drift apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livepanel.runs_filter import FilterError, parse

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
