"""A run's record from the client: config (hyper-parameters), summary (final metrics), and runs() to compare.

A mixin of `Panel`. config and summary are flattened and checked in the call (a bad one raises there,
nothing is sent), then queued as a `run` op like a point. See docs/client.md, "Runs".
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from typing import Any

from livepanel import protocol, runs_filter

MAX_NESTING = 32  # levels of nested mappings in a config


def flatten(values: Any, what: str = "config") -> dict[str, Any]:
    """A config or summary as one flat map: nested mappings become dotted keys ({"opt": {"lr": 1}} gives
    {"opt.lr": 1}). Accepts a mapping, an argparse.Namespace, a dataclass instance or anything with keys()
    and [] (OmegaConf, ...). Numbers, strings, bools and None are kept; numpy scalars become numbers; any
    other value becomes its repr. Raises TypeError or ValueError naming the key at fault."""
    out: dict[str, Any] = {}
    _walk(_mapping(values, what), "", out, what, 0)
    return out


def _mapping(values: Any, what: str) -> Mapping | None:
    if values is None:
        return {}
    if isinstance(values, Mapping):
        return values
    if isinstance(values, argparse.Namespace):
        return vars(values)
    if dataclasses.is_dataclass(values) and not isinstance(values, type):
        return {f.name: getattr(values, f.name) for f in dataclasses.fields(values)}
    if callable(getattr(values, "keys", None)) and callable(getattr(values, "__getitem__", None)):
        return {k: values[k] for k in values.keys()}
    raise TypeError(
        f"{what} must be a dict, an argparse.Namespace, a dataclass or a mapping, got {type(values).__name__}"
    )


def _nested(value: Any) -> bool:
    return (
        isinstance(value, (Mapping, argparse.Namespace))
        or (dataclasses.is_dataclass(value) and not isinstance(value, type))
        or (callable(getattr(value, "keys", None)) and callable(getattr(value, "__getitem__", None)))
    )


def _walk(values: Mapping, prefix: str, out: dict[str, Any], what: str, depth: int) -> None:
    if depth > MAX_NESTING:
        raise ValueError(f"{what} nests more than {MAX_NESTING} levels deep at {prefix[:-1]!r:.200} (a cycle?)")
    for key, value in values.items():
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be strings, got {type(key).__name__} {key!r:.100}")
        name = prefix + key
        if _nested(value):
            _walk(_mapping(value, what), name + ".", out, what, depth + 1)
            continue
        if not name or len(name) > protocol.MAX_NAME or not name.isprintable():
            raise ValueError(
                f"{what} key {name!r:.250} must be printable text of 1 to {protocol.MAX_NAME} characters (dotted)"
            )
        if len(out) >= protocol.MAX_RUN_KEYS:
            raise ValueError(f"{what} has more than {protocol.MAX_RUN_KEYS} keys (once flattened)")
        out[name] = _scalar(value, name, what)


def _scalar(value: Any, name: str, what: str) -> Any:
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        if not protocol.INT64_MIN <= value <= protocol.INT64_MAX:
            raise ValueError(f"{what} {name!r}: {value} cannot be stored (integers are 64-bit); pass it as a string")
        return value
    if isinstance(value, str):
        if len(value) > protocol.MAX_RUN_TEXT:
            raise ValueError(f"{what} {name!r} is {len(value)} characters long; the limit is {protocol.MAX_RUN_TEXT}")
        return value
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):  # numpy, torch scalars
        item = value.item()
        if item is None or isinstance(item, (bool, int, float, str)):
            return _scalar(item, name, what)
    try:
        text = repr(value)
    except Exception as exc:
        raise ValueError(f"{what} {name!r}: a {type(value).__name__} whose repr fails cannot be stored") from exc
    if len(text) > protocol.MAX_RUN_TEXT:
        raise ValueError(
            f"{what} {name!r}: a {type(value).__name__} is kept as its repr, and this one is {len(text)} characters "
            f"long (the limit is {protocol.MAX_RUN_TEXT}); pass a shorter value"
        )
    return text


class RunRecord:
    """config(), summary() and runs() (mixed into Panel)."""

    env: str

    def _env(self, env: Any) -> str:
        raise NotImplementedError

    def _push(self, op: dict, finish: Any = None, key: tuple | None = None) -> None:
        raise NotImplementedError

    def _read(self, path: str, **query: Any) -> Any:
        raise NotImplementedError

    def flush(self, timeout: float | None = 10.0) -> bool:
        raise NotImplementedError

    @staticmethod
    def _run_fields(field: str, values: Any, merge: bool) -> dict[str, Any]:
        if not isinstance(merge, bool):
            raise TypeError(f"{field}: merge must be True or False, got {type(merge).__name__}")
        flat = flatten(values, field)
        protocol.check_run_values(flat, field)  # what the server checks, so it cannot refuse it
        return {field: flat, "merge": merge}

    def _run_op(self, field: str, values: Any, env: str | None, merge: bool) -> None:
        run = self._run_fields(field, values, merge)
        self._push({"op": "run", "env": self._env(env), **run})

    def config(self, values: Any, env: str | None = None, merge: bool = True) -> None:
        """Store the run's hyper-parameters with its env (merged into those stored, unless merge=False).
        Nested dicts flatten to dotted keys; see flatten() for what is accepted. Queued like a point."""
        self._run_op("config", values, env, merge)

    def summary(self, values: Any, env: str | None = None, merge: bool = True) -> None:
        """Set the run's final metrics (accuracy on the test set, ...), as config() does its config."""
        self._run_op("summary", values, env, merge)

    def runs(
        self, filter: str | None = None, as_frame: bool = False, flush: bool = True, stale: float | None = None
    ) -> Any:
        """One dict per env on the server: env, config, summary, color, metrics ({key: {last, min, max, step}}
        of every line trace), status (running, finished, failed or stale), alerts, steps, created, updated.
        `filter` selects runs (`lr < 0.01 and optimizer == "adam"`; docs/client.md); `stale` (seconds, 300)
        is how long a running run may stay quiet; as_frame=True gives a pandas DataFrame."""
        if filter is not None:
            runs_filter.parse(filter)  # a bad expression raises here, before any request
        if stale is not None and (type(stale) not in (int, float) or not 0 <= stale <= 10**9):
            raise ValueError(f"runs: stale must be a number of seconds from 0 to 1e9, got {stale!r}")
        frame = None
        if as_frame:
            try:
                import pandas as frame  # noqa: N813
            except ImportError:
                raise ImportError("runs(as_frame=True) needs pandas: pip install pandas") from None
        if flush:
            self.flush()
        rows = self._read("/runs", filter=filter, stale=stale)["runs"]
        if frame is None:
            return rows
        return frame.DataFrame([flat_row(r) for r in rows])


def flat_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of runs() as one level: env, status, alerts, steps, created, updated, config.K, summary.K,
    and per metric K: K (its last value), K.min, K.max, K.step."""
    out = {k: row.get(k) for k in ("env", "status", "alerts", "steps", "created", "updated")}
    out.update({f"config.{k}": v for k, v in row["config"].items()})
    out.update({f"summary.{k}": v for k, v in row["summary"].items()})
    for key, m in row["metrics"].items():
        out[key] = m["last"]
        out.update({f"{key}.{s}": m[s] for s in ("min", "max", "step")})
    return out
