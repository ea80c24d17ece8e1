"""The Diagnoser: routes appended points to per-series summaries and runs the detectors.

The server calls `observe` for every line append, in order. The common case (a few points,
healthy series) is a dict lookup, a sum to spot NaN/Inf, and two list extends; detectors run
only when a block closes, and blocks grow with the series (see track.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from livepanel.diagnosis import grads, loss, overfit
from livepanel.diagnosis.alert import SUGGESTIONS, Alert, alert_key
from livepanel.diagnosis.roles import resolve_role, stem
from livepanel.diagnosis.series import LEVEL_POINTS, Series
from livepanel.diagnosis.track import SMALL

_WATCHED = ("train_loss", "val_loss", "grad_norm", "val_acc", "lr")  # roles that get a summary
_NONFINITE = ("train_loss", "val_loss", "grad_norm")
_OFF = object()  # a series with a role the detectors do not use
_DIVERGE_MIN = 3 * LEVEL_POINTS  # loss.divergence returns None below this many points (its first check)
JUDGE_GROWTH = 64  # not_learning is judged again once a series has grown by 1/JUDGE_GROWTH


class Diagnoser:
    """Detects training problems in line series as they are appended; numpy only, no I/O.

    Not thread-safe: call it from the thread that applies appends (the server's ingest).
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str], Series] = {}
        self._envs: dict[str, dict[tuple[str, str], Series]] = {}
        self._lr: dict[str, Series | None] = {}  # env -> its first lr series (None: it has none); reset on change
        self._raised: set[str] = set()
        self._calls = 0  # observe calls so far: orders "seen before" for findings that need confirming
        self._collapsed: dict[str, int] = {}  # env -> gradient series that collapsed, awaiting a steady peer

    # ------------------------------------------------------------ public API

    def observe(
        self, env: str, win: str, trace: str, x: np.ndarray, y: np.ndarray, opts: dict[str, Any] | None
    ) -> list[Alert]:
        """Take the points just appended to one trace; return the alerts they newly raise."""
        self._calls += 1
        s = self._series.get((env, win, trace))
        if opts:
            ropt, dopt = opts.get("role"), opts.get("diagnose")
        else:
            ropt = dopt = None
        if s is None or ropt != s.ropt or dopt != s.dopt:
            s = self._open(env, win, trace, opts, ropt, dopt)
        if s.role is None:
            return []
        t = s.track
        out: list[Alert] = []
        n = len(y)
        if n <= SMALL:
            ys = y.tolist()
            tot = sum(ys)
            if tot - tot != 0 and s.role in _NONFINITE and "nonfinite" not in s.done:
                self._nonfinite(s, x, np.asarray(y), out)
            if n == 1 and t.bsize == 1 and not t.by:  # a young series: each point is a block
                t.close1(x.item(), ys[0])
                self._after_block(s, out)
                return out
            t.bx.extend(x.tolist())
            t.by.extend(ys)
            if len(t.by) + t.an >= t.bsize:  # t.ready(), inlined: once per call
                self._drain(s, out)  # at most one or two blocks for a small call
            return out
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        # y.y is not finite when a value is not (or it overflows: _nonfinite then finds none); cheaper than a sum
        if s.role in _NONFINITE and "nonfinite" not in s.done and not math.isfinite(y.dot(y)):
            self._nonfinite(s, x, y, out)
        off = 0
        while t.bsize <= SMALL:  # small blocks: Python floats beat numpy call overhead
            need = t.bsize - len(t.by)
            if need > n - off:
                break
            t.bx.extend(x[off : off + need].tolist())
            t.by.extend(y[off : off + need].tolist())
            off += need
            t.close()
            self._after_block(s, out)
        if off < n:
            if t.bsize <= SMALL:
                t.bx.extend(x[off:].tolist())
                t.by.extend(y[off:].tolist())
            else:  # large blocks: closed from array views, bounded: each pass consumes bsize points
                t.add_arrays(x[off:], y[off:])
                if t.ready():
                    self._drain(s, out)
                    t.own()
        return out

    def _drain(self, s: Series, out: list[Alert]) -> None:
        """Close every full block of pending points, running the detectors after each."""
        t = s.track
        while t.ready():  # bounded: each pass consumes bsize >= 1 points
            t.close()
            self._after_block(s, out)

    def forget(self, env: str, win: str | None = None, trace: str | None = None) -> None:
        """Drop state (and raised keys) of a trace, a window or a whole env, so a new run there starts clean."""
        self._lr.pop(env, None)
        group = self._envs.get(env, {})
        for wt in list(group):
            if (win is None or wt[0] == win) and (trace is None or wt[1] == trace):
                del group[wt]
                self._series.pop((env, *wt), None)
        if not group:
            self._envs.pop(env, None)
            self._collapsed.pop(env, None)
        parts = [p for p in (env, win, trace) if p is not None]
        n = len(parts)
        self._raised = {k for k in self._raised if k.split("\x1f")[1 : 1 + n] != parts}

    def known(self, alerts: Iterable[Alert]) -> None:
        """Mark alerts already stored (e.g. before a restart) so the same problem is not raised again."""
        for a in alerts:
            self._raised.add(a.key)

    def role(self, env: str, win: str, trace: str) -> str | None:
        """The role a series was given (None before its first append); for tests and the UI."""
        s = self._series.get((env, win, trace))
        return None if s is None else (s.role or "none")

    # ------------------------------------------------------------ internals

    def _open(self, env: str, win: str, trace: str, opts: dict | None, ropt: object, dopt: object) -> Series:
        role = resolve_role(win, trace, opts)
        old = self._series.get((env, win, trace))
        s = Series(env, win, trace, role if role in _WATCHED else None, ropt, dopt)
        s.stem = stem(win, trace)
        if old is not None and old.role == s.role:  # only the opts object changed: keep the history
            s.track, s.best, s.best_x, s.drop, s.done = old.track, old.best, old.best_x, old.drop, old.done
        self._series[(env, win, trace)] = s
        self._envs.setdefault(env, {})[(win, trace)] = s
        self._lr.pop(env, None)
        return s

    def _emit(self, s: Series, kind: str, key: str, step: float, message: str, out: list[Alert]) -> None:
        s.done.add(kind)
        if key in self._raised:
            return
        self._raised.add(key)
        detected = s.track.last_x()
        if not math.isfinite(detected):
            detected = step
        out.append(Alert(kind, s.env, s.win, s.trace, float(step), message, SUGGESTIONS[kind], key, detected))

    def _nonfinite(self, s: Series, x: np.ndarray, y: np.ndarray, out: list[Alert]) -> None:
        bad = np.flatnonzero(~np.isfinite(np.asarray(y, dtype=np.float64)))
        if not len(bad):
            return  # the sum overflowed, the values are fine
        i = int(bad[0])
        v = float(y[i])
        what = "NaN" if v != v else "infinite"
        step = float(x[i])
        # gradient norms of one window (per-layer traces) share one alert
        key = alert_key("nonfinite", s.env, s.win) if s.role == "grad_norm" else self._key("nonfinite", s)
        s.done.add("nonfinite")
        if key in self._raised:
            return
        self._raised.add(key)
        label = "gradient norm" if s.role == "grad_norm" else "loss"
        msg = f"{label} {s.name} became {what} at step {step:g}"
        out.append(Alert("nonfinite", s.env, s.win, s.trace, step, msg, SUGGESTIONS["nonfinite"], key, step))

    @staticmethod
    def _key(kind: str, s: Series) -> str:
        return alert_key(kind, s.env, s.win, s.trace)

    def _after_block(self, s: Series, out: list[Alert]) -> None:
        """Run the detectors of this series' role on its new block."""
        role = s.role
        if role == "lr":
            s.update_peak()
            return
        s.update_best()
        done = s.done
        if role == "train_loss":
            # One story per series: a diverging loss also swings and is not learning; say it once.
            # A young series (every one of its first CAPACITY points closes a block) skips the detectors
            # whose first check asks for more points than it has: same results, fewer calls.
            n = s.track.n
            if n >= _DIVERGE_MIN and "divergence" not in done and "lr_too_high" not in done:
                found = loss.divergence(s)
                if found:
                    self._emit(s, "divergence", self._key("divergence", s), found[0], found[1], out)
            if n >= loss.LR_MIN_POINTS and "lr_too_high" not in done and "divergence" not in done:
                found = loss.lr_too_high(s)
                if found:
                    self._emit(s, "lr_too_high", self._key("lr_too_high", s), found[0], found[1], out)
            if (
                not done.intersection(("not_learning", "divergence", "lr_too_high"))
                and n >= loss.NOT_LEARNING_POINTS
                and (s.seen or n >= s.judge_at)
            ):
                # judged again once the series grew by 1/JUDGE_GROWTH (a least-squares fit over its
                # blocks: too dear for every block a young series closes; the verdict waits at most
                # n/64 points, a fraction of a percent of a run by the time it can come)
                s.judge_at = n + n // JUDGE_GROWTH
                found = loss.not_learning(s, self._warmup_end(s.env))
                if not found:
                    s.seen = 0
                elif not s.seen:
                    s.seen = self._calls  # confirm on a later call: the env's lr may not have arrived yet
                elif self._calls > s.seen:
                    self._emit(s, "not_learning", self._key("not_learning", s), found[0], found[1], out)
        elif role == "grad_norm":
            if "exploding_gradients" not in done:
                found = grads.exploding(s)
                if found:
                    key = alert_key("exploding_gradients", s.env, s.win)
                    self._emit(s, "exploding_gradients", key, found[0], found[1], out)
            s.collapsed = grads.update_drop(s)
            group = self._envs.get(s.env, {})
            if s.collapsed or self._collapsed.get(s.env):
                # check this layer against the others, or (it may be the steady one) the collapsed ones
                peers = [o for o in group.values() if o.role == "grad_norm"]
                cands = [o for o in peers if o.collapsed and "vanishing_gradients" not in o.done]
                self._collapsed[s.env] = len(cands)
                for c in cands:  # bounded by the gradient series of one env
                    found = grads.vanishing(c, peers)
                    if found:
                        key = alert_key("vanishing_gradients", s.env)
                        self._emit(c, "vanishing_gradients", key, found[0], found[1], out)
                        for o in peers:
                            o.done.add("vanishing_gradients")
                        self._collapsed[s.env] = 0
                        break
        elif role == "val_loss" and "overfitting" not in done:
            train, acc = self._partners(s)
            found = overfit.overfitting(s, train, acc)
            if found:
                self._emit(s, "overfitting", self._key("overfitting", s), found[0], found[1], out)

    def _warmup_end(self, env: str) -> float:
        """Where the env's learning rate stopped rising, when it logs one (nan otherwise)."""
        if env in self._lr:
            lr = self._lr[env]
        else:
            lr = self._lr[env] = next((o for o in self._envs.get(env, {}).values() if o.role == "lr"), None)
        return math.nan if lr is None else lr.warmup_end()

    def _partners(self, val: Series) -> tuple[Series | None, Series | None]:
        """The training loss (same name words, else the longest) and a validation accuracy of the env."""
        train = acc = None
        for o in self._envs.get(val.env, {}).values():  # bounded by the series of one env
            if o.role == "train_loss":
                if (
                    train is None
                    or (o.stem == val.stem) > (train.stem == val.stem)
                    or ((o.stem == val.stem) == (train.stem == val.stem) and o.track.n > train.track.n)
                ):
                    train = o
            elif o.role == "val_acc" and (acc is None or o.track.n > acc.track.n):
                acc = o
        return train, acc
