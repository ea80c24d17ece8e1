"""The embedding window kind: N x D features with labels, metadata and thumbnails, a history by step.

An `embedding` op carries `features` (float32, N x D), optional `labels` (N strings), `metadata` (a map of
column name to N strings or N numbers), `thumbs` (N small PNG/JPEG/WebP images, made by the sender),
`step` and `t`. The store keeps the step with its PCA projection, computed at once (`pca`: the top
eigenvectors of the D x D covariance, or of the N x N Gram matrix when D > N); t-SNE and UMAP are computed
on request by the server's projector (livepanel/server/projector.py) and stored with the step.

Limits (a clear error above them): N <= MAX_POINTS, D <= MAX_DIM, N x D <= MAX_VALUES (50,000 x 256 as
float32 is 51.2 MB, under the default 64 MiB payload), thumbnails for at most MAX_THUMB_POINTS points, each
at most MAX_THUMB_BYTES, together at most MAX_THUMBS_TOTAL. Viewers get a step's metadata in the window
message and load its points from `/api/v1/embedding` (livepanel/server/embedding_route.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from livepanel.protocol import MAX_NAME, ProtocolError, check_name, decode_array, quote

MAX_POINTS = 100_000
MAX_DIM = 4096
MAX_VALUES = 12_800_000  # N x D: 50,000 x 256
MAX_COLUMNS = 32  # metadata columns
MAX_LABEL = MAX_NAME  # characters of a label or of a metadata string
MAX_THUMB_POINTS = 20_000
MAX_THUMB_BYTES = 16 << 10
MAX_THUMBS_TOTAL = 32 << 20
THUMB_FORMATS = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpeg", b"RIFF": "webp"}
COMPONENTS = 3  # PCA components kept (2-D views use the first two)
METHODS = ("pca", "tsne", "umap")
METRICS = ("cosine", "l2")


class EmbeddingError(ValueError):
    """Bad embedding input; the text says what was wrong."""


def check_shape(shape: tuple[int, ...], what: str = "embedding features") -> None:
    """N x D within the limits."""
    if len(shape) != 2:
        raise EmbeddingError(f"{what} must be 2-D (N points x D dimensions), got shape {list(shape)}")
    n, d = shape
    if not 1 <= n <= MAX_POINTS:
        raise EmbeddingError(f"{what} has {n} points; give 1 to {MAX_POINTS}")
    if not 1 <= d <= MAX_DIM:
        raise EmbeddingError(f"{what} has {d} dimensions; give 1 to {MAX_DIM}")
    if n * d > MAX_VALUES:
        raise EmbeddingError(
            f"{what} is {n} x {d} = {n * d} values; the limit is {MAX_VALUES} (for example 50,000 x 256): "
            "log fewer points or reduce the dimensions first"
        )


def check_features(features: np.ndarray, what: str = "embedding features") -> None:
    """Shape within the limits; every value finite."""
    check_shape(features.shape, what)
    # one pass: a NaN or an infinity makes the float64 sum non-finite (float32 values cannot overflow it)
    total = float(np.add.reduce(features, axis=None, dtype=np.float64)) if features.size else 0.0
    if not math.isfinite(total):
        bad = np.argwhere(~np.isfinite(features))
        if len(bad):
            i, j = (int(v) for v in bad[0])
            raise EmbeddingError(
                f"{what} holds {len(bad)} non-finite value(s) (NaN or infinity), the first at point {i}, "
                f"dimension {j}: {features[i, j]!r}"
            )


def check_labels(labels: Any, n: int, what: str = "embedding labels") -> list[str]:
    """N strings of at most MAX_LABEL characters."""
    if not isinstance(labels, list):
        raise EmbeddingError(f"{what} must be a list of {n} strings, got {type(labels).__name__}")
    if len(labels) != n:
        raise EmbeddingError(f"{what} has {len(labels)} entries for {n} points; give one per point")
    for i, s in enumerate(labels):
        if not isinstance(s, str) or len(s) > MAX_LABEL:
            raise EmbeddingError(f"{what}[{i}] must be a string of at most {MAX_LABEL} characters, got {quote(s, 60)}")
    return labels


def check_metadata(metadata: Any, n: int) -> dict[str, Any]:
    """Columns: a name each, N strings (a list) or N numbers (an array)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        kind = type(metadata).__name__
        raise EmbeddingError(f"embedding metadata must be a map of column names to values, got {kind}")
    if len(metadata) > MAX_COLUMNS:
        raise EmbeddingError(f"embedding metadata has {len(metadata)} columns; the limit is {MAX_COLUMNS}")
    out: dict[str, Any] = {}
    for name, values in metadata.items():
        try:
            check_name(name, "embedding metadata column name")
        except ProtocolError as exc:
            raise EmbeddingError(str(exc)) from None
        if isinstance(values, list):
            out[name] = check_labels(values, n, f"embedding metadata {name!r}")
        else:
            col = values if isinstance(values, np.ndarray) else decode_array(values, f"embedding metadata {name!r}")
            if col.ndim != 1 or len(col) != n:
                raise EmbeddingError(
                    f"embedding metadata {name!r} has shape {list(col.shape)}; give one value per point ({n})"
                )
            out[name] = col
    return out


def check_thumbs(thumbs: Any, n: int) -> list[bytes]:
    """N small encoded images (PNG, JPEG or WebP bytes)."""
    if not isinstance(thumbs, list) or len(thumbs) != n:
        got = len(thumbs) if isinstance(thumbs, list) else type(thumbs).__name__
        raise EmbeddingError(f"embedding thumbs must be a list of {n} images (one per point), got {got}")
    if n > MAX_THUMB_POINTS:
        raise EmbeddingError(f"embedding images are taken for up to {MAX_THUMB_POINTS} points, got {n}")
    total = 0
    for i, data in enumerate(thumbs):
        if not isinstance(data, bytes) or not data or thumb_format(data) is None:
            raise EmbeddingError(f"embedding thumbs[{i}] must be the bytes of a PNG, JPEG or WebP image")
        if len(data) > MAX_THUMB_BYTES:
            raise EmbeddingError(f"embedding thumbs[{i}] is {len(data)} bytes; the limit is {MAX_THUMB_BYTES}")
        total += len(data)
    if total > MAX_THUMBS_TOTAL:
        raise EmbeddingError(f"embedding thumbs are {total} bytes together; the limit is {MAX_THUMBS_TOTAL}")
    return thumbs


def thumb_format(data: bytes) -> str | None:
    for magic, fmt in THUMB_FORMATS.items():
        if data.startswith(magic):
            return fmt
    return None


def check_op(op: dict, out: dict) -> None:
    """The fields of an embedding op (protocol.validate_op): features, labels, metadata, thumbs."""
    if "features" not in op:
        raise ProtocolError("embedding needs the field 'features'")
    try:
        features = decode_array(op["features"], "embedding features")
        if features.dtype != np.float32:
            raise EmbeddingError(f"embedding features must be float32 (f4), got {features.dtype.str[1:]}")
        check_features(features)
        n = features.shape[0]
        labels = op.get("labels")
        out["labels"] = None if labels is None else check_labels(labels, n)
        out["metadata"] = check_metadata(op.get("metadata"), n)
        thumbs = op.get("thumbs")
        out["thumbs"] = None if thumbs is None else check_thumbs(thumbs, n)
    except EmbeddingError as exc:
        raise ProtocolError(str(exc)) from None
    out["features"] = features


# ---------------------------------------------------------------- projections


def projection_key(method: str, dims: int) -> str:
    """How a step's projections are named: "pca" (3 components, 2-D views use two), "tsne-2d", "umap-3d"."""
    return "pca" if method == "pca" else f"{method}-{dims}d"


EXACT_PCA = 1_000_000  # N x D up to which PCA is an exact eigendecomposition; above, randomized
POWER_ITERATIONS = 3
OVERSAMPLE = 10


def pca(features: np.ndarray, k: int = COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """The first k principal components of the rows (N x k float32) and their explained variance ratios.

    Up to EXACT_PCA values: eigenvectors of the D x D covariance (or of the N x N Gram matrix when N < D).
    Above: a randomized SVD (Halko, Martinsson and Tropp 2011: a random start of k + OVERSAMPLE columns and
    POWER_ITERATIONS power iterations, seeded, so the same data always projects the same way), which reads
    the features a few times in skinny products instead of forming the covariance: 50,000 x 256 in about
    0.1 s where the covariance product alone takes 0.4 s on a busy 2-core machine. Signs are fixed (each
    component's largest loading positive). Missing components (D or N below k) are zeros."""
    x = np.asarray(features, dtype=np.float32)
    n, d = x.shape
    mean = (x.sum(axis=0, dtype=np.float64) / n if n * d <= EXACT_PCA else x.sum(axis=0) / n).astype(np.float32)
    k_eff = min(k, n, d)
    # the total variance: sum of squares of the centred values, from the raw ones (no centred copy)
    total = float(np.dot(x.ravel(), x.ravel())) - n * float(np.dot(mean.astype(np.float64), mean))
    if n * d <= EXACT_PCA or d <= k_eff + OVERSAMPLE:
        xc = x - mean
        if d <= n:
            values, vectors = np.linalg.eigh((xc.T @ xc).astype(np.float64))
            order = np.argsort(values)[::-1][:k_eff]
            comps, top = vectors[:, order], values[order]
        else:
            values, vectors = np.linalg.eigh((xc @ xc.T).astype(np.float64))
            order = np.argsort(values)[::-1][:k_eff]
            top = values[order]
            scale = np.sqrt(np.maximum(top, 0))
            comps = xc.astype(np.float64).T @ (vectors[:, order] / np.where(scale > 0, scale, 1))
    else:
        comps, top = _randomized(x, mean, k_eff)
    signs = np.sign(comps[np.argmax(np.abs(comps), axis=0), np.arange(k_eff)])
    comps = (comps * np.where(signs == 0, 1, signs)).astype(np.float32)
    coords = x @ comps - mean @ comps
    ratio = np.maximum(top, 0) / total if total > 0 else np.zeros(k_eff)
    if k_eff < k:
        coords = np.hstack([coords, np.zeros((n, k - k_eff), np.float32)])
        ratio = np.concatenate([ratio, np.zeros(k - k_eff)])
    return np.ascontiguousarray(coords, dtype=np.float32), np.asarray(ratio, dtype=np.float64)


def _randomized(x: np.ndarray, mean: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top k right singular vectors (D x k) of the centred x and their squared singular values."""
    d = x.shape[1]
    rng = np.random.default_rng(0)
    omega = rng.standard_normal((d, k + OVERSAMPLE)).astype(np.float32)

    def times(m: np.ndarray) -> np.ndarray:  # (x - mean) @ m without the centred copy
        return x @ m - mean @ m

    q = _orth(times(omega))
    for _ in range(POWER_ITERATIONS):
        z = _orth(x.T @ q - np.outer(mean, q.sum(axis=0)))
        q = _orth(times(z))
    b = (x.T @ q - np.outer(mean, q.sum(axis=0))).T.astype(np.float64)  # q^T (x - mean): small
    _, sv, vt = np.linalg.svd(b, full_matrices=False)
    return vt[:k].T, sv[:k] ** 2


def _orth(y: np.ndarray) -> np.ndarray:
    """An orthonormal basis of y's columns (tall and skinny) from the eigenvectors of its small Gram matrix:
    one product, where LAPACK's QR of 50,000 x 13 takes 0.27 s here."""
    g = (y.T @ y).astype(np.float64)
    w, v = np.linalg.eigh(g)
    keep = w > w.max() * 1e-10
    return y @ (v[:, keep] / np.sqrt(w[keep])).astype(np.float32)


def neighbours(
    features: np.ndarray, norms: np.ndarray, i: int, k: int, metric: str = "cosine"
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest points to point i in the original space (itself left out), nearest first, and their
    distances: cosine distance (1 - cosine similarity) or Euclidean. One matrix-vector product: 50,000 x
    256 in a few ms, so nothing is precomputed but the row norms."""
    x = features
    dots = (x @ x[i]).astype(np.float64)
    n2 = norms.astype(np.float64) ** 2
    if metric == "cosine":
        denom = np.maximum(norms.astype(np.float64) * float(norms[i]), 1e-30)
        dist = 1.0 - dots / denom
    else:
        dist = np.sqrt(np.maximum(n2 + n2[i] - 2 * dots, 0.0))
    dist[i] = np.inf
    k = min(k, len(x) - 1)
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0)
    part = np.argpartition(dist, k - 1)[:k] if k < len(x) else np.arange(len(x))
    order = part[np.argsort(dist[part], kind="stable")]
    return order.astype(np.int64), dist[order]


def row_norms(features: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", features, features, dtype=np.float64)).astype(np.float32)


# ---------------------------------------------------------------- the stored step and what viewers get


async def project_ahead(ops: list[dict[str, Any]]) -> None:
    """The PCA of each large embedding step of a batch, computed on a thread before the store applies it
    (numpy's products release the GIL: the event loop goes on meanwhile); `entry` takes it from the op."""
    import asyncio

    for op in ops:
        if op["op"] == "embedding" and op["features"].size > EXACT_PCA:
            op["_pca"] = await asyncio.get_running_loop().run_in_executor(None, pca, op["features"])


def entry(op: dict, step: int, t: float) -> dict[str, Any]:
    """What the store keeps of an embedding op: the data and its PCA projection."""
    coords, ratio = op.get("_pca") or pca(op["features"])
    out = {
        "step": step,
        "t": t,
        "features": op["features"],
        "labels": op["labels"],
        "metadata": op["metadata"],
        "projections": {"pca": coords},
        "variance": ratio,
    }
    if op.get("thumbs") is not None:
        out["thumbs"] = op["thumbs"]
    return out


def meta(e: dict[str, Any]) -> dict[str, Any]:
    """A step as viewers see it in window messages: its size and columns, no points. `projections` maps
    each projection to "done", or to {state: "running" | "error" | "cancelled", progress: 0..1, error}
    ("cancelled": a later step of the window was asked for before this one's turn came)."""
    n, d = e["features"].shape
    md = e.get("metadata") or {}
    columns = {name: ("text" if isinstance(v, list) else "number") for name, v in md.items()}
    projections: dict[str, Any] = {key: "done" for key in e.get("projections", {})}
    projections.update({key: s for key, s in (e.get("status") or {}).items() if key not in projections})
    return {
        "step": e["step"],
        "t": e["t"],
        "n": n,
        "dim": d,
        "labels": e.get("labels") is not None,
        "columns": columns,
        "thumbs": e.get("thumbs") is not None,
        "projections": projections,
        "variance": [float(v) for v in e.get("variance", [])],
    }


def points(e: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    """A step's points for the page: labels, metadata and projections (one when key is given)."""
    projections = e.get("projections", {})
    chosen = projections if key is None else {key: projections[key]} if key in projections else {}
    return {
        **meta(e),
        "label": e.get("labels"),
        "metadata": e.get("metadata") or {},
        "coords": chosen,
    }


def full(e: dict[str, Any]) -> dict[str, Any]:
    """A step as `panel.get(win)` returns it: everything stored (thumbnails as their bytes)."""
    return {k: v for k, v in e.items() if k != "status" and not k.startswith("_")}


def size(e: dict[str, Any]) -> int:
    """Bytes a step holds in memory (features, projections, thumbnails; labels roughly)."""
    n = e["features"].nbytes + sum(c.nbytes for c in e.get("projections", {}).values())
    n += sum(len(t) for t in e.get("thumbs") or ())
    n += 16 * len(e.get("labels") or ())
    return n


def over_budget(steps: Any, budget: int) -> list[int]:
    """Drop the oldest steps of an OrderedDict past `budget` bytes in all (the latest is always kept)."""
    total, keep = 0, 0
    for e in reversed(steps.values()):
        total += size(e)
        if total > budget and keep:
            break
        keep += 1
    dropped = []
    while len(steps) > keep:
        dropped.append(steps.popitem(last=False)[0])
    return dropped


def projected(w: Any, op: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Apply a projection op of the server's projector to its window (State.apply): a result joins the
    step's projections, progress or an error its status. Returns the message for viewers (the step's meta)
    and, for a result, the step to store again (so that a restart keeps it)."""
    e = w.steps[op["step"]]
    status = dict(e.get("status") or {})
    projections = dict(e.get("projections", {}))
    key = op["key"]
    if op["state"] == "done":
        projections[key] = op["coords"]
        status.pop(key, None)
    else:
        status[key] = {"state": op["state"], "progress": float(op.get("progress", 0.0)), "error": op.get("error")}
    e = w.steps[op["step"]] = {**e, "projections": projections, "status": status}
    stored = full(e) if op["state"] == "done" else None
    return {"op": "embedding", "env": op["env"], "win": w.win, "opts": {}, **meta(e)}, stored


def write_csv(writer: Any, steps: Any, num: Any) -> None:
    """CSV rows of embedding steps (server/export.py): step, point, label, PCA, metadata, then the features."""
    steps = list(steps)
    columns = list(dict.fromkeys(c for e in steps for c in (e.get("metadata") or {})))
    d = max((e["features"].shape[1] for e in steps), default=0)
    writer.writerow(
        [
            "step",
            "point",
            "label",
            *(f"pca_{j + 1}" for j in range(COMPONENTS)),
            *columns,
            *(f"f_{j}" for j in range(d)),
        ]
    )
    for e in steps:
        labels, md = e.get("labels"), e.get("metadata") or {}
        pca = e["projections"]["pca"].tolist()
        cols = [md.get(c) for c in columns]
        for i, row in enumerate(e["features"].tolist()):
            meta = ["" if c is None else c[i] if isinstance(c, list) else num(c[i].item()) for c in cols]
            label = labels[i] if labels is not None else ""
            writer.writerow([e["step"], i, label, *map(num, pca[i]), *meta, *map(num, row)])
