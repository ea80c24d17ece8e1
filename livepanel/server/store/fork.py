"""Forking an env (Visdom's fork_env): a new env made as a copy of another, in one batch.

The `fork` op names the new env (`env`) and the one copied (`source`). The store expands it into the
operations that would have made the source's windows as they are now (traces with their points and times,
histogram and image steps, text, bar, heatmap and other content, options, layout and run record), applied
to the new env in the same batch: all of them are stored, or none, and viewers of the new env see it fill
like any other. Alerts are the source's own findings and are not copied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from livepanel import clips
from livepanel.protocol import ProtocolError

if TYPE_CHECKING:
    from livepanel.server.store.model import Env, State


def check(state: State, op: dict, i: int, planned: set[str]) -> None:
    """Refuse a fork whose source is missing or whose target exists (or is made earlier in the batch)."""
    target, source = op["env"], op["source"]
    if source not in state.envs:
        raise ProtocolError(f"operation {i}: cannot fork env {source!r}: it does not exist", op=i)
    if target in state.envs or target in planned:
        raise ProtocolError(f"operation {i}: cannot fork {source!r} into {target!r}: that env exists already", op=i)
    planned.add(target)


def expand(state: State, op: dict) -> list[dict[str, Any]]:
    """The operations that make `op["env"]` a copy of `op["source"]` as it is now."""
    source: Env = state.envs[op["source"]]
    env = op["env"]
    ops: list[dict[str, Any]] = []
    for w in source.windows.values():
        base = {"env": env, "win": w.win, "opts": dict(w.opts)}
        if w.kind in ("line", "scatter"):
            for name, series in w.traces.items():
                x, y, t = series.arrays()
                ops.append({"op": w.kind, **base, "name": name, "update": "append", "x": x, "y": y, "t": t})
            if not w.traces:
                ops.append({"op": "opts", **base})
        elif w.kind == "histogram":
            for s in w.steps.values():
                ops.append({"op": "histogram", **base, "counts": s["counts"], "edges": s["edges"],
                            "stats": s["stats"], "step": s["step"], "t": s["t"]})  # fmt: skip
        elif w.kind == "image":
            for s in w.steps.values():
                ops.append({"op": "image", **base, "images": s["images"], "step": s["step"], "t": s["t"]})
        elif w.kind == "embedding":
            for s in w.steps.values():
                fields = {k: s.get(k) for k in ("features", "labels", "metadata", "thumbs", "step", "t")}
                ops.append({"op": "embedding", **base, **fields})
        elif w.kind in clips.KINDS:  # audio, video: each step's file and what describes it
            for s in w.steps.values():
                ops.append({"op": w.kind, **base, **{k: s[k] for k in (*clips.FIELDS[w.kind], "step", "t")}})
        elif w.kind == "text":
            ops.append({"op": "text", **base, "text": w.text_body(), "update": "replace"})
        elif w.kind == "heatmap":
            ops.append({"op": "heatmap", **base, "z": w.content["z"], "update": "replace", "labels": None})
        elif w.kind == "media":
            ops.append({"op": "media", **base, "format": w.content["format"], "data": w.content["data"]})
        elif w.kind == "plotly":
            ops.append({"op": "plotly", **base, "figure": w.content["figure"], "update": "replace"})
        else:  # bar and the kinds whose content is what their op carries (properties)
            ops.append({"op": w.kind, **base, **w.content})
    if source.layout:
        ops.append({"op": "layout", "env": env, "layout": dict(source.layout)})
    run = source.run
    fields = {k: run[k] for k in ("config", "summary", "status", "color") if run.get(k) is not None}
    if fields:
        ops.append({"op": "run", "env": env, "merge": False, **fields})
    if not ops:  # an empty env still exists after the fork
        ops.append({"op": "layout", "env": env, "layout": {}})
    return ops
