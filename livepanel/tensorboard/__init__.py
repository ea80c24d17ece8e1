"""TensorBoard event files in livepanel: `livepanel import-tb LOGDIR` and `livepanel serve --logdir LOGDIR`.

Needs the `tensorboard` extra (`pip install 'livepanel[tensorboard]'`: the event protobufs and a
native CRC32C). This module imports neither until used, so `livepanel serve` without --logdir and
`import livepanel` stay light. See docs/tensorboard.md.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from livepanel.config import Config
    from livepanel.tensorboard.tail import Tail

__all__ = ["import_logdir", "start_tail", "main"]
log = logging.getLogger("livepanel.tensorboard")
MISSING = "TensorBoard event files need the tensorboard extra: pip install 'livepanel[tensorboard]'"


def start_tail(config: Config, port: int, store: Any = None) -> Tail | None:
    """Start following config.logdir in a background thread, posting to this server on `port`.

    `store` (the server's own) lets the tail read committed seqs directly instead of asking over HTTP.
    Returns None (after logging why) when the extra is missing, so the server still serves.
    """
    try:
        from livepanel.tensorboard.tail import Tail
    except ImportError as exc:
        log.error("livepanel: cannot follow %s: %s (%s)", config.logdir, MISSING, exc)
        return None
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(config.host, config.host)
    host = f"[{host}]" if ":" in host else host
    clients = getattr(store, "clients", None)
    committed = (lambda client: clients.get(client, 0)) if isinstance(clients, dict) else None
    url = f"http://{host}:{port}{config.base_url}"
    return Tail(config.logdir, url, config.token, committed=committed).start()


def __getattr__(name: str) -> Any:
    if name in ("import_logdir", "main"):
        try:
            from livepanel.tensorboard import importer
        except ImportError as exc:
            raise ImportError(f"{MISSING} ({exc})") from exc
        return getattr(importer, name)
    raise AttributeError(f"module 'livepanel.tensorboard' has no attribute {name!r}")
