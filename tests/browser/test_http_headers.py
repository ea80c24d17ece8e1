"""The page under its Content-Security-Policy: everything works and nothing is refused; a notebook on
another loopback origin can embed it, a page on an origin the policy does not name cannot."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time

from browser_helpers import every_kind, next_seq
from wire import line_op, send_ops

RECORD = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def policy_messages(console: list[str]) -> list[str]:
    """Violations ("Content Security Policy") and sources the browser drops ("Content-Security-Policy directive")."""
    return [m for m in console if "content security policy" in m.lower().replace("-", " ")]


def send(url, ops):
    status, answer = send_ops(url, ops, client="browser-headers", seq=next_seq())
    assert status == 200, answer


def new_page(pages):
    ctx = pages.browser.new_context(viewport={"width": 1400, "height": 1000})
    pages.contexts.append(ctx)
    page = ctx.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    page.on("pageerror", lambda exc: pages.errors.append(f"pageerror: {exc}"))
    return page, console


def test_every_kind_works_under_the_policy_without_violations(server, pages):
    send(server.url, every_kind("csp"))
    page, console = new_page(pages)
    page.add_init_script(RECORD)
    page.goto(server.url + "/?env=csp")
    page.wait_for_function("() => window.__livepanel && window.__livepanel.status === 'open'", timeout=10000)
    page.wait_for_function("() => document.querySelectorAll('section.lp-win').length === 8", timeout=10000)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.lp-image img')).every((i) => i.complete && i.naturalWidth === 8)",
        timeout=10000,
    )
    send(server.url, [line_op("csp", "loss", [300], [0.5], name="train")])  # live over the websocket
    page.wait_for_function("() => window.__livepanel.points('loss') >= 301", timeout=10000)
    # the read API from the page (zoom re-fetch uses it), and the app's stylesheet (uPlot's rules in it) applied
    assert page.evaluate("fetch('api/v1/envs?format=json').then((r) => r.status)") == 200
    assert page.evaluate("getComputedStyle(document.querySelector('.u-over')).position") == "absolute"
    assert page.evaluate("window.__csp") == []
    assert not policy_messages(console), console


@contextlib.contextmanager
def notebook(host: str, frame_src: str):
    """A page on another loopback origin (a Jupyter server's, say) that shows frame_src in an iframe."""
    html = f'<!doctype html><iframe src="{frame_src}" width="900" height="500"></iframe>'.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_a_notebook_on_another_loopback_origin_embeds_the_page(server, pages):
    send(server.url, [line_op("embed", "loss", [0, 1], [1.0, 0.5])])
    page, console = new_page(pages)
    with notebook("127.0.0.1", f"{server.url}/?env=embed") as port:
        page.goto(f"http://localhost:{port}/notebooks/demo.ipynb")  # as Jupyter on localhost:8888
        page.wait_for_function("() => document.querySelector('iframe') !== null", timeout=10000)
        frame = page.frames[1]
        frame.wait_for_function("() => !!window.__livepanel && window.__livepanel.status === 'open'", timeout=10000)
        frame.wait_for_function("() => window.__livepanel.points('loss') === 2", timeout=10000)
    assert not policy_messages(console), console


def test_a_page_of_an_origin_not_named_cannot_frame_it(server, pages):
    page, console = new_page(pages)
    with notebook("127.0.0.2", f"{server.url}/") as port:  # a loopback address, but not one the policy names
        page.goto(f"http://127.0.0.2:{port}/")
        deadline = time.monotonic() + 10
        while not any("frame-ancestors" in m for m in console):
            assert time.monotonic() < deadline, console
            page.wait_for_timeout(50)
        assert page.frames[1].evaluate("typeof window.__livepanel") == "undefined"
