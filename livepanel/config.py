"""Server settings: one table drives the CLI flags, their checks and their documentation."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _size(text: str) -> int:
    """Parse a byte size such as 64M, 1G, 4096."""
    text = str(text).strip().upper().removesuffix("B").removesuffix("I")
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    number = text[:-1] if factor > 1 else text
    try:
        value = int(float(number) * factor)
    except ValueError:
        raise ValueError(f"{text!r} is not a size (examples: 65536, 64M, 1G)") from None
    if value < 1024:
        raise ValueError(f"{value} bytes is too small; use at least 1K")
    return value


def _number(text: str, kind: type[int] | type[float]) -> Any:
    """int() or float(), with an error that says what was expected rather than Python's wording."""
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None


def _port(text: str) -> int:
    value = _number(text, int)
    if not 0 <= value <= 65535:
        raise ValueError(f"port {value} is not between 0 and 65535")
    return value


def _positive(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise ValueError(f"{value} must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = _number(text, float)
    if not 0 < value <= 86400:
        raise ValueError(f"{value} must be more than 0 and at most 86400 seconds")
    return value


def _hosts(text: str) -> list[str]:
    """Host names (or IP literals) separated by commas: lower-cased, without port or brackets."""
    hosts = []
    for item in str(text).split(","):
        name = item.strip().lower()
        bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
        if _is_ip(bare):
            hosts.append(bare)
        elif re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?", name) and ".." not in name:
            hosts.append(name)
        else:
            raise ValueError(f"{item.strip()[:100]!r} is not a host name or IP address (no scheme, port or path)")
    return hosts


def _base_url(text: str) -> str:
    text = "/" + str(text).strip("/")
    return "" if text == "/" else text


def _store(text: str) -> str:
    if text in ("sqlite", "memory"):
        return text
    if text.startswith(("postgresql://", "postgres://")):
        if not re.fullmatch(r"postgres(ql)?://[^/?#\s]*@?[^/?#\s]+(:\d+)?(/[^/?#\s]+)?(\?\S*)?", text):
            raise ValueError("a PostgreSQL store is a URL such as postgresql://user@host:5432/dbname")
        return text
    raise ValueError(f"store must be 'sqlite', 'memory' or a postgresql://user@host:port/db URL, not {text[:100]!r}")


def _hub(text: str) -> str:
    if not re.fullmatch(r"rediss?://[^/?#\s]*(/\d+)?(\?\S*)?", text):
        raise ValueError("a hub is a Redis URL such as redis://host:6379/0 (or rediss:// for TLS)")
    return text


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str
    flag: bool = False  # a switch without a value
    many: bool = False  # repeatable, each value parsed to a list; the setting is a tuple


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "address to bind; anything but loopback requires a token"),
    Setting(
        "allow_host",
        (),
        "another name to answer to without a token, besides localhost and loopback IPs; pages on it may "
        "embed the panel (repeatable or comma-separated)",
        _hosts,
        many=True,
    ),
    Setting("port", 8097, "port to listen on (0 picks a free one)", _port),
    Setting("data_dir", "~/.livepanel", "where the SQLite store keeps its data", str),
    Setting(
        "store",
        "sqlite",
        "sqlite (kept on disk), memory (kept nowhere), or postgresql://user@host:port/db (needs livepanel[cluster])",
        _store,
    ),
    Setting(
        "hub",
        None,
        "redis://host:port/db: run as one of several nodes on one --store postgresql://, sharing live changes "
        "through Redis (needs livepanel[cluster])",
        _hub,
    ),
    Setting("token", None, "access token (default: $LIVEPANEL_TOKEN, or generated when bound beyond loopback)"),
    Setting("no_auth", False, "serve without a token even when bound beyond loopback", bool, flag=True),
    Setting("base_url", "", "path prefix when served behind a reverse proxy, e.g. /livepanel", _base_url),
    Setting("max_payload", 64 << 20, "largest request body or websocket message, e.g. 64M", _size),
    Setting(
        "max_pending",
        256 << 20,
        "bytes of request bodies still arriving, all connections together; past it a new request gets 503",
        _size,
    ),
    Setting("body_timeout", 120.0, "seconds a request body may take to arrive; a slower one is cut off", _seconds),
    Setting("max_image_steps", 200, "image steps kept per window (oldest dropped first)", _positive),
    Setting("max_histogram_steps", 2000, "histogram steps kept per window", _positive),
    Setting("max_media_steps", 100, "audio and video steps kept per window (oldest dropped first)", _positive),
    Setting("max_media_bytes", 256 << 20, "bytes of audio and video files kept per window, e.g. 256M", _size),
    Setting("max_text", 1 << 20, "characters kept per text window, e.g. 1M (the oldest appends are dropped)", _size),
    Setting("viewer_queue", 32 << 20, "bytes queued for one slow viewer before it is resynchronised", _size),
    Setting("replay_buffer", 4096, "recent changes kept per env for viewers that reconnect", _positive),
    Setting("logdir", None, "TensorBoard log directory to import and follow live (needs livepanel[tensorboard])"),
    Setting("no_diagnose", False, "do not watch series for training problems (NaN, divergence, ...)", bool, flag=True),
)


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    allow_host: tuple[str, ...] = ()
    port: int = 8097
    data_dir: str = "~/.livepanel"
    store: str = "sqlite"
    hub: str | None = None
    token: str | None = None
    no_auth: bool = False
    base_url: str = ""
    max_payload: int = 64 << 20
    max_pending: int = 256 << 20
    body_timeout: float = 120.0
    max_image_steps: int = 200
    max_histogram_steps: int = 2000
    max_media_steps: int = 100
    max_media_bytes: int = 256 << 20
    max_text: int = 1 << 20
    viewer_queue: int = 32 << 20
    replay_buffer: int = 4096
    logdir: str | None = None
    no_diagnose: bool = False

    @property
    def data_path(self) -> Path:
        return Path(os.path.expanduser(self.data_dir))

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP literal (127.0.0.0/8, ::1). A name is not resolved: `127.evil.example`
    is a name like any other, and only DNS decides where it points (DNS rebinding)."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost":
        return True
    if not _is_ip(host):
        return False
    addr = ipaddress.ip_address(host)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(Config)], "SETTINGS and Config disagree"


def markdown_table() -> str:
    """The settings as the Markdown table in docs/server.md (a test keeps the two the same)."""
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        flag = "--" + s.name.replace("_", "-") + ("" if s.flag else " " + s.name.upper())
        default = "off" if s.flag else ("" if s.default in (None, ()) else str(s.default))
        rows.append(f"| `{flag}` | {default} | {s.help} |")
    return "\n".join(rows) + "\n"
