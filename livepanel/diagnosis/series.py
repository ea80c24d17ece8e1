"""Per-series state shared by the detectors: the block summary plus a few running values."""

from __future__ import annotations

import math
from bisect import bisect_right

from livepanel.diagnosis.track import Track

LEVEL_POINTS = 8  # points averaged into a "level" of a dense series (train loss, gradient norms)
VAL_POINTS = 2  # validation points are few and already averaged over a whole set
DIVERGE_DROP = 0.25  # divergence: the loss must first have fallen this fraction of its start...
DIVERGE_BACK = 0.5  # ...then climbed back this fraction of what it had gained
EXPLODE_DECADES = 1.5  # exploding gradients: current level this many orders of magnitude above the lowest
VANISH_DECADES = 1.0  # vanishing gradients: a layer fell this many orders of magnitude from its start...
# Smallest block of a dense series (logged every step or so): each closed block costs a few µs, and
# a young series closed one at each of its first points. Validation series keep blocks of one point.
MIN_BLOCK = {"train_loss": 4, "lr": 4}
LR_JUMP = 5.0  # a learning rate raised this many times above its highest level, after its warm-up...
LR_JUMP_BLOCKS = 4  # ...within this many blocks
KEPT = ("train_loss", "val_acc", "grad_norm")  # roles read by another series' detectors


class Series:
    """One (env, win, trace) series: its role, its summary and what was already found in it."""

    __slots__ = (
        "env",
        "win",
        "trace",
        "role",
        "ropt",
        "dopt",
        "plain",
        "track",
        "best",
        "best_x",
        "drop",
        "stem",
        "done",
        "peak",
        "peak_x",
        "hook",
        "judge_at",
        "peaks",
        "jumps",
    )

    def __init__(
        self, env: str, win: str, trace: str, role: str, ropt: object, dopt: object, clock: list[int] | None = None
    ) -> None:
        self.env, self.win, self.trace = env, win, trace
        self.role = role
        self.ropt, self.dopt = ropt, dopt  # the opts values the role was resolved from
        self.plain = ropt is None and dopt is None  # resolved from the name alone
        # no summary for a role the detectors do not use (observe returns at once)
        # series other detectors read as they were at an earlier x keep their past merges (Track.at)
        keep = role in KEPT
        self.track = Track(role == "grad_norm", MIN_BLOCK.get(role, 1), keep, clock) if role is not None else None
        self.hook = self.update_peak if role == "lr" else None if role == "val_acc" else self.update_best
        self.best = math.inf  # lowest level seen (log10 for gradient norms)
        self.best_x = math.nan
        self.drop = 0.0  # gradient norms: decades fallen from the starting level
        self.stem: frozenset[str] = frozenset()
        self.done: dict[str, float] = {}  # kinds already found here, with the x they were detected at
        self.peak = -math.inf  # learning rate: highest level so far, and where it was reached
        self.peak_x = math.nan
        self.judge_at = 0  # points the series must reach before not_learning is judged again
        # learning rate: each rise of its highest level, [x, level, x of the first block after that did not
        # rise (inf: none yet)]: where a warm-up ended, as of any x (warmup_end)
        self.peaks: list[list[float]] = []
        # learning rate: each time it was raised LR_JUMP-fold above its highest level after its warm-up had
        # ended, (x of the first block at the new level, the highest level before, x where it was told)
        self.jumps: list[tuple[float, float, float]] = []

    @property
    def name(self) -> str:
        """How people refer to the series: "win/trace", or "win" for the default trace."""
        return f"{self.win}/{self.trace}" if self.trace else self.win

    def level_points(self, n: int | None = None) -> int:
        """Points in one level (n: points in the series then): a little more for long validation series."""
        if self.role == "val_loss":
            return max(VAL_POINTS, (self.track.n if n is None else n) // 24)
        return LEVEL_POINTS

    def update_peak(self, end: int) -> None:
        """Learning rate, after block end-1 closed: remember where it last rose (the end of a warm-up)."""
        t = self.track
        c = t.cnt[end - 1]
        if c:
            v = t.sum[end - 1] / c
            x = t.x1[end - 1]
            if v > self.peak and not v <= self.peak + 1e-9 * abs(self.peak):  # (not a constant's rounding)
                # a raise: LR_JUMP times the level it held (its last peak it then did not pass), within a few
                # blocks of rising (a step, or a short ramp; not a warm-up, which rises from no held level)
                k = len(self.peaks) - 1
                while k >= 0 and self.peaks[k][2] == math.inf and len(self.peaks) - k <= LR_JUMP_BLOCKS:
                    k -= 1
                if k >= 0 and self.peaks[k][2] < math.inf and v >= LR_JUMP * self.peaks[k][1] > 0:
                    if not self.jumps or self.jumps[-1][0] < self.peaks[k][0]:
                        first = self.peaks[k + 1][3] if k + 1 < len(self.peaks) else t.x0[end - 1]
                        self.jumps.append((first, self.peaks[k][1], x))
                self.peak, self.peak_x = v, x
                self.peaks.append([x, v, math.inf, t.x0[end - 1]])
            elif x > self.peak_x and self.peaks[-1][2] == math.inf:  # (a merge re-dates nothing)
                self.peaks[-1][2] = x

    def warmup_end(self, at: float = math.inf) -> float:
        """x where a warm-up ended, as the series stood at x `at` (inf while it still rose then); nan when
        the lr had not risen by half its start."""
        i = bisect_right(self.peaks, at, key=lambda p: p[0]) - 1
        if i < 0:
            return math.nan
        px, v, after, _ = self.peaks[i]
        if not (v > 1.5 * self.track.start() > 0):
            return math.nan
        return math.inf if after > at else px

    def zero(self, at: float = math.inf) -> bool:
        """Learning rate: whether every point up to x `at` was exactly 0 (the model cannot learn)."""
        i = bisect_right(self.peaks, at, key=lambda p: p[0]) - 1
        return i >= 0 and self.peaks[i][1] == 0

    def update_best(self, end: int) -> bool:
        """After block end-1 closed: track the lowest smoothed level and where it was (divergence and
        overfitting start there). Blocks after end-1 (closed in the same call) all hold bsize points.

        True when that level could make a fast kind certain (the first check of loss.divergence or
        grads.exploding on the level now passes): the detectors should run at this very block, not
        only at the call's last one (a swing that comes and goes within one call is not missed)."""
        t = self.track
        m = self.level_points(t.n - (len(t.cnt) - end) * t.bsize)
        lvl, c, _ = t.level(m, end)
        if c < m:
            return False
        if self.role == "grad_norm" and t.start() - lvl >= VANISH_DECADES:  # a collapsed layer
            if lvl < self.best:
                self.best, self.best_x = lvl, t.x1[end - 1]
            return False
        if lvl < self.best:
            self.best = lvl
            self.best_x = t.x1[end - 1]
            return False
        if self.role == "train_loss":
            start = t.start()
            gained = start - self.best
            return gained > DIVERGE_DROP * abs(start) and lvl > self.best + DIVERGE_BACK * gained
        if self.role == "grad_norm":
            return lvl - min(self.best, t.start()) >= EXPLODE_DECADES
        return False
