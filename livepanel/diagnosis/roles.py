"""Which series is which: guess a role from the window and trace names, or take it from opts.

Training scripts name their series in a handful of habitual ways (`loss`, `train/loss`,
`val_loss`, window "loss" with trace "val", `grad_norm/fc1`, `lr`...). The guess runs once
per series (and again only when its opts change), so it may be a little slow.
"""

from __future__ import annotations

import re
from typing import Any

ROLES = ("train_loss", "val_loss", "train_acc", "val_acc", "grad_norm", "lr", "none")
LOSS_ROLES = ("train_loss", "val_loss")

_VAL = {"val", "valid", "validation", "eval", "evaluation", "test", "testing", "dev", "holdout", "heldout"}
_TRAIN = {"train", "training", "trn"}
_LOSS = {
    "loss",
    "losses",
    "nll",
    "xent",
    "ce",
    "crossentropy",
    "mse",
    "bce",
    "l1",
    "l2",
    "ppl",
    "perplexity",
    "objective",
}
_ACC = {"acc", "accuracy", "top1", "top5", "acc1", "acc5"}
_GRAD = {"grad", "grads", "gradient", "gradients", "gradnorm", "gnorm", "grad_norm"}
_LR = {"lr", "learningrate"}
# Statistics of a gradient that are not a magnitude (may be signed or unrelated to size).
_NOT_MAGNITUDE = {"mean", "avg", "sum", "cos", "cosine", "angle", "sign", "frac", "fraction", "ratio"}
# Words that say "this is another metric", so a bare split name is not a loss.
_OTHER_METRIC = {
    "f1", "bleu", "rouge", "auc", "roc", "iou", "map", "precision", "recall", "reward", "return", "score",
    "time", "epoch", "step", "samples", "tokens", "throughput", "memory", "mem", "wer", "cer", "kl",
}  # fmt: skip
# Parts of a composite loss that may rise in a healthy run (a VAE's KL, a penalty).
_COMPONENT = {"kl", "kld", "reg", "regularization", "regularisation", "penalty", "aux", "entropy", "decay"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9@]+")


def tokens(name: str) -> list[str]:
    """Lower-case words of a name: splits on punctuation, spaces and camelCase."""
    words = _SPLIT.split(_CAMEL.sub(" ", name).lower())
    out = []
    for w in words:
        if not w:
            continue
        if w == "rate" and out and out[-1] == "learning":
            out[-1] = "learningrate"
            continue
        if w == "entropy" and out and out[-1] == "cross":
            out[-1] = "crossentropy"
            continue
        if w == "norm" and out and out[-1] in _GRAD:
            out[-1] = "gradnorm"
            continue
        out.append(w.replace("@", "") if w.startswith(("acc@", "top@")) else w)
    return out


def guess_role(win: str, trace: str = "") -> str:
    """Role of the series named by window `win` and trace `trace`; "none" when unsure."""
    words = tokens(win) + tokens(trace)
    if not words:
        return "none"
    ws = set(words)
    val = bool(ws & _VAL)
    train = bool(ws & _TRAIN)
    split = "val" if val else "train"
    if ws & _GRAD or ("norm" in ws and ("g" in ws or "grad" in win.lower())):
        return "none" if ws & _NOT_MAGNITUDE else "grad_norm"
    if ws & _LR:
        return "lr"
    if ws & _ACC:
        return f"{split}_acc"
    if ws & _LOSS:
        if ws & _COMPONENT:
            return "none"
        return f"{split}_loss"
    if ws & _OTHER_METRIC:
        return "none"
    if (val or train) and ws <= (_VAL | _TRAIN | {"set", "split", "metrics", "metric", "curve"}):
        return f"{split}_loss"  # window "train" / trace "valid" with nothing else: a loss by habit
    return "none"


def is_off(value: Any) -> bool:
    """opts["diagnose"] switches diagnosis off with False, or "off"/"false"/"no"/"0"."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() in ("off", "false", "no", "0", "none", "")
    return not value


def resolve_role(win: str, trace: str, opts: dict[str, Any] | None) -> str:
    """The role the detectors use: opts["role"] wins, then the name guess.

    opts["role"] may be one of ROLES, or "loss"/"acc" to fix the metric and let the
    name decide train or val. opts["diagnose"] false gives "none".
    """
    opts = opts or {}
    if is_off(opts.get("diagnose")):
        return "none"
    hint = opts.get("role")
    if isinstance(hint, str) and hint:
        h = hint.strip().lower().replace("-", "_").replace(" ", "_")
        h = {"grad": "grad_norm", "gradient": "grad_norm", "learning_rate": "lr", "valid_loss": "val_loss"}.get(h, h)
        if h in ROLES:
            return h
        if h in ("loss", "acc", "accuracy"):
            metric = "loss" if h == "loss" else "acc"
            split = "val" if set(tokens(win) + tokens(trace)) & _VAL else "train"
            return f"{split}_{metric}"
    return guess_role(win, trace)


def stem(win: str, trace: str) -> frozenset[str]:
    """Name words without the split words: pairs `loss/val` with `loss/train` (or plain `loss`)."""
    return frozenset(w for w in tokens(win) + tokens(trace) if w not in _VAL and w not in _TRAIN)
