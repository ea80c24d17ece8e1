"""Jupyter: `Panel.show()` embeds the live page in a notebook; `Panel._repr_html_` summarises a Panel.

The page is the server's own app (`/?env=NAME`) in an iframe, so a notebook shows exactly what a browser
tab shows, live; `show(win=...)` opens `/?env=NAME&win=WIN`, the app's view of that one window.
Every user string (URL, env and window names) is escaped. IPython is imported only by `show`.
"""

from __future__ import annotations

import html
import urllib.parse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livepanel.client import Panel

__all__ = ["page_url", "show_html", "show", "repr_html"]

MAX_LISTED = 30  # windows named in the summary


def page_url(panel: Panel, env: str | None = None, win: str | None = None, token: bool = False) -> str:
    """The browser URL of an env (and a window) on the panel's server."""
    params = [("env", env or panel.env)]
    if win is not None:
        params.append(("win", win))
    if token and panel._token:
        params.append(("token", panel._token))  # the server turns it into a cookie and drops it from the URL
    return f"{panel.url}/?{urllib.parse.urlencode(params, safe='/')}"


def show_html(
    panel: Panel, win: str | None = None, env: str | None = None, height: int = 600, token: bool = False
) -> str:
    """The HTML `show` displays: an iframe of the page and a link to open it in a tab."""
    if not isinstance(height, int) or isinstance(height, bool) or not 100 <= height <= 10_000:
        raise ValueError(f"height must be an integer number of pixels from 100 to 10000, got {height!r}")
    src = html.escape(page_url(panel, env, win, token), quote=True)
    link = html.escape(page_url(panel, env, win), quote=True)  # never the token in a visible link
    what = html.escape(env or panel.env)
    note = f", window <code>{html.escape(win)}</code>" if win is not None else ""
    return (
        f'<iframe src="{src}" width="100%" height="{height}" style="border:1px solid #ccc;border-radius:4px" '
        f'loading="lazy" title="livepanel: {what}"></iframe>'
        f'<div style="font-size:smaller">livepanel env <code>{what}</code>{note}: '
        f'<a href="{link}" target="_blank" rel="noopener">open in a new tab</a></div>'
    )


def show(panel: Panel, win: str | None = None, env: str | None = None, height: int = 600, token: bool = False) -> None:
    """Display the env (or the env holding `win`) inline in a notebook, live.

    `token=True` puts the panel's token into the frame's URL (needed when the server has one and the
    browser has no cookie yet); it is then stored in the notebook's output, so it is off by default.
    """
    try:
        from IPython.display import HTML, display
    except ImportError as exc:
        raise ImportError("Panel.show() needs IPython: pip install 'livepanel[notebook]'") from exc
    if not panel._closed:
        panel.flush(panel.timeout)  # what was logged before show() is on the page when it opens
    display(HTML(show_html(panel, win, env, height, token)))


def repr_html(panel: Panel) -> str:
    """A short card: server, env, link, the env's windows (read with a short timeout) and delivery stats."""
    from livepanel.client.transport import Transport

    e = html.escape
    url = page_url(panel)
    try:
        if not panel._closed:
            panel.flush(1.0)
        transport = Transport(panel.url, panel._token, 2.0)  # a repr must not hang on a server that is down
        try:
            envs = transport.call("GET", "/envs")["envs"]
        finally:
            transport.close()
        wins = next(([w["win"] for w in v["windows"]] for v in envs if v["name"] == panel.env), [])
        listed = ", ".join(f"<code>{e(w)}</code>" for w in wins[:MAX_LISTED])
        more = f" and {len(wins) - MAX_LISTED} more" if len(wins) > MAX_LISTED else ""
        status = f"{len(wins)} window{'s' if len(wins) != 1 else ''}{': ' if wins else ''}{listed}{more}"
    except Exception as exc:  # noqa: BLE001 - a repr must not raise; say why the server could not be read
        status = f"server not reachable ({e(type(exc).__name__)}: {e(str(exc)[:200])})"
    s = panel.stats
    state = "closed" if panel._closed else "open"
    return (
        f'<div style="font-family:sans-serif;font-size:13px;line-height:1.5">'
        f"<b>livepanel.Panel</b> ({state}) env <code>{e(panel.env)}</code> on "
        f'<a href="{e(url, quote=True)}" target="_blank" rel="noopener">{e(panel.url)}</a><br>'
        f"{status}<br>"
        f'<span style="color:#777">batches sent {int(s.get("batches", 0))}, retries {int(s.get("retries", 0))}, '
        f"rejected {int(s.get('rejected', 0))} &middot; <code>panel.show()</code> displays it here</span></div>"
    )
