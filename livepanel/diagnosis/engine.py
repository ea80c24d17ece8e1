"""The Diagnoser: routes appended points to per-series summaries and runs the detectors.

The diagnosis worker calls `observe` for every line append the server accepts, in order. The common case (a few points,
healthy series) is a dict lookup, a sum to spot NaN/Inf, and a list extend; the detectors run
only when a call closes a block (once per call, and more often only in a call that closes many:
see Track.feed), and blocks grow with the series (see track.py).
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
from livepanel.diagnosis.track import JUDGE_GROWTH, SMALL
from livepanel.sumsq import sum_of_squares

_WATCHED = ("train_loss", "val_loss", "grad_norm", "val_acc", "lr")  # roles that get a summary
_NONFINITE = ("train_loss", "val_loss", "grad_norm")
_OFF = object()  # a series with a role the detectors do not use
NOT_LEARNING_EVERY = 16  # points at least between two not_learning judgements (young series)
_DIVERGE_MIN = 3 * LEVEL_POINTS  # loss.divergence returns None below this many points (its first check)


class Diagnoser:
    """Detects training problems in line series as they are appended; numpy only, no I/O.

    Not thread-safe: one thread feeds it, in order (in the server, the diagnosis worker process).
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str], Series] = {}
        self._envs: dict[str, dict[tuple[str, str], Series]] = {}
        self._lr: dict[str, Series | None] = {}  # env -> its first lr series (None: it has none); reset on change
        self._raised: set[str] = set()
        self._calls = 0  # observe calls that closed blocks: orders "seen before" for findings to confirm
        self._collapsed: dict[str, int] = {}  # env -> gradient series that collapsed, awaiting a steady peer
        # findings to confirm on a later call, with the number of batches settled when they were made
        self._unconfirmed: dict[tuple[str, str, str], tuple[Series, int]] = {}
        self._batches = 0

    # ------------------------------------------------------------ public API

    def observe(
        self,
        env: str,
        win: str,
        trace: str,
        x: np.ndarray,
        y: np.ndarray,
        opts: dict[str, Any] | None,
        catch_up: bool = False,
    ) -> list[Alert]:
        """Take the points just appended to one trace; return the alerts they newly raise.

        `catch_up`: the points are a backlog of several appends (the worker fell behind), judged each time
        the series doubles through them and at their end (and at any block that may make a fast kind
        certain), not each time it grows by 1/64: the longer the backlog, the less each point costs."""
        s = self._series.get((env, win, trace))
        if s is None or ((opts or not s.plain) and self._changed(s, opts)):
            s = self._open(env, win, trace, opts)
        t = s.track
        if t is None:  # a role the detectors do not use
            return []
        n = len(y)
        if n <= SMALL:
            ys = y.tolist()
            tot = sum(ys)
            by = t.by
            if tot - tot == 0 and len(by) + t.an + n < t.bsize:  # the common case: finite, no block closes
                if not by and not t.an and n:
                    t.px0 = x[0]
                by += ys
                return []
            return self._feed(s, x, ys, tot, catch_up)
        y = np.asarray(y, dtype=np.float64)
        # y.y is not finite when a value is not (or it overflows: _nonfinite then finds none); cheaper than a sum
        tot = sum_of_squares(y)
        an = t.an
        if an and tot - tot == 0 and not t.by and an + n < t.bsize:  # large blocks, room left in the buffer
            t.buf[an : an + n] = y
            t.an = an + n
            return []
        return self._feed(s, x, y, tot, catch_up)

    def _feed(
        self, s: Series, x: np.ndarray, v: list[float] | np.ndarray, tot: float, catch_up: bool = False
    ) -> list[Alert]:
        """Queue points (v: Python floats or a float64 array; tot: not finite when a value may not be),
        close the blocks they fill, and run the detectors when Track.feed says (after the last block)."""
        out: list[Alert] = []
        if tot - tot != 0 and s.role in _NONFINITE and "nonfinite" not in s.done:
            self._nonfinite(s, x, np.asarray(v, dtype=np.float64), out)
        self._calls += 1
        s.track.feed(x, v, s.hook, lambda: self._judge(s, out), bool(s.seen), catch_up)
        return out

    def settle(self) -> list[Alert]:
        """After a batch: judge again the findings still waiting for a later call that were made before
        the previous batch ended (their series got no block since, e.g. a whole run sent in one call per
        series); return the alerts that raises. A finding of this very batch waits for the next one, as
        a confirmation on the same data would be none."""
        out: list[Alert] = []
        if self._unconfirmed:
            stale = [s for s, made in self._unconfirmed.values() if made < self._batches]
            if stale:
                self._calls += 1
                for s in stale:
                    self._judge(s, out)
        self._batches += 1
        return out

    def unconfirmed(self) -> bool:
        """Whether a finding waits for a later call (settle would judge it)."""
        return bool(self._unconfirmed)

    def forget(self, env: str, win: str | None = None, trace: str | None = None) -> None:
        """Drop state (and raised keys) of a trace, a window or a whole env, so a new run there starts clean."""
        self._lr.pop(env, None)
        group = self._envs.get(env, {})
        for wt in list(group):
            if (win is None or wt[0] == win) and (trace is None or wt[1] == trace):
                del group[wt]
                self._series.pop((env, *wt), None)
                self._unconfirmed.pop((env, *wt), None)
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

    @staticmethod
    def _changed(s: Series, opts: dict | None) -> bool:
        """Whether the opts the role was resolved from changed (the role may then change)."""
        if opts:
            return opts.get("role") != s.ropt or opts.get("diagnose") != s.dopt
        return s.ropt is not None or s.dopt is not None

    def _open(self, env: str, win: str, trace: str, opts: dict | None) -> Series:
        ropt, dopt = (opts.get("role"), opts.get("diagnose")) if opts else (None, None)
        role = resolve_role(win, trace, opts)
        old = self._series.get((env, win, trace))
        self._unconfirmed.pop((env, win, trace), None)
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

    def _judge(self, s: Series, out: list[Alert]) -> None:
        """Run the detectors of this series' role: after a call closed blocks (see Track.feed)."""
        role = s.role
        if role == "lr" or role == "val_acc":
            return
        done = s.done
        if role == "train_loss":
            # One story per series: a diverging loss also swings and is not learning; say it once.
            # A young series skips the detectors whose first check asks for more points than it has.
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
                # judged again once the series grew by 1/JUDGE_GROWTH, or NOT_LEARNING_EVERY points if more
                # (a least-squares fit over its blocks: too dear for every block a young series closes; the
                # verdict waits at most that long, a fraction of a percent of a run by the time it can come)
                s.judge_at = n + max(n // JUDGE_GROWTH, NOT_LEARNING_EVERY)
                found = loss.not_learning(s, self._warmup_end(s.env))
                key = (s.env, s.win, s.trace)
                if not found:
                    s.seen = 0
                    self._unconfirmed.pop(key, None)
                elif not s.seen:
                    s.seen = self._calls  # confirm on a later call: the env's lr may not have arrived yet
                    self._unconfirmed[key] = (s, self._batches)
                elif self._calls > s.seen:
                    self._unconfirmed.pop(key, None)
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
