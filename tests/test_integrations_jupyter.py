"""Jupyter: tests/notebooks/panel.ipynb executed headless (nbclient, a real ipykernel) against a real server."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

import livepanel
from livepanel.integrations import jupyter

NOTEBOOK = Path(__file__).parent / "notebooks" / "panel.ipynb"


def html_outputs(cell) -> list[str]:
    return [o["data"]["text/html"] for o in cell["outputs"] if "text/html" in o.get("data", {})]


def test_notebook_shows_the_panel(server, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    monkeypatch.setenv("LIVEPANEL_URL", server.url)  # the kernel inherits the environment
    monkeypatch.setenv("LIVEPANEL_SPOOL", str(tmp_path / "spool"))
    monkeypatch.delenv("LIVEPANEL_TOKEN", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    resources = {"metadata": {"path": str(tmp_path)}}
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", resources=resources)
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(o.get("output_type") != "error" for c in code for o in c["outputs"])

    env_q = "notebook/%3Cdemo%3E"  # the env name is URL-quoted in links, escaped in text
    (frame,) = html_outputs(code[1])
    assert f'<iframe src="{server.url}/?env={env_q}"' in frame
    assert "<code>notebook/&lt;demo&gt;</code>" in frame and "<demo>" not in frame
    (one,) = html_outputs(code[2])
    assert f'src="{server.url}/?env={env_q}&amp;win=loss"' in one  # the app's one-window view
    assert 'height="400"' in one and "window <code>loss</code>" in one
    (card,) = html_outputs(code[4])
    assert "2 windows" not in card and "3 windows" in card
    assert "<code>&lt;b&gt;notes&lt;/b&gt;</code>" in card and "<b>notes</b>" not in card
    assert "<code>loss</code>" in card and "<code>figure</code>" in card

    with livepanel.Panel(server.url, env="notebook/<demo>", spool_dir=tmp_path / "spool") as panel:
        assert len(panel.get("loss")["traces"][0]["y"]) == 50
        assert panel.get("figure")["steps"][0]["images"][0]["width"] == 300  # 3 in at the inline 100 dpi


def test_html_escapes_every_user_string(server, tmp_path):
    evil = '"><img src=x onerror=alert(1)>'
    with livepanel.Panel(server.url, env="a" + evil, spool_dir=tmp_path) as panel:
        panel.text("x", win=evil)
        for out in (jupyter.show_html(panel, win=evil), panel._repr_html_()):
            assert "<img" not in out and "onerror=alert(1)>" not in out
            assert html.escape(evil) in out
    with pytest.raises(ValueError, match="height"):
        jupyter.show_html(panel, height=5)


def test_repr_when_the_server_is_down(tmp_path):
    from serverproc import free_port

    panel = livepanel.Panel(f"http://127.0.0.1:{free_port()}", env="down", spool_dir=tmp_path, exit_timeout=0.1)
    try:
        assert "server not reachable" in panel._repr_html_()
    finally:
        panel.close(timeout=0.1)
