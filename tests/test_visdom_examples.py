"""Visdom's own examples (tests/visdom_examples: demo.py and example/components/*.py, Apache-2.0) run against
a real livepanel server with only the import line changed: each demo function on its own (and what it drew),
and demo.py as a whole, as a user runs it. Headless: no network (downloads fail as offline), no key waits."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from livepanel.visdom import Visdom

EXAMPLES = Path(__file__).resolve().parent / "visdom_examples"
ROOT = EXAMPLES.parents[1]

# Each demo function and the windows it leaves in its env (kinds, counted). `None`: runs to the end and
# draws nothing here either in Visdom without the optional package it needs (say which).
EXPECTED: dict[str, dict[str, int] | None] = {
    "text_basic": {"text": 1},
    "text_update": {"text": 1},
    "text_callbacks": {"text": 1},
    "text_close": {},
    "text_fork_part1": {"text": 1},
    "text_fork_part2": {"text": 1},
    "image_basic": {"image": 1},
    "image_callback": {"image": 1, "text": 1},
    "image_callback2": {"image": 1},
    "image_save_jpeg": {"image": 1},
    "image_history": {"image": 1},
    "image_grid": {"image": 1},
    "image_svg": {"media": 1},
    "plot_line_basic": {"line": 1},
    "plot_line_multiple": {"line": 1},
    "plot_line_webgl": {"line": 1},
    "plot_line_update_webgl": {"line": 1},
    "plot_line_update": {"line": 1},
    "plot_line_many_updates": {"line": 1},
    "plot_line_opts": {"line": 1},
    "plot_line_opts_update": {"line": 1},
    "plot_line_stackedarea": {"line": 1},
    "plot_line_maxsize": {"line": 1},
    "plot_line_doubleyaxis": {"plotly": 1},
    "plot_line_pytorch": {"line": 1},
    "plot_line_stem": {"plotly": 1},
    "plot_scatter_basic": {"scatter": 1},
    "plot_scatter_update_opts": {"scatter": 1},
    "plot_scatter_append": {"scatter": 1},
    "plot_scatter_3d": {"plotly": 1},
    "plot_scatter_custom_marker": {"scatter": 1},
    "plot_scatter_custom_colors": {"scatter": 1},
    "plot_scatter_add_trace": {"scatter": 1},
    "plot_scatter_text_labels_1d": {"scatter": 1},
    "plot_scatter_text_labels_2d": {"scatter": 1},
    "plot_bar_basic": {"bar": 1},
    "plot_bar_stacked": {"bar": 1},
    "plot_bar_nonstacked": {"bar": 1},
    "plot_bar_histogram": {"histogram": 1},
    "plot_bar_piechart": {"plotly": 1},
    "plot_surface_basic": {"heatmap": 1},
    "plot_surface_basic_withnames": {"heatmap": 1},
    "plot_surface_append": {"heatmap": 1},
    "plot_surface_append_withnames": {"heatmap": 1},
    "plot_surface_remove": {},
    "plot_surface_remove_withnames": {},
    "plot_surface_replace": {"heatmap": 1},
    "plot_surface_replace_withnames": {"heatmap": 1},
    "plot_surface_contour": {"plotly": 1},
    "plot_surface_3d": {"plotly": 1},
    "plot_special_boxplot": {"plotly": 1},
    "plot_special_quiver": {"plotly": 1},
    "plot_special_mesh": {"plotly": 1},
    "plot_special_graph": {"plotly": 1},
    "properties_basic": {"properties": 1},
    "properties_callbacks": {"properties": 1, "text": 1},
    "misc_plot_matplot": {"image": 1},
    "misc_plot_latex": {"line": 1},
    "misc_plot_latex_update": {"line": 1},
    # encodes with PyAV (optional in Visdom too); without it: "Skipped video tensor example"
    "misc_video_tensor": {"media": 1} if importlib.util.find_spec("av") else None,
    "misc_video_download": None,  # downloads a file: offline here, "Skipped video file example"
    "misc_audio_basic": {"media": 1},
    "misc_audio_download": None,  # downloads a file: offline here, "Skipped audio example"
    "misc_arbitrary_visdom": {"plotly": 1},
    "misc_getset_state": {"text": 1},
}


# Demo functions that need another part of issue 20 (strict: the mark goes once they pass).
def _modules() -> dict[str, object]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        return {name: importlib.import_module(f"components.{name}") for name in (
            "text", "image", "plot_line", "plot_scatter", "plot_bar", "plot_surface", "plot_special", "properties",
            "misc")}  # fmt: skip
    finally:
        sys.path.remove(str(EXAMPLES))


def _demo_function(name: str):
    for module in _modules().values():
        fn = getattr(module, name, None)
        if fn is not None:
            return fn
    raise LookupError(name)


def test_every_demo_function_is_listed():
    defined = {n for m in _modules().values() for n in vars(m) if n.split("_")[0] in ("text", "image", "plot",
               "misc", "properties") and callable(vars(m)[n])}  # fmt: skip
    assert defined == set(EXPECTED), defined ^ set(EXPECTED)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(EXPECTED))
def test_demo_function(name, server, tmp_path, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise OSError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    viz = Visdom(server="http://127.0.0.1", port=server.port, spool_dir=tmp_path / "spool")
    env = name
    try:
        _demo_function(name)(viz, env, [])
        assert viz.flush(30)
        kinds = Counter(viz.panel.get(w, env=env, flush=False)["kind"] for w in viz.panel.windows(env))
    finally:
        viz.panel.close(timeout=10)
    expected = EXPECTED[name]
    if expected is None:
        assert "Skipped" in capsys.readouterr().out
        return
    assert dict(kinds) == expected
    _check_content(viz, name, env)


def _check_content(viz: Visdom, name: str, env: str) -> None:
    """A few windows' content, as the demo function meant it."""
    state = {w: viz.panel.get(w, env=env) for w in viz.panel.windows(env)} if name in CONTENT else {}
    if state:
        CONTENT[name](list(state.values()))


def _one(states: list[dict], kind: str) -> dict:
    return next(s for s in states if s["kind"] == kind)


CONTENT = {
    "text_update": lambda s: _eq(s[0]["text"], "Hello World! More text should be here<br>And here it is"),
    "image_grid": lambda s: _eq(len(s[0]["steps"][-1]["images"]), 20),
    "image_svg": lambda s: _eq(s[0]["format"], "svg"),
    "plot_line_update": lambda s: _eq(sorted(t["name"] for t in s[0]["traces"]), ["1", "2", "4"]),
    "plot_line_update_webgl": lambda s: _eq(s[0]["traces"][0]["n"], 400_000),
    "plot_scatter_append": lambda s: _eq(sorted(t["name"] for t in s[0]["traces"]), ["1", "2"]),
    "plot_scatter_add_trace": lambda s: _eq(sorted(t["name"] for t in s[0]["traces"]), ["", "new_trace"]),
    "plot_bar_stacked": lambda s: _eq(s[0]["labels"], ["2012", "2013", "2014", "2015", "2016"]),
    "plot_bar_histogram": lambda s: _eq(len(s[0]["steps"][-1]["counts"]), 20),
    "plot_surface_append_withnames": lambda s: _eq(
        (len(s[0]["opts"]["yticklabels"]), len(s[0]["opts"]["xticklabels"]), list(s[0]["z"].shape)), (10, 19, [10, 19])
    ),
    "plot_surface_replace": lambda s: _eq(list(s[0]["z"].shape), [19, 24]),
    "misc_audio_basic": lambda s: _eq(s[0]["format"], "wav"),
    "misc_getset_state": lambda s: _eq(s[0]["text"], "test two"),
    "misc_plot_latex_update": lambda s: _eq(len(s[0]["traces"]), 2),
}


def _eq(got, want) -> None:
    assert got == want


@pytest.mark.timeout(300)
def test_demo_script_runs_to_the_end(server, tmp_path):
    """demo.py as a user runs it: every demo in one env, then (with event handlers) it waits for Enter."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), http_proxy="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               MPLBACKEND="Agg")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "demo.py", "-port", str(server.port), "-server", "http://127.0.0.1"],
        cwd=EXAMPLES, env=env, input="\n", capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "experienced an exception" not in done.stdout, done.stdout[-3000:]
    viz = Visdom(server="http://127.0.0.1", port=server.port, spool_dir=tmp_path / "spool")
    try:
        kinds = Counter(viz.panel.get(w, env="main")["kind"] for w in viz.panel.windows("main"))
    finally:
        viz.panel.close(timeout=10)
    assert kinds["line"] >= 10 and kinds["scatter"] >= 6 and kinds["heatmap"] >= 4 and kinds["media"] >= 1, kinds
