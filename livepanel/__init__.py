"""livepanel: a realtime plotting server for people who train models.

`import livepanel` stays light: the client is imported on first use of `Panel`,
and nothing here imports Tornado.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from livepanel.client import Panel

__all__ = ["Panel", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Panel":
        from livepanel.client import Panel

        return Panel
    raise AttributeError(f"module 'livepanel' has no attribute {name!r}")
