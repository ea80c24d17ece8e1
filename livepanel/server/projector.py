"""t-SNE and UMAP projections of embedding steps, computed off the event loop and cached with the step.

A page asks for a projection (GET /api/v1/embedding?project=tsne); the projector queues it once, computes
it on its own thread (one at a time: the machine's cores are the training's), and reports progress and the
result as window changes through `Store.apply_internal`, so every viewer sees the progress and then the
points. A result is stored with its step (a restart keeps it).

t-SNE is scikit-learn's (Barnes-Hut), on the first 50 principal components when D > 50; its progress
counts gradient-descent iterations. UMAP (umap-learn, optional) reports a start and an end only.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import queue
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from livepanel import embedding
from livepanel.server.store import Store

log = logging.getLogger("livepanel.projector")
TSNE_ITERATIONS = 500
PROGRESS_EVERY = 0.5  # seconds between progress reports
_local = threading.local()


def available() -> dict[str, bool]:
    """Which projections this server can compute (PCA always): whether their libraries are installed."""
    out = {"pca": True}
    for method, module in (("tsne", "sklearn"), ("umap", "umap")):
        out[method] = importlib.util.find_spec(module) is not None
    return out


def _hook_tsne() -> bool:
    """Count scikit-learn's t-SNE iterations for the thread that asks (a wrapper of its gradient descent
    that does nothing for other threads); False when this scikit-learn has no such function."""
    from sklearn.manifold import _t_sne

    original = getattr(_t_sne, "_gradient_descent", None)
    if original is None:
        return False
    if getattr(original, "_livepanel", False):
        return True

    def descent(objective: Callable, p0: Any, it: int, max_iter: int, *args: Any, **kwargs: Any) -> Any:
        report = getattr(_local, "report", None)
        if report is None:
            return original(objective, p0, it, max_iter, *args, **kwargs)
        count = [it]

        def counted(*a: Any, **k: Any) -> Any:
            count[0] += 1
            report(count[0] / TSNE_ITERATIONS)
            return objective(*a, **k)

        return original(counted, p0, it, max_iter, *args, **kwargs)

    descent._livepanel = True  # type: ignore[attr-defined]
    _t_sne._gradient_descent = descent
    return True


def tsne(features: np.ndarray, dims: int, report: Callable[[float], None]) -> np.ndarray:
    from sklearn.manifold import TSNE

    n = len(features)
    x = features
    if x.shape[1] > 50 and n > 50:
        x = embedding.pca(x, 50)[0]
    if n < 5:  # t-SNE needs a few points; fewer are laid out by PCA
        return embedding.pca(features, dims)[0]
    hooked = _hook_tsne()
    _local.report = (lambda f: report(0.1 + 0.9 * min(f, 1.0))) if hooked else None
    try:
        model = TSNE(
            n_components=dims,
            perplexity=min(30.0, (n - 1) / 3),
            init="pca",
            max_iter=TSNE_ITERATIONS,
            random_state=0,
            method="barnes_hut" if dims <= 3 else "exact",
        )
        out = model.fit_transform(np.asarray(x, dtype=np.float32))
    finally:
        _local.report = None
    return np.ascontiguousarray(out, dtype=np.float32)


def umap(features: np.ndarray, dims: int, report: Callable[[float], None]) -> np.ndarray:
    with warnings.catch_warnings():  # "Tensorflow not installed; ParametricUMAP will be unavailable"
        warnings.simplefilter("ignore", ImportWarning)
        import umap as umap_lib

    n = len(features)
    if n < 5:
        return embedding.pca(features, dims)[0]
    model = umap_lib.UMAP(n_components=dims, n_neighbors=min(15, n - 1), init="spectral" if n > dims + 1 else "random")
    report(0.2)
    return np.ascontiguousarray(model.fit_transform(features), dtype=np.float32)


class Projector:
    """One worker thread and its queue of projections to compute; status goes out through the store."""

    def __init__(self, store: Store):
        self.store = store
        self._methods: dict[str, bool] | None = None
        self._queue: queue.Queue = queue.Queue()
        self._running: set[tuple] = set()  # asked for and not finished (on the event loop)
        self._waiting: set[tuple] = set()  # queued and not started (shared with the worker: under _lock)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def methods(self) -> dict[str, bool]:
        """Which projections this server computes (found on first use: importing them takes a second)."""
        if self._methods is None:
            self._methods = available()
        return self._methods

    def request(self, env: str, win: str, step: int, method: str, dims: int) -> str:
        """Start computing a projection of a step unless it is done or under way: 'done', 'running', or
        ValueError saying why not. Runs on the event loop."""
        if method not in embedding.METHODS:
            raise ValueError(f"project must be one of {', '.join(embedding.METHODS)}, got {method!r}")
        if dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, got {dims}")
        key = embedding.projection_key(method, dims)
        w = self.store.state.window(env, win)
        e = w.steps.get(step) if w is not None and w.kind == "embedding" else None
        if e is None:
            raise LookupError(f"window {win!r} in env {env!r} has no embedding step {step}")
        if key in e.get("projections", {}):
            return "done"
        if not self.methods.get(method):
            raise ValueError(f"{method} is not installed on this server (pip install {_PACKAGES[method]})")
        job = (env, win, step, key)
        if job in self._running:
            return "running"
        self._running.add(job)
        self._loop = asyncio.get_running_loop()
        with self._lock:  # a page stepping through steps asks for each: only its latest waits its turn
            superseded = [j for j in self._waiting if j[:2] == job[:2] and j[3] == key]
            self._waiting.difference_update(superseded)
            self._waiting.add(job)
        for old in superseded:
            self._report(old, "cancelled", 0.0)
        self._report(job, "running", 0.0)
        self._queue.put((job, method, dims, e["features"]))
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="livepanel-projector", daemon=True)
            self._thread.start()
        return "running"

    def _work(self) -> None:
        while True:
            job, method, dims, features = self._queue.get()
            with self._lock:
                if job not in self._waiting:  # superseded by a later step of its window
                    continue
                self._waiting.discard(job)
            last = [0.0]

            def progress(f: float, job: tuple = job, last: list = last) -> None:
                now = time.monotonic()
                if now - last[0] >= PROGRESS_EVERY:
                    last[0] = now
                    self._call(self._report, job, "running", f)

            try:
                compute = tsne if method == "tsne" else umap if method == "umap" else None
                if compute is None:
                    coords = embedding.pca(features, dims)[0]
                else:
                    progress(0.05)
                    coords = compute(features, dims, progress)
                if not np.isfinite(coords).all():
                    raise ValueError(f"{method} gave non-finite coordinates")
                self._call(self._report, job, "done", 1.0, coords=coords)
            except Exception as exc:  # one projection's failure is shown on its window; the worker goes on
                log.exception("projection %s of %s failed", job[3], job[:3])
                self._call(self._report, job, "error", 0.0, error=f"{type(exc).__name__}: {exc}"[:500])
            finally:
                del features

    def _call(self, fn: Callable, *args: Any, **kwargs: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(lambda: fn(*args, **kwargs))
        except RuntimeError:  # the loop closed (server stopping): nobody is left to see it
            pass

    def _report(self, job: tuple, state: str, progress: float, coords: Any = None, error: str | None = None) -> None:
        """On the event loop: a progress, result or error change of the step's window (when it still exists)."""
        env, win, step, key = job
        if state != "running":
            self._running.discard(job)
        w = self.store.state.window(env, win)
        if w is None or w.kind != "embedding" or step not in w.steps:
            return
        op = {"op": "projection", "env": env, "win": win, "step": step, "key": key, "state": state}
        op.update(progress=progress, coords=coords, error=error)
        self.store.apply_internal([op])


_PACKAGES = {"tsne": "scikit-learn", "umap": "umap-learn"}
