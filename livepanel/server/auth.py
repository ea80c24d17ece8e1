"""Who may talk to the server, and what a web page may make it do (docs/server.md, "Security").

The token; the Host check that stops DNS rebinding; the refusal of writes that a page of another origin
could send (CSRF); the security headers of every answer; and log lines that never show a token.
"""

from __future__ import annotations

import hmac
import logging
import re
import traceback
import urllib.parse
from types import TracebackType

from tornado.httputil import HTTPServerRequest
from tornado.web import HTTPError, RequestHandler

from livepanel.config import Config, is_loopback
from livepanel.protocol import MAX_QUOTE, quote

COOKIE = "livepanel_token"
MAX_MESSAGE = 600  # characters of any error message or log line about a request
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")  # all other methods write
NEEDS_TOKEN = (
    "this server needs a token: send 'Authorization: Bearer TOKEN' (clients) or open the page with ?token= (browsers)"
)
# Answers that are not the page: nothing in them may run, load or be framed.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_HOST = re.compile(r"(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")  # a Host header safe to put in a policy
# Inline styles the page allows by their hashes, so that it logs no refusal, and nothing else inline: the three
# fixed stylesheets MathJax 3.2.2's context menu adds as <style> when it loads (static/mathjax.js), and an empty
# style attribute ('unsafe-hashes' lets a hash match attributes), which Plotly sets on a colour bar's fills
INLINE_STYLES = "'unsafe-hashes' " + " ".join(
    f"'sha256-{h}='"
    for h in (
        "JLEjeN9e5dGsz5475WyRaoA4eQOdNPxDIeUhclnJDCE",
        "mQyxHEuwZJqpxCw3SLmc4YOySNKXunyu2Oiz1r3/wAE",
        "OCf+kv5Asiwp++8PIevKBYSgnNLNUZvxAp4a7wMLuKA",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",  # the empty string
    )
)
# A host a policy source may name: CSP has no IPv6 literal nor "_" (browsers drop such a source with an error)
_CSP_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?", re.I)

access_log = logging.getLogger("tornado.access")
app_log = logging.getLogger("tornado.application")
gen_log = logging.getLogger("tornado.general")


class Guard:
    """The access policy of one server (DESIGN §5)."""

    def __init__(self, config: Config):
        self.token = None if config.no_auth else config.token
        bound = _hostname(config.host)
        # Names answered without a token besides loopback IP literals; never a wildcard address.
        self.hosts = frozenset(
            {"localhost", *config.allow_host} | ({bound} if bound not in ("", "0.0.0.0", "::") else set())
        )
        # Pages that may show the app in a frame (a notebook's output, served from another origin).
        names = ["localhost", "127.0.0.1", *sorted(h for h in self.hosts - {"localhost"} if _CSP_HOST.fullmatch(h))]
        self.ancestors = [
            "'self'",
            *(f"{scheme}://{name}:*" for name in dict.fromkeys(names) for scheme in ("http", "https")),
        ]
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

    def matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.token.encode()) if self.token is not None else False

    def token_from(self, handler: RequestHandler, query: bool = False, cookie: bool = True) -> str | None:
        """The token a request carries: a header; the cookie (not for writes); ?token= (only the page's)."""
        headers = handler.request.headers
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:].strip()
        given = headers.get("X-Livepanel-Token")
        if not given and query:
            given = handler.get_query_argument("token", None)
        if not given and cookie:
            given = handler.get_cookie(COOKIE)
        return given or None

    def refuse(self, handler: RequestHandler, page: bool = False) -> tuple[int, str] | None:
        """None when the request may proceed, else (status, reason). `page`: the route that takes ?token=."""
        request = handler.request
        write = request.method not in SAFE_METHODS
        if self.token is not None:
            # The cookie is the browser's credential, and the page never writes over HTTP: a write needs a
            # header, which no page of another origin can add (the cookie would go with a forged request).
            given = self.token_from(handler, query=page, cookie=not write)
            if not given:
                if write and handler.get_cookie(COOKIE):
                    return (
                        401,
                        "a write needs the token in an 'Authorization: Bearer TOKEN' header; "
                        "the cookie is not accepted for writes",
                    )
                if not page and "token" in request.query_arguments:
                    return 401, "?token= is accepted on the page URL only: send 'Authorization: Bearer TOKEN'"
                return 401, NEEDS_TOKEN
            if not self.matches(given):
                return 401, "wrong token"
        else:
            host = _hostname(request.host or "")
            if not self.serves(host):
                return (
                    403,
                    f"host {quote(host)} is not served: without a token only localhost, loopback addresses and "
                    "names given with --allow-host are answered",
                )
        if write:
            why = cross_site(request)
            if why is not None:
                return 403, why
        return None

    def page_policy(self, request: HTTPServerRequest) -> str:
        """The page's Content-Security-Policy: its own scripts only, connections to itself only, images from
        itself (or data:/blob: URLs it makes), its own stylesheet, framed by loopback pages and ours."""
        host = (request.host or "").lower()
        ancestors, sockets = self.ancestors, ""
        own = _hostname(host)
        if _HOST.fullmatch(host) and _CSP_HOST.fullmatch(own):  # else 'self' alone covers it
            sockets = f" ws://{host} wss://{host}"
            ancestors = [*ancestors, *(s for s in (f"http://{own}:*", f"https://{own}:*") if s not in ancestors)]
        return (
            f"default-src 'self'; script-src 'self'; style-src 'self' {INLINE_STYLES}; img-src 'self' data: blob:; "
            f"connect-src 'self'{sockets}; object-src 'none'; base-uri 'none'; form-action 'self'; "
            f"frame-ancestors {' '.join(ancestors)}"
        )


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
            return f"a write sent by a page of another origin ({quote(origin)}) is refused"
    return None


def secure(handler: RequestHandler, guard: Guard | None, page: bool) -> None:
    """The security headers of every answer. The page allows being framed by the pages its policy names
    (a notebook's output), so it has no X-Frame-Options (which cannot name them; CSP wins anyway)."""
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Referrer-Policy", "no-referrer")
    if page and guard is not None:
        handler.set_header("Content-Security-Policy", guard.page_policy(handler.request))
        handler.clear_header("X-Frame-Options")
    else:
        handler.set_header("Content-Security-Policy", API_POLICY)
        handler.set_header("X-Frame-Options", "DENY")


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    """Text cut to `limit` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def safe_uri(request: HTTPServerRequest) -> str:
    """The request's path and query for a log line: a token's value never, and at most MAX_QUOTE characters."""
    path, sep, query = request.uri.partition("?")
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        if any(k == "token" for k, _ in pairs):
            query = urllib.parse.urlencode([(k, "REDACTED" if k == "token" else v) for k, v in pairs])
    return clip(path + sep + query, MAX_QUOTE)


def summary(request: HTTPServerRequest) -> str:
    return f"{request.method} {safe_uri(request)} ({request.remote_ip})"


def log_request(handler: RequestHandler) -> None:
    """The access log (the application's `log_function`): Tornado's line, with the URI made safe."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    if access_log.isEnabledFor(level):
        access_log.log(level, "%d %s %.2fms", status, summary(handler.request), 1000.0 * handler.request.request_time())


def log_exception(
    request: HTTPServerRequest, typ: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
) -> None:
    """RequestHandler.log_exception without the raw URI (a token) or a whole sent value (10 MiB)."""
    if isinstance(value, HTTPError):
        if value.log_message:
            message = value.log_message % value.args if value.args else value.log_message
            gen_log.warning("%d %s: %s", value.status_code, summary(request), clip(message))
        return
    trace = "".join(traceback.format_tb(tb))
    name = typ.__name__ if typ is not None else "Exception"
    app_log.error("Uncaught exception %s\n%s%s: %s", summary(request), trace, name, clip(str(value)))


def _hostname(host: str) -> str:
    """Host header without the port ('[::1]:8097' -> '::1')."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
