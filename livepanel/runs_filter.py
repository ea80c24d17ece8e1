"""Filter expressions over runs: `lr < 0.01 and optimizer == "adam"`, `name ~ "adam.*"`, `status == "running"`.

Parsed here, never evaluated by Python: shared by the server (GET /api/v1/runs?filter=) and the client
(which checks an expression before sending it). Pure: no Tornado, no numpy.

    expr   := and ("or" and)*
    and    := unary ("and" unary)*
    unary  := "not" unary | "(" expr ")" | value OP value
    OP     := == != < <= > >= ~          (~: the right side is a regular expression searched in the left)
    value  := NAME | "string" | 'string' | number | true | false | null
              (in a string, \" \' and \\ stand for the character; other backslashes stay, for regexes)

A NAME is a run's `name` (its env; `env` too), `status`, `alerts`, `created`, `updated`, `steps`, or a
key: `config.K`, `summary.K`, `metric.K` (a metric's last value; `metric.K.min`, `.max`, `.step`), and a
bare K is looked up in the config, then the summary, then the metrics (last value). A key holds letters,
digits and `_ . / -`. A missing value compares unequal to everything but null; comparing a number with a
string is false (`!=`: true).
"""

from __future__ import annotations

import re
from typing import Any

try:  # the pattern parser of re (sre_parse before 3.11), to refuse patterns that can take forever
    import re._parser as _sre_parser
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parser

MAX_FILTER = 2000  # characters of an expression
MAX_DEPTH = 32  # nesting of parentheses and `not`
OPS = ("==", "!=", "<=", ">=", "<", ">", "~")
FIELDS = ("name", "env", "status", "alerts", "created", "updated", "steps")
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w/.-]))
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>|~)
  | (?P<paren>[()])
  | (?P<name>[A-Za-z_][\w./-]*)
    )""",
    re.VERBOSE,
)
_MISSING = object()


class FilterError(ValueError):
    """An expression that does not parse; the text says where."""


def parse(text: str) -> Filter:
    """Parse an expression (raises FilterError naming the fault and its position)."""
    if not isinstance(text, str):
        raise FilterError(f"a filter must be a string, got {type(text).__name__}")
    if len(text) > MAX_FILTER:
        raise FilterError(f"a filter is {len(text)} characters long; the limit is {MAX_FILTER}")
    return Filter(text, _Parser(text).parse())


class Filter:
    """A parsed expression: `matches(row)` for a row of runs() (env, status, config, summary, metrics, ...)."""

    def __init__(self, text: str, tree: tuple):
        self.text, self.tree = text, tree

    def matches(self, row: dict[str, Any]) -> bool:
        return _eval(self.tree, row)

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            start = len(text) - len(text[pos:].lstrip())
            raise FilterError(f"cannot read {text[start : start + 20]!r} at position {start} of the filter")
        kind = m.lastgroup
        value: Any = m.group(kind)
        at = m.start(kind)
        if kind == "num":
            value = float(value) if any(c in value for c in ".eE") else int(value)
        elif kind == "str":
            value = re.sub(r"\\([\"'\\])", r"\1", value[1:-1])  # \" \' \\; other backslashes stay (regexes)
        elif kind == "name" and value in ("and", "or", "not", "true", "false", "null", "None", "True", "False"):
            kind = value.lower() if value in ("and", "or", "not") else "const"
            value = {"true": True, "True": True, "false": False, "False": False}.get(m.group("name"))
        out.append((kind, value, at))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0

    def parse(self) -> tuple:
        if not self.tokens:
            raise FilterError("the filter is empty")
        tree = self.expr()
        if self.i < len(self.tokens):
            kind, value, at = self.tokens[self.i]
            raise FilterError(f"unexpected {value!r} at position {at} of the filter (missing 'and' or 'or'?)")
        return tree

    def peek(self) -> tuple[str, Any, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, what: str) -> tuple[str, Any, int]:
        token = self.peek()
        if token is None:
            raise FilterError(f"the filter ends where {what} was expected")
        self.i += 1
        return token

    def expr(self) -> tuple:
        node = self.conj()
        while (t := self.peek()) is not None and t[0] == "or":
            self.i += 1
            node = ("or", node, self.conj())
        return node

    def conj(self) -> tuple:
        node = self.unary()
        while (t := self.peek()) is not None and t[0] == "and":
            self.i += 1
            node = ("and", node, self.unary())
        return node

    def unary(self) -> tuple:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"the filter nests more than {MAX_DEPTH} deep")
        try:
            kind, value, at = self.take("a comparison")
            if kind == "not":
                return ("not", self.unary())
            if kind == "paren" and value == "(":
                node = self.expr()
                closing = self.take("')'")
                if closing[1] != ")":
                    raise FilterError(f"expected ')' at position {closing[2]} of the filter, got {closing[1]!r}")
                return node
            left = self.value(kind, value, at)
            op = self.take("an operator (== != < <= > >= ~)")
            if op[0] != "op":
                raise FilterError(f"expected an operator (== != < <= > >= ~) at position {op[2]}, got {op[1]!r}")
            right = self.value(*self.take(f"a value after {op[1]!r}"))
            if op[1] == "~":
                if right[0] != "const" or not isinstance(right[1], str):
                    raise FilterError(f"~ at position {op[2]} needs a quoted regular expression on its right")
                right = ("regex", _regex(right[1]))
            return ("cmp", op[1], left, right)
        finally:
            self.depth -= 1

    def value(self, kind: str, value: Any, at: int) -> tuple:
        if kind == "name":
            return ("name", value)
        if kind in ("num", "str", "const"):
            return ("const", value)
        raise FilterError(f"expected a name or a value at position {at} of the filter, got {value!r}")


def lookup(row: dict[str, Any], name: str) -> Any:
    """A name's value in a row of runs() (_MISSING when the row has none)."""
    if name in FIELDS:
        return row.get("env") if name in ("name", "env") else row.get(name, _MISSING)
    config, summary, metrics = row.get("config") or {}, row.get("summary") or {}, row.get("metrics") or {}
    if name in config:
        return config[name]
    if name in summary:
        return summary[name]
    if name in metrics:
        return metrics[name].get("last", _MISSING)
    prefix, _, key = name.partition(".")
    if prefix == "config":
        return config.get(key, _MISSING)
    if prefix == "summary":
        return summary.get(key, _MISSING)
    if prefix in ("metric", "metrics"):
        if key in metrics:
            return metrics[key].get("last", _MISSING)
        base, _, stat = key.rpartition(".")
        if base in metrics and stat in ("last", "min", "max", "step"):
            return metrics[base].get(stat, _MISSING)
    return _MISSING


def _value(node: tuple, row: dict[str, Any]) -> Any:
    return lookup(row, node[1]) if node[0] == "name" else node[1]


def _eval(node: tuple, row: dict[str, Any]) -> bool:
    kind = node[0]
    if kind == "or":
        return _eval(node[1], row) or _eval(node[2], row)
    if kind == "and":
        return _eval(node[1], row) and _eval(node[2], row)
    if kind == "not":
        return not _eval(node[1], row)
    _, op, left, right = node
    a = _value(left, row)
    if op == "~":
        return isinstance(a, str) and right[1].search(a) is not None
    b = _value(right, row)
    a = None if a is _MISSING else a
    b = None if b is _MISSING else b
    if op in ("==", "!="):
        same = _kind(a) == _kind(b) and a == b
        return same if op == "==" else not same
    if a is None or b is None or _kind(a) != _kind(b):
        return False
    try:
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    except TypeError:
        return False


def _kind(value: Any) -> str:
    """Numbers (bools among them: true == 1) compare with numbers, strings with strings."""
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "other"


MAX_PATTERN = 200  # characters of a regular expression in a filter
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def _regex(pattern: str) -> re.Pattern:
    """A regular expression that cannot take exponential time: the server runs it for anyone who may read,
    and Python's re has no time limit. Refused: a repeat of something that itself repeats or branches
    (`(a+)+`, `(a|a)*`), a backreference, more than two unbounded repeats, more than MAX_PATTERN characters."""
    if len(pattern) > MAX_PATTERN:
        raise FilterError(f"a regular expression in a filter is at most {MAX_PATTERN} characters long")
    try:
        tree = _sre_parser.parse(pattern)
        compiled = re.compile(pattern)
    except re.error as exc:
        raise FilterError(f"bad regular expression {pattern[:MAX_PATTERN]!r}: {exc}") from None
    unbounded = 0
    for op, inner, repeated in _walk(tree, False):
        if str(op) in ("GROUPREF", "GROUPREF_EXISTS"):
            raise FilterError(f"regular expression {pattern!r}: backreferences are not supported in filters")
        if str(op) in _REPEATS:
            if repeated:
                raise FilterError(f"regular expression {pattern!r}: a repeat inside a repeat can take forever")
            if inner[1] is _sre_parser.MAXREPEAT:
                unbounded += 1
        if str(op) == "BRANCH" and repeated:
            raise FilterError(f"regular expression {pattern!r}: alternatives inside a repeat can take forever")
    if unbounded > 2:
        raise FilterError(f"regular expression {pattern!r}: at most two unbounded repeats (*, +, {{n,}})")
    return compiled


def _walk(items: Any, repeated: bool):
    """(opcode, argument, inside a repeat) for every node of a parsed pattern."""
    for op, arg in items:
        yield op, arg, repeated
        if str(op) in _REPEATS:
            yield from _walk(arg[2], True)
        elif str(op) == "SUBPATTERN":
            yield from _walk(arg[-1], repeated)
        elif str(op) == "BRANCH":
            for branch in arg[1]:
                yield from _walk(branch, repeated)
        elif str(op) in ("ASSERT", "ASSERT_NOT"):
            yield from _walk(arg[1], repeated)
        elif str(op) == "ATOMIC_GROUP":
            yield from _walk(arg, repeated)
