"""The runs filter language on its own (livepanel/runs_filter.py): parsed, never evaluated as Python."""

from __future__ import annotations

import pytest

from livepanel.runs_filter import FilterError, parse

ROW = {
    "env": "mnist/adam-1",
    "status": "running",
    "alerts": 2,
    "steps": 930,
    "config": {"lr": 0.001, "optimizer": "adam", "amp": True, "optim.betas": "(0.9, 0.99)", "status": "x"},
    "summary": {"acc/test": 0.91},
    "metrics": {"loss/val": {"last": 0.3, "min": 0.25, "max": 2.0, "step": 930.0}},
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('lr < 0.01 and optimizer == "adam"', True),
        ("lr >= 1e-3 and lr <= 1E-3", True),
        ('name ~ "^mnist/" and env ~ "adam-\\d"', True),
        ("status == 'running' and alerts > 1 and steps == 930", True),
        ('config.status == "x" and status != "x"', True),  # the field first; config.K for the key
        ("amp == true and amp != false and amp == 1", True),  # a bool is a number
        ("optim.betas == '(0.9, 0.99)'", True),
        ("acc/test > 0.9 and summary.acc/test > 0.9", True),
        ("loss/val < 0.5 and metric.loss/val.min == 0.25 and metrics.loss/val.step >= 900", True),
        ("nothing == null and not nothing != null", True),
        ("nothing < 1 or nothing > 1 or nothing == 0", False),
        ('optimizer > 1 or lr == "0.001"', False),
        ('lr > 1 or optimizer == "adam" and alerts == 2', True),  # and binds tighter than or
        ('(lr > 1 or optimizer == "adam") and alerts == 3', False),
        ("not not lr < 1", True),
        ('optimizer ~ "sgd"', False),
        ('lr ~ "0"', False),  # ~ needs a string on its left
        ("'it\\'s' == \"it's\"", True),
    ],
)
def test_expressions(expr, expected):
    assert parse(expr).matches(ROW) is expected


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("lr", "the filter ends where an operator"),
        ("lr < ", "ends where a value"),
        ("lr < 1 and", "ends where a comparison"),
        ("lr = 1", "cannot read '= 1' at position 3"),
        ("lr < 1 )", "unexpected ')'"),
        ("(lr < 1", "')'"),
        ("lr ~ 1", "quoted regular expression"),
        ('name ~ "[a"', "bad regular expression"),
        ("< 1", "a name or a value"),
        ("lr < and", "a name or a value"),
        ("__import__('os') == 1", "expected an operator"),
        ("not " * 40 + "lr < 1", "nests more than 32"),
        ("x" * 2001, "limit is 2000"),
        ("   ", "empty"),
    ],
)
def test_bad_expressions_say_what_and_where(expr, text):
    with pytest.raises(FilterError) as info:
        parse(expr)
    assert text in str(info.value)


def test_a_filter_is_a_value_error_and_must_be_text():
    assert issubclass(FilterError, ValueError)
    with pytest.raises(FilterError, match="must be a string"):
        parse(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "pattern, why",
    [
        ("(a+)+$", "a repeat inside a repeat"),
        ("(a|aa)*b", "alternatives inside a repeat"),
        (r"(ab)\1", "backreferences"),
        ("a*b*c*d", "at most two unbounded repeats"),
        ("x" * 201, "at most 200 characters"),
    ],
)
def test_a_regex_that_could_take_forever_is_refused(pattern: str, why: str) -> None:
    """The server runs filters for anyone who may read, and Python's re has no time limit."""
    with pytest.raises(FilterError, match=why):
        parse(f'name ~ "{pattern}"')


def test_usual_regexes_are_accepted() -> None:
    rows = [{"env": "mnist/adam-lr1e-3"}, {"env": "mnist/sgd"}, {"env": "cifar/adam"}]
    for pattern, want in [("^mnist/(sgd|adam)", 2), ("adam.*", 2), (r"lr\d", 1), ("[a-z]+/sgd$", 1)]:
        assert sum(parse(f'name ~ "{pattern}"').matches(r) for r in rows) == want, pattern
