"""Visdom's heatmap updates on the server: rows or columns added at either end of a heatmap window.

A heatmap op may carry `update` (replace, appendRow, appendColumn, prependRow, prependColumn) and
`labels` (names of the rows or columns it adds, extending the window's yticklabels or xticklabels).
The store joins the matrix, so a training loop sends one row per step, not the whole matrix again.
A window holds at most MAX_CELLS cells: past that, rows (or columns) at the far end are dropped, as a
scrolling plot would, so a long run stays bounded. Shared by the protocol (checks) and the store (rule).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livepanel.protocol import MAX_NAME, MAX_OPTION_LIST, ProtocolError, quote

UPDATES = ("replace", "appendRow", "appendColumn", "prependRow", "prependColumn")
MAX_CELLS = 1 << 22  # cells one heatmap window keeps (32 MiB of float64)
ROWS = ("appendRow", "prependRow")


def check_op(op: dict, out: dict) -> None:
    """`update` and `labels` of a heatmap op (validate_op has checked z)."""
    update = op.get("update", "replace")
    if not isinstance(update, str) or update not in UPDATES:
        raise ProtocolError(f"heatmap update must be one of {', '.join(UPDATES)}, got {quote(update)}")
    out["update"] = update
    labels = op.get("labels")
    if labels is not None:
        if update == "replace":
            raise ProtocolError("heatmap labels name added rows or columns; to replace, use xticklabels/yticklabels")
        n = out["z"].shape[0 if update in ROWS else 1]
        if (
            not isinstance(labels, list)
            or len(labels) > MAX_OPTION_LIST
            or not all(isinstance(s, str) and len(s) <= MAX_NAME for s in labels)
        ):
            raise ProtocolError(f"heatmap labels must be a list of strings of at most {MAX_NAME} characters")
        if len(labels) != n:
            what = "rows" if update in ROWS else "columns"
            raise ProtocolError(f"heatmap {update} adds {n} {what} but has {len(labels)} labels")
    out["labels"] = labels


def check_shape(shape: tuple[int, int] | None, op: dict, i: int) -> tuple[int, int]:
    """The matrix shape after `op`, given the window's shape before it (None: no heatmap yet); raises when
    an added block does not fit: rows must have as many columns as the window, columns as many rows (the
    error names operation `i` of its batch, which a client drops, sending the rest again)."""
    z = op["z"]
    update = op.get("update", "replace")
    if update == "replace" or shape is None or shape[0] * shape[1] == 0:
        return z.shape
    rows, cols = shape
    if update in ROWS:
        if z.shape[1] != cols:
            what = f"heatmap {update} of {z.shape[1]} columns"
            raise ProtocolError(f"operation {i}: {what}, but the window has {cols}", op=i)
        return _bounded(rows + z.shape[0], cols, True)
    if z.shape[0] != rows:
        raise ProtocolError(f"operation {i}: heatmap {update} of {z.shape[0]} rows, but the window has {rows}", op=i)
    return _bounded(rows, cols + z.shape[1], False)


def _bounded(rows: int, cols: int, by_rows: bool) -> tuple[int, int]:
    if rows * cols <= MAX_CELLS:
        return rows, cols
    return (max(MAX_CELLS // cols, 1), cols) if by_rows else (rows, max(MAX_CELLS // rows, 1))


def applied(z_old: np.ndarray | None, opts: dict[str, Any], op: dict) -> tuple[np.ndarray, dict[str, Any]]:
    """The window's new matrix and the label options that change (yticklabels for rows, xticklabels for
    columns: extended when the window has labels; left alone when it has none)."""
    z, update = np.asarray(op["z"]), op.get("update", "replace")
    by_rows, front = update in ROWS, update.startswith("prepend")
    axis, key = (0, "yticklabels") if by_rows else (1, "xticklabels")
    if update == "replace" or z_old is None or z_old.size == 0:  # the first block makes the window
        return np.array(z), ({key: list(op["labels"])} if update != "replace" and op.get("labels") else {})
    dtype = np.result_type(z_old.dtype, z.dtype)
    parts = (z, z_old) if front else (z_old, z)
    joined = np.concatenate([p.astype(dtype, copy=False) for p in parts], axis=axis)
    keep = _bounded(*joined.shape, by_rows)[axis]
    cut = joined.shape[axis] - keep
    if cut:  # drop the far end: the oldest rows of an append, the last ones of a prepend
        if by_rows:
            joined = joined[:keep] if front else joined[cut:]
        else:
            joined = joined[:, :keep] if front else joined[:, cut:]
    changed: dict[str, Any] = {}
    old_labels, new_labels = opts.get(key), op.get("labels")
    if old_labels is not None and new_labels is not None:
        labels = list(new_labels) + list(old_labels) if front else list(old_labels) + list(new_labels)
        changed[key] = labels[cut:] if not front else labels[:keep]
    elif old_labels is not None:  # keep the labels as long as the matrix: unnamed rows get empty names
        pad = [""] * z.shape[axis]
        labels = pad + list(old_labels) if front else list(old_labels) + pad
        changed[key] = labels[cut:] if not front else labels[:keep]
    return joined, changed
