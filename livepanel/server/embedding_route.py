"""`GET /api/v1/embedding?env=&win=[&step=]`: an embedding step's points, neighbours, thumbnails, projections.

- no other argument: the step's labels, metadata and projections ({step, n, dim, label, metadata,
  coords: {pca: N x 3 float32, "tsne-2d": N x 2, ...}}); `&key=pca` only that projection's coordinates.
- `&neighbors=I[&k=10][&metric=cosine|l2]`: the k nearest points to point I in the original feature
  space, computed now (one matrix-vector product): {i, k, metric, index, distance}, nearest first.
- `&thumb=I`: point I's thumbnail image (when the step has images).
- `&project=tsne|umap|pca[&dims=2|3]`: start computing that projection off the event loop (once; progress
  and the result reach viewers as changes of the window); answers {key, state: "done" | "running"}.
  `&methods=1` lists which projections this server can compute.

Reading only: like images, any viewer may ask (a projection is computed once per step and cached).
"""

from __future__ import annotations

from livepanel import embedding
from livepanel.server.handlers import WindowMixin
from livepanel.server.projector import Projector

MAX_K = 1000


class EmbeddingHandler(WindowMixin):
    projector: Projector

    def get(self) -> None:
        if self.arg("methods") is not None:
            self.send({"methods": self.projector.methods})
            return
        env, w, step, e = self.step_entry("embedding", "embedding")
        n = e["features"].shape[0]
        method = self.arg("project")
        if method is not None:
            dims = self.arg("dims", int, 2)
            try:
                state = self.projector.request(env, w.win, step, method, dims)
            except LookupError as exc:
                self.fail(404, str(exc))
            except ValueError as exc:
                self.fail(400, str(exc))
            self.send({"key": embedding.projection_key(method, dims), "state": state})
            return
        thumb = self.arg("thumb", int)
        if thumb is not None:
            thumbs = e.get("thumbs")
            if not thumbs:
                self.fail(404, f"step {step} of window {w.win!r} has no images")
            if not 0 <= thumb < n:
                self.fail(404, f"step {step} of window {w.win!r} has {n} points; thumb must be from 0 to {n - 1}")
            data = thumbs[thumb]
            self.set_header("Content-Type", f"image/{embedding.thumb_format(data)}")
            self.set_header("Cache-Control", "private, max-age=3600")
            self.finish(data)
            return
        i = self.arg("neighbors", int)
        if i is not None:
            k = self.arg("k", int, 10)
            metric = self.arg("metric", str, "cosine")
            if not 0 <= i < n:
                self.fail(400, f"neighbors must be a point from 0 to {n - 1}, got {i}")
            if not 1 <= k <= MAX_K:
                self.fail(400, f"k must be from 1 to {MAX_K}, got {k}")
            if metric not in embedding.METRICS:
                self.fail(400, f"metric must be one of {', '.join(embedding.METRICS)}, got {metric[:50]!r}")
            norms = e.get("_norms")
            if norms is None:
                norms = e["_norms"] = embedding.row_norms(e["features"])  # cached with the step (memory only)
            index, distance = embedding.neighbours(e["features"], norms, i, k, metric)
            self.send({"step": step, "i": i, "k": len(index), "metric": metric, "index": index, "distance": distance})
            return
        key = self.arg("key")
        if key is not None and key not in e.get("projections", {}):
            self.fail(404, f"step {step} of window {w.win!r} has no projection {key[:50]!r} (yet)")
        self.send(embedding.points(e, key))
