"""Visdom's line, scatter and bar options drawn as Visdom draws them (issue 20 item 2): sent by the
real Visdom-compatible client, read back from the chart in Chromium (uPlot's series and axes,
what was painted, and pixels where only pixels tell)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from livepanel import protocol, visdom_opts
from livepanel.visdom import Visdom, translate_opts

ENV = "vopts"


@pytest.fixture
def viz(server, tmp_path):
    port = int(server.url.rsplit(":", 1)[1])
    v = Visdom(server="http://127.0.0.1", port=port, env=ENV, spool_dir=tmp_path / "spool")
    yield v
    v.panel.close(timeout=5)


def open_page(pages, server, viz):
    assert viz.flush(10), "every call acknowledged"
    return pages.open(f"{server.url}/?env={ENV}")


def wait_chart(page, win: str, cond: str, timeout: float = 10000) -> dict:
    """Wait until `cond` (JS over `c`, the chart's info) holds for window `win`; return the info."""
    w = json.dumps(win)
    predicate = f"() => {{ const c = window.__livepanel.chart({w}); return !!c && ({cond}); }}"
    page.wait_for_function(predicate, timeout=timeout)
    return page.evaluate("(win) => window.__livepanel.chart(win)", win)


def uplot(page, win: str, expr: str):
    """Evaluate `expr` over `u`, the window's uPlot chart."""
    return page.evaluate(f"(win) => {{ const u = window.__livepanel.uplot(win); return {expr}; }}", win)


def pixel(page, win: str, x: float, y: float, dx: float = 0, dy: float = 0) -> list[int]:
    """The RGBA of the chart's canvas at data point (x, y), moved by (dx, dy) device pixels."""
    return page.evaluate(
        """([win, x, y, dx, dy]) => { const u = window.__livepanel.uplot(win);
        const px = Math.round(u.valToPos(x, 'x', true) + dx), py = Math.round(u.valToPos(y, 'y', true) + dy);
        return Array.from(u.ctx.getImageData(px, py, 1, 1).data); }""",
        [win, x, y, dx, dy],
    )


def near(rgba: list[int], rgb: tuple[int, int, int], tol: int = 40) -> bool:
    return rgba[3] > 0 and all(abs(a - b) <= tol for a, b in zip(rgba[:3], rgb, strict=False))


def test_linecolor_and_dash_in_an_insert_style_only_the_trace_they_name(server, pages, viz):
    x = np.arange(10.0)
    win = viz.line(
        Y=np.column_stack((x, x + 5, x + 10)),
        X=np.column_stack((x, x, x)),
        opts={"dash": np.array(["solid", "dash", "dashdot"]), "legend": ["a", "b", "c"],
              "linecolor": np.array([[0, 191, 255], [0, 191, 255], [255, 0, 0]])},
    )  # fmt: skip
    viz.line(Y=x + 15, X=x, win=win, name="d", update="insert",
             opts={"linecolor": np.array([[0, 128, 0]]), "dash": np.array(["dot"])})  # fmt: skip
    page = open_page(pages, server, viz)
    c = wait_chart(page, win, "c.labels.length === 4")
    assert c["labels"] == ["a", "b", "c", "d"]
    assert c["colors"] == ["#00bfff", "#00bfff", "#ff0000", "#008000"], "the insert coloured only d"
    assert [look["dash"] for look in c["looks"]] == [[], [9, 9], [9, 3, 3, 3], [3, 3]]
    assert near(pixel(page, win, 4.5, 19.5), (0, 128, 0)), "d is drawn green"

    # a new legend renames the traces by position, as Visdom's server does; colours stay
    viz.update_window_opts(win, {"legend": ["p", "q", "r", "s"]})
    c = wait_chart(page, win, "c.labels[0] === 'p'")
    assert c["labels"] == ["p", "q", "r", "s"] and c["colors"][3] == "#008000"
    legend = page.evaluate(
        "(win) => [...document.querySelectorAll(`[data-win='${win}'] .lp-legend-item`)].map((e) => e.textContent)", win
    )
    assert [t[:1] for t in legend] == ["p", "q", "r", "s"], legend


def test_markers_symbols_sizes_and_per_point_colours(server, pages, viz):
    rng = np.random.default_rng(0)
    pts = rng.random((40, 2)) * 10
    labels = np.arange(40) % 2 + 1
    colors = np.zeros((40, 3), dtype=int)
    colors[:, 0] = 255  # every point red ...
    colors[0] = [0, 0, 255]  # ... but the first, blue
    sc = viz.scatter(X=pts, Y=labels, opts={"markersymbol": "diamond", "markersize": 12, "markercolor": colors,
                                            "legend": ["even", "odd"]})  # fmt: skip
    fallback = viz.scatter(X=pts[:5], opts={"markersymbol": "bowtie-open", "markersize": 6})
    x = np.arange(8.0)
    ln = viz.line(Y=x, X=x, opts={"markers": True, "markersymbol": "square", "markersize": 9})
    page = open_page(pages, server, viz)

    c = wait_chart(page, sc, "c.painted.markers === 40")
    assert [look["symbol"] for look in c["looks"]] == ["diamond", "diamond"]
    assert [look["size"] for look in c["looks"]] == [12, 12] and [look["perPoint"] for look in c["looks"]] == [20, 20]
    assert c["looks"][0]["lines"] is False
    first, other = pts[0], pts[2]  # both are in trace "even"
    assert near(pixel(page, sc, first[0], first[1]), (0, 0, 255)), "the first point has its own colour"
    assert near(pixel(page, sc, other[0], other[1]), (255, 0, 0))

    # a symbol livepanel does not draw falls back to a circle (outlined, as asked)
    c = wait_chart(page, fallback, "c.painted.markers === 5")
    assert c["looks"][0]["symbol"] == "circle-open"

    # lines with markers: the line and a square at every point
    c = wait_chart(page, ln, "c.painted.markers === 8")
    assert c["looks"][0]["lines"] is True and c["looks"][0]["symbol"] == "square"
    assert pixel(page, ln, 3, 3, dx=3, dy=3)[3] > 0, "a 9 px square reaches 3 px beside the point"
    # points appended live get their markers too
    viz.line(Y=np.arange(8.0, 12.0), X=np.arange(8.0, 12.0), win=ln, update="append")
    viz.flush(10)
    wait_chart(page, ln, "c.painted.markers === 12")


def test_text_labels_fill_area_and_hidden_legend(server, pages, viz):
    pts = np.array([[i, i % 3] for i in range(10)], dtype=float)
    tl = viz.scatter(X=pts, opts={"textlabels": [f"Label {i + 1}" for i in range(10)]})
    y = np.linspace(1, 2, 20)
    fa = viz.line(Y=np.column_stack((y, y + 2)), X=np.arange(20), opts={"fillarea": True, "showlegend": False,
                                                                         "legend": ["lo", "hi"]})  # fmt: skip
    page = open_page(pages, server, viz)
    c = wait_chart(page, tl, "c.painted.labels === 10")
    assert c["looks"][0]["text"] == 10
    assert c["looks"][0]["size"] == 10, "Visdom's default marker size"
    # a label is painted to the right of its point
    assert any(pixel(page, tl, 4, 1, dx=dx)[3] > 0 for dx in range(10, 30))
    # an append's labels and marker colours are drawn for its own points, the earlier ones kept
    more = np.array([[10.0, 1.5], [11.0, 0.5]])
    viz.scatter(
        X=more, win=tl, update="append", opts={"textlabels": ["L11", "L12"], "markercolor": np.array([[0, 0, 255]] * 2)}
    )
    viz.flush(10)
    c = wait_chart(page, tl, "c.painted.labels === 12 && c.painted.markers === 12")
    assert c["looks"][0]["text"] == 12 and c["looks"][0]["perPoint"] == 12
    assert near(pixel(page, tl, 10, 1.5), (0, 0, 255)), "the appended point has its own colour"
    c = wait_chart(page, fa, "c.labels.length === 2")
    assert [look["fill"] for look in c["looks"]] == [True, True]
    assert c["legendShown"] is False and c["legend"]["height"] == 0
    # below the first curve it is filled (to 0), between the curves too: neither is the background
    assert pixel(page, fa, 10, y[10], dy=6)[3] > 0 and pixel(page, fa, 10, y[10] + 1)[3] > 0
    bare = viz.line(Y=y, X=np.arange(20))
    viz.flush(10)
    c = wait_chart(page, bare, "c.labels.length === 1")
    assert c["looks"][0]["fill"] is False and c["legendShown"] is True
    assert pixel(page, bare, 10.5, y[10], dy=6)[3] == 0, "no fill without fillarea"


def test_ticks_ranges_fonts_margins_and_log_axes(server, pages, viz):
    x = np.arange(11.0)
    tk = viz.line(
        Y=x,
        X=x,
        opts={"xtickvals": [0, 5, 10], "xticklabels": ["start", "mid", "end"], "ytickmin": -5, "ytickmax": 15,
              "ytickstep": 5, "ytickfont": {"size": 16}, "marginleft": 90, "margintop": 40},
    )  # fmt: skip
    hidden = viz.line(Y=x, X=x, opts={"xtick": False, "layoutopts": {"plotly": {"yaxis": {"range": [0, 100]},
                                                                                "hovermode": "x"}}})  # fmt: skip
    log_opts = {"xtype": "log", "ytype": "log", "xtickfont": 24, "ytickmin": 0, "ytickmax": 5000}
    lg = viz.line(Y=np.logspace(0, 3, 10), X=np.logspace(0, 2, 10), opts=log_opts)
    page = open_page(pages, server, viz)
    wait_chart(page, tk, "c.labels.length === 1")
    page.wait_for_function(
        f"() => window.__livepanel.uplot({json.dumps(tk)})?.axes[0]._values?.length === 3", timeout=10000
    )
    assert uplot(page, tk, "u.axes[0]._splits") == [0, 5, 10]
    assert uplot(page, tk, "u.axes[0]._values") == ["start", "mid", "end"]
    assert uplot(page, tk, "[u.scales.y.min, u.scales.y.max]") == [-5, 15]
    assert uplot(page, tk, "u.axes[1]._splits") == [-5, 0, 5, 10, 15]
    assert uplot(page, tk, "u.axes[1].font[0]").startswith("16px")
    dpr = uplot(page, tk, "devicePixelRatio")
    left, top = uplot(page, tk, "[u.bbox.left, u.bbox.top]")
    assert abs(left / dpr - 90) <= 1 and abs(top / dpr - 40) <= 1, (left, top)

    wait_chart(page, hidden, "c.labels.length === 1")
    page.wait_for_function(f"() => window.__livepanel.uplot({json.dumps(hidden)})?.axes[0]._values?.length > 0")
    assert set(uplot(page, hidden, "u.axes[0]._values")) == {""}, "xtick=False hides the x tick labels"
    assert uplot(page, hidden, "[u.scales.y.min, u.scales.y.max]") == [0, 100], "layoutopts' y range is applied"

    wait_chart(page, lg, "c.labels.length === 1")
    assert uplot(page, lg, "[u.scales.x.distr, u.scales.y.distr]") == [3, 3]
    assert uplot(page, lg, "u.axes[0]._size") >= 60, "a 24 px tick font gets an axis twice as tall"
    low, high = uplot(page, lg, "[u.scales.y.min, u.scales.y.max]")
    assert 0 < low <= 1 and high == 5000, "a log axis keeps the positive bound and leaves 0 to the data"


def test_stacked_bars_with_legend_and_rownames(server, pages, viz):
    data = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 1.0]])
    grouped = viz.bar(X=data, opts={"legend": ["u", "v"], "rownames": ["r1", "r2", "r3"]})
    stacked = viz.bar(X=data, opts={"stacked": True, "legend": ["u", "v"], "rownames": ["r1", "r2", "r3"]})
    one_row = viz.bar(X=np.array([1.0, 2.0, 3.0]), opts={"legend": ["a", "b", "c"]})
    no_legend = viz.bar(X=data, opts={"legend": ["u", "v"], "showlegend": False})
    page = open_page(pages, server, viz)
    page.wait_for_function(
        f"() => [{json.dumps(grouped)}, {json.dumps(stacked)}, {json.dumps(one_row)}, {json.dumps(no_legend)}].every("
        "(w) => document.querySelector(`[data-win='${w}'] .lp-barchart canvas`))",
        timeout=10000,
    )

    def column(win: str) -> set[tuple[int, int, int]]:
        """The colours down a column at 30 % of the first row's slot (grouped: the first bar only)."""
        return set(
            map(
                tuple,
                page.evaluate(
                    """(win) => { const c = document.querySelector(`[data-win='${win}'] .lp-barchart canvas`);
                    const g = c.getContext('2d'); const dpr = devicePixelRatio;
                    const slot = (c.width / dpr - 58) / 3, x = Math.round((48 + slot * 0.3) * dpr);
                    const out = []; for (let y = 0; y < c.height; y++) { const d = g.getImageData(x, y, 1, 1).data;
                      if (d[3] > 200) out.push([d[0], d[1], d[2]]); } return out; }""",
                    win,
                ),
            )
        )

    palette = {(31, 119, 180), (255, 127, 14)}
    assert column(stacked) & palette == palette, "stacked: both series in one bar"
    assert column(grouped) & palette == {(31, 119, 180)}, "grouped: the first series' bar alone"
    legend = page.evaluate(
        "(w) => [...document.querySelectorAll(`[data-win='${w}'] .lp-legend-label`)].map((e) => e.textContent)",
        one_row,
    )
    assert legend == ["a", "b", "c"], "a 1-D X with a legend is one group of bars, one per name (as Visdom)"
    shown = "(w) => document.querySelector(`[data-win='${w}'] .lp-legend`).offsetHeight > 0"
    assert page.evaluate(shown, one_row) and not page.evaluate(shown, no_legend), "showlegend=False hides it"
    viz.update_window_opts(stacked, {"legend": ["U", "V"]})
    page.wait_for_function(
        "(w) => [...document.querySelectorAll(`[data-win='${w}'] .lp-legend-label`)].map((e) => e.textContent)"
        ".join() === 'U,V'",
        arg=stacked,
        timeout=10000,
    )


def test_bad_marker_colours_say_what_was_expected(viz):
    pts = np.zeros((4, 2))
    with pytest.raises(ValueError, match="expected 1 rows .* or 4"):
        viz.scatter(X=pts, opts={"markercolor": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="from 0 to 255"):
        viz.scatter(X=pts, opts={"markercolor": np.full((4, 3), 300)})
    with pytest.raises(ValueError, match="one per trace"):
        viz.line(Y=np.zeros((3, 2)), X=np.arange(3), opts={"linecolor": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="unknown field"):
        viz.panel.line([1.0], win="w", opts={"trace:": {"colour": "red"}})
    # options without a meaning here are accepted
    viz.line(Y=np.ones(3), X=np.arange(3), opts={"webgl": True, "traceopts": {"plotly": {}}, "markerborderwidth": 1})


def test_translation_keeps_what_has_a_meaning_and_styles_only_the_named_traces():
    o = translate_opts(
        {"xtickfont": {"size": 14, "family": "Arial"}, "markers": True, "ytype": "log", "webgl": True,
         "layoutopts": {"plotly": {"xaxis": {"range": [0, 5], "tickangle": 45}, "margin": {"l": 10, "pad": 2},
                                   "hovermode": "x", "barmode": "stack"}}},
        "line",
    )  # fmt: skip
    assert o == {"xtickfont": 14.0, "markers": True, "ylog": True, "xtickmin": 0.0, "xtickmax": 5.0,
                 "marginleft": 10, "stacked": True}  # fmt: skip
    styles = visdom_opts.trace_styles(
        {"linecolor": np.array([[255, 0, 0], [0, 0, 255]]), "markercolor": np.array([10, 255]),
         "textlabels": ["p", "q", "r"]},
        ["a", "b"], np.array([0, 1, 0]),
    )  # fmt: skip
    assert styles == {
        "trace:a": {"color": "#ff0000", "markercolor": "rgba(0, 0, 255, 0.0392)", "text": ["p", "r"]},
        "trace:b": {"color": "#0000ff", "markercolor": "rgba(0, 0, 255, 1)", "text": ["q"]},
    }
    over = {"traceopts": {"plotly": {"b": {"line": {"color": "#123456", "dash": "dot", "width": 3}, "opacity": 0.5}}}}
    assert visdom_opts.trace_styles(over, ["a", "b"], None) == {"trace:b": {"color": "#123456", "dash": "dot"}}, (
        "traceopts by trace name: line colour and dash"
    )


def test_the_server_refuses_a_malformed_trace_style_saying_why():
    with pytest.raises(protocol.ProtocolError, match="dash must be a str"):
        protocol.check_opts({"trace:a": {"dash": 3}})
    with pytest.raises(protocol.ProtocolError, match="the limit is 10000"):
        protocol.check_opts({"trace:a": {"text": ["x"] * 10_001}})
    with pytest.raises(protocol.ProtocolError, match="the limit is 1000 in one map"):
        protocol.check_opts({f"trace:{i}": {} for i in range(1001)})
    with pytest.raises(protocol.ProtocolError, match="must be a map"):
        protocol.check_opts({"trace:a": ["red"]})
    assert protocol.check_opts({"trace:a": None, "trace:": {"color": "red"}, "xtickvals": [1, 2.5]})
