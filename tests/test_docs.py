"""The docs say what the code does: the settings table in docs/server.md is the one in config.py."""

from __future__ import annotations

from pathlib import Path

from livepanel.config import markdown_table

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_settings_table_is_current():
    assert markdown_table() in (DOCS / "server.md").read_text(), (
        "docs/server.md is out of date: paste livepanel.config.markdown_table() into its Settings section"
    )
