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
        if not self.serves(host):
            return (
                403,
                f"host {host!r} is not served: without a token only localhost, loopback addresses and "
                "names given with --allow-host are answered",
            )
        return None


def _hostname(host: str) -> str:
    """Host header without the port ('[::1]:8097' -> '::1')."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
