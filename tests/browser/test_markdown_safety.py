"""A text window's markdown stays inside its window: no style, forms, frames,
plugins or svg; no style/class attributes; nothing loaded from another host
(images from the server itself and data: images still show); links open in a
new tab without an opener or a referrer. Normal markdown still renders."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from browser_helpers import next_seq, png_bytes
from wire import send_ops

ENV = "md"
OTHER = "http://127.0.0.2:9"  # a closed loopback port: nothing may even try it
DATA_PNG = "data:image/png;base64," + base64.b64encode(png_bytes(4, 4, 3)).decode()

BLOCKS = [
    "# Notes",
    f"**bold** and *em* and `code` and a [link]({OTHER}/page).",
    "- one\n- two\n- [x] done\n- [ ] todo",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "```\nprint('hi')\n```",
    f"![served](api/v1/image?env={ENV}&win=pic&step=0) ![inline]({DATA_PNG})",
    # after other content, so an HTML parser keeps it in the body
    "<p>before the style</p><style>body{display:none} .lp-win{display:none}</style>",
    f'<form action="{OTHER}/x" method="post">password <input type="password" name="pw"><button>go</button></form>',
    f'<iframe src="{OTHER}/frame"></iframe>',
    f'<img id="ext" src="{OTHER}/x.png"> <img src=x onerror="window.__pwned=1">',
    f'<img srcset="{OTHER}/s.png 2x" src="{OTHER}/s1.png"> <img src="//127.0.0.2:9/proto.png">',
    f'<div id="styled" style="background:url({OTHER}/y); position:fixed; inset:0">styled</div>',
    f'<table background="{OTHER}/bg.png"><tr><td>cell</td></tr></table>',
    f'<svg><style>body{{display:none}}</style><image href="{OTHER}/svg.png"/></svg>',
    f'<svg><foreignObject><form action="{OTHER}/fo"><input name="fo"></form></foreignObject></svg>',
    "<textarea>t</textarea> <select><option>1</option></select>",
    f'<object data="{OTHER}/o"></object> <embed src="{OTHER}/e">',
    f'<link rel="stylesheet" href="{OTHER}/s.css"> <meta http-equiv="refresh" content="0;url={OTHER}/">',
    f'<base href="{OTHER}/">',
    f'<video poster="{OTHER}/p.png" src="{OTHER}/v.mp4"></video> <audio src="{OTHER}/a.mp3" autoplay></audio>',
    f'<picture><source srcset="{OTHER}/pic.png"><img src="{OTHER}/pic2.png"></picture>',
    '<p class="lp-alerts" id="classy">classy</p> <div popover id="pop">pop</div> <dialog open>dialog</dialog>',
]
TEXT = "\n\n".join(BLOCKS)

FORBIDDEN = (
    "style, form, input, button, textarea, select, option, iframe, frame, object, embed, link, meta, base, "
    "svg, foreignObject, math, video, audio, source, picture, dialog, [style], [class], [srcset], [background], "
    "[poster], [popover], [onerror]"
)


def elsewhere(url: str, server: str) -> bool:
    """Whether the browser asked a host other than the server (data: and blob: URLs ask no one)."""
    parts = urlsplit(url)
    return parts.scheme not in ("data", "blob") and parts.netloc != urlsplit(server).netloc


def test_markdown_keeps_to_its_window(server, pages, artifacts):
    ops = [
        {
            "op": "image",
            "env": ENV,
            "win": "pic",
            "step": 0,
            "images": [{"format": "png", "data": png_bytes(8, 8, 1), "width": 8, "height": 8}],
        },
        {"op": "text", "env": ENV, "win": "notes", "text": TEXT},
    ]
    page = pages.open(server.url + "/")
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))  # before the env exists: it may be shown at once
    status, answer = send_ops(server.url, ops, client="browser-markdown", seq=next_seq())
    assert status == 200, answer
    page.evaluate("(envs) => window.__livepanel.select(envs)", [ENV])
    # predicates are functions, not expressions: Playwright polls an expression with eval, which a CSP forbids
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lp-md strong')].some((e) => e.textContent === 'bold')", timeout=5000
    )
    # every image in the text window has loaded or failed
    page.wait_for_function("() => [...document.querySelectorAll('.lp-md img')].every((i) => i.complete)", timeout=5000)

    md = page.locator(".lp-md")
    found = page.eval_on_selector_all(f".lp-md :is({FORBIDDEN})", "els => els.map((e) => e.outerHTML)")
    assert found == [], found
    assert page.evaluate("document.body.querySelectorAll('style, link, meta, base').length") == 0
    assert page.evaluate("window.__pwned") is None
    assert md.locator("#classy").inner_text() == "classy"  # the element stays, its class does not
    assert md.locator("#styled").inner_text() == "styled"

    # the page is still shown, the window in its place
    assert page.locator("body").is_visible()
    assert page.evaluate("getComputedStyle(document.body).display") != "none"
    assert page.locator('section.lp-win[data-win="notes"]').is_visible()
    assert page.locator('section.lp-win[data-win="pic"]').is_visible()
    assert page.url.rstrip("/").startswith(server.url)

    # nothing was asked of any other host (requests seen by the browser and resource timings)
    timings = page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)")
    foreign = [u for u in requests + timings if elsewhere(u, server.url)]
    assert foreign == [], foreign
    srcs = page.eval_on_selector_all(".lp-md img[src]", "els => els.map((e) => e.getAttribute('src'))")
    assert not [s for s in srcs if "127.0.0.2" in s], srcs

    # normal markdown renders
    assert md.locator("h1").inner_text() == "Notes"
    assert md.locator("em").inner_text() == "em"
    assert md.locator("li").count() == 4
    assert "☑ done" in md.inner_text() and "☐ todo" in md.inner_text()
    assert md.locator("td").all_inner_texts() == ["1", "2", "cell"]
    assert "print('hi')" in md.locator("pre code").inner_text()
    assert "password" in md.inner_text()  # a removed form keeps its text
    # the server's own image and the data: image show
    shown = page.eval_on_selector_all(
        ".lp-md img[alt]", "els => els.map((e) => [e.getAttribute('alt'), e.complete && e.naturalWidth])"
    )
    assert sorted(shown) == [["inline", 4], ["served", 8]], shown
    assert any(urlsplit(u).path == "/api/v1/image" for u in requests), requests

    # links to other sites open in a new tab, without opener or referrer
    link = md.locator("a", has_text="link")
    assert link.get_attribute("href") == f"{OTHER}/page"
    assert link.get_attribute("target") == "_blank"
    assert set((link.get_attribute("rel") or "").split()) == {"noopener", "noreferrer"}
    page.screenshot(path=str(artifacts / "markdown-safety.png"), full_page=True)
