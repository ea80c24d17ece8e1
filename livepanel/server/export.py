"""Export of a window's full data as CSV (JSON export is the window state itself)."""

from __future__ import annotations

import csv
import io

import numpy as np

from livepanel import clips, embedding, model_graph, properties
from livepanel.server.store import Window


def to_csv(w: Window) -> str | None:
    """The window as CSV text, or None for kinds that only export as JSON (images)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if w.kind in ("line", "scatter"):
        writer.writerow(["trace", "x", "y", "time"])
        for name, series in w.traces.items():
            x, y, t = series.arrays()
            for row in zip(x.tolist(), y.tolist(), t.tolist(), strict=True):
                writer.writerow([name, *map(_num, row)])
    elif w.kind == "bar":
        y = np.asarray(w.content["y"])
        labels = w.content.get("labels") or [str(i) for i in range(y.shape[0])]
        writer.writerow(["label", "series", "value"])
        for i, label in enumerate(labels):
            values = y[i] if y.ndim == 2 else [y[i]]
            for j, value in enumerate(np.ravel(values).tolist()):
                writer.writerow([label, j, _num(value)])
    elif w.kind == "histogram":
        writer.writerow(["step", "left", "right", "count"])
        for entry in w.steps.values():
            edges, counts = entry["edges"].tolist(), entry["counts"].tolist()
            for i, count in enumerate(counts):
                writer.writerow([entry["step"], _num(edges[i]), _num(edges[i + 1]), _num(count)])
    elif w.kind == "embedding":  # livepanel/embedding.py: one row per point of each step
        embedding.write_csv(writer, w.steps.values(), _num)
    elif w.kind == "heatmap":
        for row in np.asarray(w.content["z"]).tolist():
            writer.writerow([_num(v) for v in row])
    elif w.kind == "text":
        return w.content.get("text", "")
    elif w.kind in clips.KINDS:  # one row per step: what describes its file (the file: /api/v1/media)
        fields = [f for f in clips.FIELDS[w.kind] if f not in ("data", "peaks")]
        writer.writerow(["step", "time", *fields, "bytes"])
        for entry in w.steps.values():
            writer.writerow([entry["step"], _num(entry["t"]), *(entry[f] for f in fields), entry["size"]])
    elif w.kind == "graph":  # livepanel/model_graph.py: one row per node; its inputs name the edges
        writer.writerows(model_graph.csv_rows(w.content.get("graph", {})))
    elif w.kind == "properties":  # livepanel/properties.py: each item as a writer reads it
        writer.writerow(["name", "type", "value"])
        for item in w.content.get("items", []):
            writer.writerow([item["name"], item["type"], properties.reading(item)])
    else:
        return None
    return out.getvalue()


def _num(value: float | int) -> str:
    """repr keeps every digit of a float (so the export reads back exactly); 'nan', 'inf' as is."""
    return repr(value)
