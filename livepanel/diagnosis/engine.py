"""The Diagnoser: routes appended points to per-series summaries and runs the detectors.

The diagnosis worker calls `observe` for every line append the server accepts, in order. The common case (a few points,
healthy series) is a dict lookup, a sum to spot NaN/Inf, and a list extend; the detectors run
only at blocks where the series is due (see Track.feed), and blocks grow with the series (see track.py).

Same data, same verdict: a series is judged at points it defines itself (its block boundaries),
whatever calls its points came in, and a detector that reads another series of the env (the
learning rate's warm-up, the training loss beside a validation loss, the other layers' gradients,
the other traces sharing an alert) reads it as it stood at the x being judged (Track.at), once that
series has come that far: until then the judgement waits (a `_Wait`), at most until the batch after
next is settled. So the alerts (kind, series, onset and the x that made them certain) do not depend
on how the points were cut into calls, on which series of an env came first, or on catch-up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from livepanel.diagnosis import grads, loss, overfit
from livepanel.diagnosis.alert import SUGGESTIONS, Alert, alert_key, fmt, fmt_step
from livepanel.diagnosis.roles import resolve_role, stem
from livepanel.diagnosis.series import LEVEL_POINTS, Series
from livepanel.diagnosis.track import JUDGE_GROWTH, SMALL, Track
from livepanel.sumsq import sum_of_squares

_WATCHED = ("train_loss", "val_loss", "grad_norm", "val_acc", "lr")  # roles that get a summary
_NONFINITE = ("train_loss", "val_loss", "grad_norm")
NOT_LEARNING_EVERY = 16  # points at least between two not_learning judgements (young series)
_DIVERGE_MIN = 3 * LEVEL_POINTS  # loss.divergence returns None below this many points (its first check)
_NO_MORE = 64 * loss.NOT_LEARNING_POINTS  # not_learning is not judged past this many points
# Alerts shared by several series (the layers of a gradient window, all those of an env): raised by the one
# that found it first (lowest x, then name), so made once the batch is all there, in settle(), when every
# series that may have found it earlier is known.
_AT_SETTLE = ("nonfinite", "exploding_gradients", "vanishing_gradients")
_LIST = {"divergence": "lr_raised", "lr_too_high": "lr_raised"}  # found, waiting behind a raise's judgement
_AFTER = {
    "lr": ("not_learning", "lr_raised"),
    "train_loss": ("overfitting",),
    "val_acc": ("overfitting",),
}  # who reads it


class _Wait:
    """A judgement at x that reads other series of the env, waiting until they have come as far (or
    until the batch after next is settled). `snap` is the judged series' own state then (Track.snap)."""

    __slots__ = ("x", "kind", "s", "snap", "made", "found")

    def __init__(self, x: float, kind: str, s: Series, snap: tuple | None, made: int, found: tuple | None) -> None:
        self.x, self.kind, self.s, self.snap, self.made, self.found = x, kind, s, snap, made, found


class Diagnoser:
    """Detects training problems in line series as they are appended; numpy only, no I/O.

    Not thread-safe: one thread feeds it, in order (in the server, the diagnosis worker process).
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, str], Series] = {}
        self._envs: dict[str, dict[tuple[str, str], Series]] = {}
        self._roles: dict[str, dict[str, list[Series]]] = {}  # env -> role -> its series, by name; reset on change
        self._raised: set[str] = set()
        self._clock = [0]  # batches settled (shared with the tracks: see Track.keep)
        self._waiting: dict[tuple[str, str], list[_Wait]] = {}  # (env, kind) -> judgements waiting for other series

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

        The alerts do not depend on how a series' points are cut into calls: `catch_up` (a backlog of
        several appends, from a worker that fell behind) is accepted and changes nothing."""
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
            return self._feed(s, x, ys, tot)
        y = np.asarray(y, dtype=np.float64)
        # y.y is not finite when a value is not (or it overflows: _nonfinite then finds none); cheaper than a sum
        tot = sum_of_squares(y)
        an = t.an
        if an and tot - tot == 0 and not t.by and an + n < t.bsize:  # large blocks, room left in the buffer
            t.buf[an : an + n] = y
            t.an = an + n
            return []
        return self._feed(s, x, y, tot)

    def _feed(self, s: Series, x: np.ndarray, v: list[float] | np.ndarray, tot: float) -> list[Alert]:
        """Queue points (v: Python floats or a float64 array; tot: not finite when a value may not be),
        close the blocks they fill and run the detectors where Track.feed says; then the judgements of
        the env that waited for this series."""
        out: list[Alert] = []
        if not len(v):
            return out
        t = s.track
        if tot - tot != 0 and s.role in _NONFINITE and "nonfinite" not in s.done:
            self._nonfinite(s, x, np.asarray(v, dtype=np.float64), out)
        t.feed(x, v, s.hook, lambda: self._judge(s, out))
        last = float(x[-1])  # only now: what another series reads of this one, up to here, is closed
        if last > t.lx:
            t.lx = last
        if self._waiting:
            for after in _AFTER.get(s.role, ()):  # judgements that may wait for this series
                if after == "overfitting" and not self._of(s.env, "val_acc"):
                    continue  # none can be made before settle (see _ready)
                if (s.env, after) in self._waiting:
                    self._release((s.env, after), out)
        return out

    def settle(self) -> list[Alert]:
        """After a batch: the judgements still waiting for another series since before the previous batch
        ended (that series stopped, or never came) are made with what there is; return the alerts that
        raises. A judgement of this very batch waits for the next one: a series of the same steps may be
        logged in it."""
        out: list[Alert] = []
        before = self._clock[0]
        for key in list(self._waiting):
            self._release(key, out, before)
        self._clock[0] += 1
        return out

    def unconfirmed(self) -> bool:
        """Whether a judgement waits for another series (settle may make it)."""
        return bool(self._waiting)

    def forget(self, env: str, win: str | None = None, trace: str | None = None) -> None:
        """Drop state (and raised keys) of a trace, a window or a whole env, so a new run there starts clean."""
        self._roles.pop(env, None)
        group = self._envs.get(env, {})
        for wt in list(group):
            if (win is None or wt[0] == win) and (trace is None or wt[1] == trace):
                del group[wt]
                self._series.pop((env, *wt), None)
        for key in [k for k in self._waiting if k[0] == env]:
            kept = [w for w in self._waiting[key] if self._series.get((env, w.s.win, w.s.trace)) is w.s]
            if kept:
                self._waiting[key] = kept
            else:
                del self._waiting[key]
        if not group:
            self._envs.pop(env, None)
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
        s = Series(env, win, trace, role if role in _WATCHED else None, ropt, dopt, self._clock)
        s.stem = stem(win, trace)
        if old is not None and old.role == s.role:  # only the opts object changed: keep the history
            s.track, s.best, s.best_x, s.drop, s.done = old.track, old.best, old.best_x, old.drop, old.done
            s.peak, s.peak_x, s.peaks, s.judge_at = old.peak, old.peak_x, old.peaks, old.judge_at

        self._series[(env, win, trace)] = s
        self._envs.setdefault(env, {})[(win, trace)] = s
        self._roles.pop(env, None)
        return s

    def _of(self, env: str, role: str) -> list[Series]:
        """The env's series of a role, by name (a fixed order, whichever came first)."""
        roles = self._roles.get(env)
        if roles is None:
            roles = self._roles[env] = {}
            for _, o in sorted(self._envs.get(env, {}).items(), key=lambda kv: kv[0]):
                if o.role is not None:
                    roles.setdefault(o.role, []).append(o)
        return roles.get(role, [])

    def _emit(self, s: Series, kind: str, key: str, found: tuple, out: list[Alert], at: float | None = None) -> None:
        detected = s.track.last_x() if at is None else at
        s.done.setdefault(kind, detected)
        if key in self._raised:
            return
        self._raised.add(key)
        if not math.isfinite(detected):
            detected = found[0]
        step, message, evidence = found
        out.append(
            Alert(kind, s.env, s.win, s.trace, float(step), message, SUGGESTIONS[kind], key, float(detected), evidence)
        )

    def _nonfinite(self, s: Series, x: np.ndarray, y: np.ndarray, out: list[Alert]) -> None:
        bad = np.flatnonzero(~np.isfinite(np.asarray(y, dtype=np.float64)))
        if not len(bad):
            return  # the sum overflowed, the values are fine
        i = int(bad[0])
        v = float(y[i])
        what = "NaN" if v != v else ("+inf" if v > 0 else "-inf")
        step = float(x[i])
        label = "gradient norm" if s.role == "grad_norm" else "loss"
        before = ""
        fin = y[:i][np.isfinite(y[:i])]
        if len(fin):
            before = f"; the point before it was {fmt(float(fin[-1]))}"
        elif s.track.prev == s.track.prev:
            p = s.track.prev
            before = f"; the point before it was {fmt(10**p if s.track.log else p)}"
        found = (
            step,
            f"{label} {s.name} became {what} at step {step:g}",
            f"{s.name} is {what} at step {fmt_step(step)}{before}",
        )
        s.done["nonfinite"] = step
        if s.role == "grad_norm" and "exploding_gradients" not in s.done:
            blown = grads.blown_up(s.track, y[:i], s.name)
            if blown is not None:  # it grew by orders of magnitude just before: that came first
                # (not marked found: the points of this call before the NaN may show it earlier, by levels)
                found_x = (step, *blown)
                self._wait(_Wait(step, "exploding_gradients", s, None, self._clock[0], found_x), out)
        if s.role == "grad_norm":  # gradient norms of one window (per-layer traces) share one alert
            self._wait(_Wait(step, "nonfinite", s, None, self._clock[0], found), out)
        else:
            self._emit(s, "nonfinite", self._key("nonfinite", s), found, out, step)

    @staticmethod
    def _key(kind: str, s: Series) -> str:
        return alert_key(kind, s.env, s.win, s.trace)

    def _judge(self, s: Series, out: list[Alert]) -> None:
        """Run the detectors of this series' role, at a block where it is due (see Track.feed)."""
        role = s.role
        if role == "lr" or role == "val_acc":
            return
        done = s.done
        t = s.track
        if role == "train_loss":
            # One story per series: a diverging loss also swings and is not learning; say it once.
            # A young series skips the detectors whose first check asks for more points than it has.
            n = t.n
            # while a judgement of a raise of the learning rate waits (for the lr series), what this one finds
            # waits behind it, so that the first story told, in order of x, is the same whatever came first
            raise_waits = (s.env, "lr_raised") in self._waiting and any(
                w.s is s for w in self._waiting[(s.env, "lr_raised")]
            )
            if n >= _DIVERGE_MIN and "divergence" not in done and "lr_too_high" not in done:
                found = loss.divergence(s)
                if found or loss.back_up(s):
                    # judged with the learning rate as it stood at this x: a raise just before holds the verdict
                    # until the loss settles (loss.after_raise), so it waits for the lr series to come this far
                    held = (found, s.best, s.best_x)
                    self._wait(_Wait(t.last_x(), "divergence", s, t.snap(), self._clock[0], held), out)
            if n >= loss.LR_MIN_POINTS and "lr_too_high" not in done and "divergence" not in done:
                found = loss.lr_too_high(s)
                soon = found is not None and loss.warmup_doubt(t)  # dropped if the lr still warms up (read as of x)
                if found and (raise_waits or soon):
                    snap = t.snap() if soon else None
                    self._wait(_Wait(t.last_x(), "lr_too_high", s, snap, self._clock[0], found), out)
                elif found:
                    self._emit(s, "lr_too_high", self._key("lr_too_high", s), found, out)
                elif loss.swing_up(t) is not None:  # a raise of the learning rate, logged or not?
                    self._wait(_Wait(t.last_x(), "lr_raised", s, t.snap(), self._clock[0], None), out)
            if (
                n >= s.judge_at
                and loss.STEADY_POINTS <= n <= _NO_MORE
                and "not_learning" not in done
                and "divergence" not in done
                and "lr_too_high" not in done
            ):
                # judged again once the series grew by 1/JUDGE_GROWTH, or NOT_LEARNING_EVERY points if more
                # (a least-squares fit over its blocks: too dear for every block a young series closes)
                s.judge_at = n + max(n // JUDGE_GROWTH, NOT_LEARNING_EVERY)
                self._wait(_Wait(t.last_x(), "not_learning", s, t.snap(), self._clock[0], None), out)
        elif role == "grad_norm":
            if "exploding_gradients" not in done:
                found = grads.exploding(s)
                if found:
                    x = t.last_x()
                    done["exploding_gradients"] = x
                    self._wait(_Wait(x, "exploding_gradients", s, None, self._clock[0], found), out)
            if "vanishing_gradients" not in done and grads.candidate(s):
                self._wait(_Wait(t.last_x(), "vanishing_gradients", s, t.snap(), self._clock[0], None), out)
        elif role == "val_loss" and "overfitting" not in done:
            self._wait(_Wait(t.last_x(), "overfitting", s, t.snap(), self._clock[0], None), out)

    # ------------------------------------------------------------ judgements that read other series

    def _wait(self, w: _Wait, out: list[Alert]) -> None:
        """Make this judgement now if the series it reads have come as far as its x, else keep it."""
        key = (w.s.env, _LIST.get(w.kind, w.kind))
        if w.kind in _AT_SETTLE:
            self._waiting.setdefault(key, []).append(w)
            return
        if key not in self._waiting and self._ready(w):
            self._decide(w, out)
            return
        self._waiting.setdefault(key, []).append(w)
        if self._ready(w):  # with those waiting before it: in order of x, then of series name
            self._release(key, out)

    def _ready(self, w: _Wait) -> bool:
        x, env, kind = w.x, w.s.env, w.kind
        if kind in ("not_learning", "lr_raised", "divergence", "lr_too_high"):
            lr = self._of(env, "lr")
            return bool(lr) and lr[0].track.lx >= x
        if kind == "overfitting":
            # with no validation accuracy seen yet, one may still come in this batch (its veto): wait for settle
            train, accs = self._of(env, "train_loss"), self._of(env, "val_acc")
            return bool(train) and bool(accs) and all(o.track.lx >= x for o in (*train, *accs))
        peers = self._of(env, "grad_norm")
        if kind != "vanishing_gradients":  # a shared alert: the traces of the same window
            win = w.s.win
            peers = [o for o in peers if o.win == win]
        elif len(peers) < 2:
            return False
        return all(o.track.lx >= x for o in peers)

    def _release(self, key: tuple[str, str], out: list[Alert], before: int | None = None) -> None:
        """Make the env's waiting judgements whose series have come as far (and, with `before`, those made
        before that batch), in order of x, then of series name."""
        waiting = self._waiting[key]
        if before is None:  # during a batch: not the kinds a series not seen yet may still take
            go = [w for w in waiting if w.kind not in _AT_SETTLE and self._ready(w)]
        else:
            go = [w for w in waiting if w.made < before or self._ready(w)]
        if not go:
            return
        if len(go) == len(waiting):
            del self._waiting[key]
        else:
            ids = {id(w) for w in go}
            self._waiting[key] = [w for w in waiting if id(w) not in ids]
        go.sort(key=lambda w: (w.x, w.s.win, w.s.trace, w.kind))
        for w in go:
            self._decide(w, out)

    def _decide(self, w: _Wait, out: list[Alert]) -> None:
        s, x, kind = w.s, w.x, w.kind
        if self._series.get((s.env, s.win, s.trace)) is not s:  # forgotten, or reopened since
            return
        env = s.env
        if kind == "nonfinite":
            self._emit(s, kind, alert_key(kind, env, s.win), w.found, out, x)
        elif kind == "exploding_gradients":
            self._emit(s, kind, alert_key(kind, env, s.win), w.found, out, x)
        elif kind == "not_learning":
            if "not_learning" in s.done or any(s.done.get(k, math.inf) <= x for k in ("divergence", "lr_too_high")):
                return
            lr = self._of(env, "lr")
            warm = lr[0].warmup_end(x) if lr else math.nan
            zero = bool(lr) and lr[0].zero(x)
            steady = bool(lr) and math.isnan(warm) and not zero
            found = loss.not_learning(s, Track.thaw(w.snap), warm, zero, steady)
            if found:
                self._emit(s, kind, self._key(kind, s), found, out, x)
        elif kind == "divergence":  # found, or back more than half way: a raise of the lr just before?
            if any(k in s.done for k in ("divergence", "lr_too_high")):
                return
            lr = self._of(env, "lr")
            verdict = loss.after_raise(s, Track.thaw(w.snap), lr[0] if lr else None, x, *w.found)
            if verdict:
                self._emit(s, verdict[0], self._key(verdict[0], s), verdict[1], out, x)
        elif kind == "lr_too_high":  # found, waiting behind a judgement of a raise, or for the lr (snap: in doubt)
            if s.done.get("divergence", math.inf) <= x or kind in s.done:
                return
            lr = self._of(env, "lr")
            if w.snap is not None and lr and lr[0].warmup_end(x) == math.inf:
                return
            self._emit(s, kind, self._key(kind, s), w.found, out, x)
        elif kind == "lr_raised":
            if any(s.done.get(k, math.inf) <= x for k in ("divergence", "lr_too_high")):
                return
            lr = self._of(env, "lr")
            found = loss.lr_raised(s, Track.thaw(w.snap), lr[0] if lr else None, x)
            if found:
                self._emit(s, "lr_too_high", self._key("lr_too_high", s), found, out, x)
        elif kind == "overfitting":
            if "overfitting" in s.done:
                return
            train, acc = self._partners(s, x)
            if train is None:
                return
            vt = Track.thaw(w.snap)
            found = overfit.overfitting(
                s, vt, train, lambda: train.track.at(x), acc, lambda: acc.track.at(x) if acc else None
            )
            if found:
                self._emit(s, kind, self._key(kind, s), found, out, x)
        else:  # vanishing_gradients
            key = alert_key(kind, env)
            if key in self._raised or kind in s.done:
                return
            peers = [(o, o.track.at(x)) for o in self._of(env, "grad_norm") if o is not s]
            found = grads.vanishing(s, Track.thaw(w.snap), peers)
            if found:
                self._emit(s, kind, key, found, out, x)
                for o in self._of(env, "grad_norm"):
                    o.done.setdefault(kind, x)

    def _partners(self, val: Series, x: float) -> tuple[Series | None, Series | None]:
        """The training loss (same name words, else the longest at x, else the first by name) and a
        validation accuracy (the longest at x) of the env."""
        train = acc = None
        tn = an = -1
        trains, accs = self._of(val.env, "train_loss"), self._of(val.env, "val_acc")
        for o in trains:  # bounded by the series of one env
            n = (o.track.at(x).n if len(trains) > 1 else 0) + (1 << 62 if o.stem == val.stem else 0)
            if n > tn:
                train, tn = o, n
        for o in accs:
            n = o.track.at(x).n if len(accs) > 1 else 0
            if n > an:
                acc, an = o, n
        return train, acc
