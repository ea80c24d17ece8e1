"""`Panel.matplot`: a figure is copied in the call and rendered on the sender thread, as it was at the call."""

from __future__ import annotations

import io
import threading

import pytest

import livepanel

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402
from PIL import Image  # noqa: E402


def sizes(panel, win):
    out = []
    for step in panel.get(win)["steps"]:
        img = step["images"][0]
        with Image.open(io.BytesIO(img["data"])) as im:
            assert im.format == "PNG"
            out.append((img["width"], img["height"], im.size, img["caption"]))
    return out


def test_figure_as_it_was_at_the_call(server, tmp_path):
    fig = Figure(figsize=(4, 3), dpi=50)
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [2, 1, 0])
    with livepanel.Panel(server.url, env="mpl", spool_dir=tmp_path) as panel:
        assert panel.matplot(fig, win="curve", caption="first") == "curve"
        fig.set_size_inches(2, 2)  # changed at once: the first image must not see it
        ax.clear()
        panel.matplot(fig, win="curve", caption="second")
        assert sizes(panel, "curve") == [(200, 150, (200, 150), "first"), (100, 100, (100, 100), "second")]


def test_pyplot_current_figure_is_not_duplicated(server, tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    plt.close("all")
    plt.figure(figsize=(3, 2), dpi=40)
    plt.plot([1, 2, 3])
    try:
        with livepanel.Panel(server.url, env="mpl", spool_dir=tmp_path) as panel:
            panel.matplot(win="gcf")  # pyplot's current figure
            panel.matplot(plt, win="gcf", step=7)  # the visdom habit: pyplot itself
            assert panel.flush()
            assert [s[:2] for s in sizes(panel, "gcf")] == [(120, 80), (120, 80)]
            assert [s["step"] for s in panel.get("gcf")["steps"]][-1] == 7
            assert plt.get_fignums() == [1]  # the sender's copies never joined pyplot
    finally:
        plt.close("all")


def test_unpicklable_figure_is_rendered_in_the_call(server, tmp_path):
    fig = Figure(figsize=(2, 2), dpi=30)
    ax = fig.add_subplot()
    ax.plot([0, 1])
    local = threading.Lock()  # a lock cannot be pickled
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos, _lock=local: f"{v:.0f}"))
    with livepanel.Panel(server.url, env="mpl", spool_dir=tmp_path) as panel:
        panel.matplot(fig, win="fallback")
        assert sizes(panel, "fallback") == [(60, 60, (60, 60), "")]


def test_bad_input(server, tmp_path):
    with livepanel.Panel(server.url, env="mpl", spool_dir=tmp_path) as panel:
        with pytest.raises(TypeError, match="expected a matplotlib figure"):
            panel.matplot([1, 2, 3])
        with pytest.raises(TypeError, match="caption"):
            panel.matplot(Figure(), caption=3)  # type: ignore[arg-type]
