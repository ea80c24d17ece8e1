"""Heatmap rows and columns added by Visdom's heatmap updates reach an open page as the added block only,
and the page joins them as the server does: its matrix equals the server's, labels too."""

from __future__ import annotations

import numpy as np

from livepanel.visdom import Visdom


def page_matrix(page, env: str, win: str):
    return page.evaluate(
        """([env, win]) => { const w = window.__livepanel.state.envs.get(env)?.windows.get(win);
            return w && w.heatmap ? [w.heatmap.rows, w.heatmap.cols, [...w.heatmap.data], w.opts.yticklabels ?? null,
                                     w.opts.xticklabels ?? null] : null; }""",
        [env, win],
    )


def test_an_open_page_joins_heatmap_updates(server, pages, tmp_path):
    viz = Visdom(server="http://127.0.0.1", port=server.port, env="hm", spool_dir=tmp_path / "spool")
    page = pages.open(server.url + "/?env=hm")
    try:
        win = viz.heatmap(X=np.arange(6.0).reshape(2, 3), win="grow", opts={"rownames": ["a", "b"],
                          "columnnames": ["x", "y", "z"]})  # fmt: skip
        assert viz.flush()
        page.wait_for_function("() => document.querySelector('section[data-win=\"grow\"] canvas') !== null")
        viz.heatmap(X=np.full((1, 3), 9.0), win=win, update="appendRow", opts={"rownames": ["c"]})
        viz.heatmap(X=np.full((1, 3), -1.0), win=win, update="prependRow", opts={"rownames": ["top"]})
        viz.heatmap(X=np.full((4, 2), 5.0), win=win, update="appendColumn", opts={"columnnames": ["u", "v"]})
        viz.heatmap(X=np.full((4, 1), 7.0), win=win, update="prependColumn", opts={"columnnames": ["w"]})
        assert viz.flush()
        page.wait_for_function(
            "() => { const w = window.__livepanel.state.envs.get('hm')?.windows.get('grow');"
            " return w && w.heatmap && w.heatmap.rows === 4 && w.heatmap.cols === 6; }",
            timeout=10000,
        )
        server_state = viz.panel.get(win)
    finally:
        viz.panel.close(timeout=5)
    rows, cols, data, ylabels, xlabels = page_matrix(page, "hm", "grow")
    z = np.asarray(server_state["z"])
    assert (rows, cols) == z.shape
    np.testing.assert_array_equal(np.asarray(data).reshape(rows, cols), z)
    assert ylabels == ["top", "a", "b", "c"] == server_state["opts"]["yticklabels"]
    assert xlabels == ["w", "x", "y", "z", "u", "v"] == server_state["opts"]["xticklabels"]
