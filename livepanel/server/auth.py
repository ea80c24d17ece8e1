"""Who may talk to the server, and what a web page may make it do (docs/server.md, "Security").

The token; the Host check that stops DNS rebinding; and the refusal of writes that a page of another
origin could send (CSRF).
"""

from __future__ import annotations

import hmac
import urllib.parse

from tornado.httputil import HTTPServerRequest
from tornado.web import RequestHandler

from livepanel.config import Config, is_loopback

COOKIE = "livepanel_token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")  # all other methods write


class Guard:
    """The access policy of one server (DESIGN §5)."""

    def __init__(self, config: Config):
        self.token = None if config.no_auth else config.token
        bound = _hostname(config.host)
        # Names answered without a token besides loopback IP literals; never a wildcard address.
        self.hosts = frozenset(
            {"localhost", *config.allow_host} | ({bound} if bound not in ("", "0.0.0.0", "::") else set())
        )
        self._served = {"127.0.0.1", "::1", *self.hosts}  # names known to be served (is_loopback costs µs)

    def serves(self, host: str) -> bool:
        """Whether a Host (without port) is answered without a token."""
        if host in self._served:
            return True
        if not is_loopback(host):
            return False
        if len(self._served) < 256:  # bounded: 127.0.0.0/8 has many names
            self._served.add(host)
        return True

    def token_from(self, handler: RequestHandler, cookie: bool = True) -> str | None:
        """The token a request carries: a header, ?token=, or the cookie (not for writes)."""
        headers = handler.request.headers
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:].strip()
        given = headers.get("X-Livepanel-Token") or handler.get_query_argument("token", None)
        if not given and cookie:
            given = handler.get_cookie(COOKIE)
        return given or None

    def refuse(self, handler: RequestHandler) -> tuple[int, str] | None:
        """None when the request may proceed, else (status, reason)."""
        request = handler.request
        write = request.method not in SAFE_METHODS
        if self.token is not None:
            # The cookie is the browser's credential, and the page never writes over HTTP: a write needs a
            # header, which no page of another origin can add (the cookie would go with a forged request).
            given = self.token_from(handler, cookie=not write)
            if not given:
                if write and handler.get_cookie(COOKIE):
                    return (
                        401,
                        "a write needs the token in an 'Authorization: Bearer TOKEN' header; "
                        "the cookie is not accepted for writes",
                    )
                return (
                    401,
                    "this server needs a token: send 'Authorization: Bearer TOKEN' or open the page with ?token=",
                )
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return 401, "wrong token"
        else:
            host = _hostname(request.host or "")
            if not self.serves(host):
                return (
                    403,
                    f"host {host!r} is not served: without a token only localhost, loopback addresses and "
                    "names given with --allow-host are answered",
                )
        if write:
            why = cross_site(request)
            if why is not None:
                return 403, why
        return None


def cross_site(request: HTTPServerRequest) -> str | None:
    """Why a write looks sent by a page of another origin, or None. Clients send neither header."""
    site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if site in ("cross-site", "same-site"):
        return f"a write sent by a page of another site is refused (Sec-Fetch-Site: {site})"
    origin = request.headers.get("Origin")
    if origin is not None:
        try:
            netloc = urllib.parse.urlsplit(origin.strip()).netloc.lower()
        except ValueError:
            netloc = ""
        if not netloc or netloc != (request.host or "").lower():
            return f"a write sent by a page of another origin ({origin!r}) is refused"
    return None


def _hostname(host: str) -> str:
    """Host header without the port ('[::1]:8097' -> '::1')."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
