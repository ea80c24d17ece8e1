"""The alert record the engine hands to the server, and the words it carries.

Kept free of the engine so the server can rebuild stored alerts
(`Alert.from_dict`) without touching detector state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from livepanel.protocol import ALERT_KINDS

KINDS = ALERT_KINDS  # the wire's list: what a mute may name, and what the engine raises

SUGGESTIONS = {
    "nonfinite": "lower the learning rate, clip gradients, and look for log(0), division by zero or fp16 overflow",
    "divergence": "lower the learning rate (or lengthen the warm-up) and clip gradients",
    "overfitting": "add regularisation (weight decay, dropout, augmentation) or stop early",
    "not_learning": "check that the optimiser steps, the labels and the loss are wired up; try a larger learning rate",
    "vanishing_gradients": "check the initialisation or use ReLU/normalisation and residual connections",
    "exploding_gradients": "clip gradients, lower the learning rate, or add normalisation",
    "lr_too_high": "lower the learning rate",
}


@dataclass(frozen=True)
class Alert:
    """One training problem found in one series (or one env, for cross-series kinds).

    `step` is the x where the problem started (best estimate); `detected` is the x
    of the point that made it certain. `key` names the ongoing problem: the same key
    is never raised twice by one Diagnoser, and `Diagnoser.known()` seeds it after a
    restart. `evidence` says why, in numbers a user can check against the plot.
    """

    kind: str
    env: str
    win: str
    trace: str
    step: float
    message: str
    suggestion: str
    key: str
    detected: float = float("nan")
    evidence: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain str/float fields only, so msgpack and JSON take it as is."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        """Rebuild from `to_dict()` output; unknown keys are ignored, missing `detected` is NaN."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        for k in ("step", "detected"):
            if k in kw:
                kw[k] = float(kw[k])
        return cls(**kw)


def fmt(v: float) -> str:
    """A value for people: 3 significant digits (1.23, 0.0457, 1.2e-09, 3.4e+11)."""
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    a = abs(v)
    if a and (a < 1e-3 or a >= 1e6):
        return f"{v:.3g}"
    if a >= 1000:
        return f"{float(f'{v:.3g}'):,.0f}"
    return f"{v:.3g}"


def fmt_step(x: float) -> str:
    """A step for people: thousands separators (12,500), decimals only when it has some."""
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    return f"{int(x):,}" if x == int(x) else f"{x:,.3g}"


def pct(frac: float) -> str:
    """A fraction as a percentage for people: 38%, 0.4%, 2.5%."""
    p = 100 * frac
    return f"{p:.2g}%" if abs(p) < 10 else f"{p:.0f}%"


def alert_key(kind: str, env: str, *parts: str) -> str:
    """Identity of an ongoing problem; parts are the window/trace it is tied to."""
    return "\x1f".join((kind, env, *parts))
