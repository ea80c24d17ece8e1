"""Who may talk to the server: the token, and the Host check that stops DNS rebinding."""

from __future__ import annotations

import hmac

from tornado.web import RequestHandler

from livepanel.config import Config, is_loopback

COOKIE = "livepanel_token"


class Guard:
    """The access policy of one server (DESIGN §5)."""

    def __init__(self, config: Config):
        self.token = None if config.no_auth else config.token
        self.hosts = {"localhost", "127.0.0.1", "::1", config.host.lower()}

    def token_from(self, handler: RequestHandler) -> str | None:
        auth = handler.request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:].strip()
        return (
            handler.request.headers.get("X-Livepanel-Token")
            or handler.get_query_argument("token", None)
            or handler.get_cookie(COOKIE)
        )

    def refuse(self, handler: RequestHandler) -> tuple[int, str] | None:
        """None when the request may proceed, else (status, reason)."""
        if self.token is not None:
            given = self.token_from(handler)
            if not given:
                return (
                    401,
                    "this server needs a token: send 'Authorization: Bearer TOKEN' or open the page with ?token=",
                )
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return 401, "wrong token"
            return None
        host = _hostname(handler.request.host or "")
        if not (is_loopback(host) or host in self.hosts):
            return 403, f"host {host!r} is not served: without a token only loopback hosts are answered"
        return None


def _hostname(host: str) -> str:
    """Host header without the port ('[::1]:8097' -> '::1')."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
