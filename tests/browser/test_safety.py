"""User strings never execute: env names, window titles, trace names, legends,
captions, labels and text windows holding script-injection payloads."""

from __future__ import annotations

import numpy as np
from browser_helpers import next_frames, next_seq, png_bytes
from wire import send_ops

PAYLOADS = [
    '<img src=x onerror="window.__pwned=1">',
    "<script>window.__pwned=2</script>",
    '"><svg onload="window.__pwned=3">',
    "<iframe srcdoc='<script>parent.__pwned=4</script>'>",
]
TEXT = "\n\n".join(
    PAYLOADS
    + [
        "[click](javascript:window.__pwned=5)",
        '<a href="javascript:window.__pwned=6" id="jslink">js link</a>',
        '<div onmouseover="window.__pwned=7" id="hover">hover me</div>',
        "<style>body{display:none}</style>",
        '<img src="data:image/svg+xml,<svg onload=window.__pwned=8>">',
    ]
)


def test_injection_strings_execute_nothing(server, pages, artifacts):
    env = "x/" + PAYLOADS[0]
    ops = []
    for i, p in enumerate(PAYLOADS):
        win = f"w{i} {p}"
        ops += [
            {"op": "line", "env": env, "win": win, "name": p, "x": [0.0, 1.0], "y": [1.0, 2.0]},
            {"op": "opts", "env": env, "win": win, "opts": {"title": p, "xlabel": p, "ylabel": p, "legend": [p]}},
        ]
    ops += [
        {"op": "text", "env": env, "win": "text " + PAYLOADS[1], "text": TEXT, "opts": {"title": PAYLOADS[2]}},
        {
            "op": "bar",
            "env": env,
            "win": "bar",
            "y": [1.0, 2.0],
            "labels": PAYLOADS[:2],
            "opts": {"legend": [PAYLOADS[3]]},
        },
        {
            "op": "heatmap",
            "env": env,
            "win": "heat",
            "z": [[1.0, 2.0], [3.0, 4.0]],
            "opts": {"xticklabels": PAYLOADS[:2], "yticklabels": PAYLOADS[2:], "colormap": PAYLOADS[0]},
        },
        {
            "op": "image",
            "env": env,
            "win": "img",
            "images": [{"format": "png", "data": png_bytes(), "width": 8, "height": 8, "caption": PAYLOADS[0]}],
        },
    ]
    for op in ops:
        for k in ("x", "y", "z"):
            if k in op:
                op[k] = np.asarray(op[k], dtype="<f8")
    status, answer = send_ops(server.url, ops, client="browser-safety", seq=next_seq())
    assert status == 200, answer
    # a second env with a payload name, compared side by side (labels env/trace)
    status, answer = send_ops(
        server.url,
        [
            {
                "op": "line",
                "env": PAYLOADS[1],
                "win": f"w0 {PAYLOADS[0]}",
                "name": PAYLOADS[3],
                "x": np.zeros(1),
                "y": np.ones(1),
            }
        ],
        client="browser-safety",
        seq=next_seq(),
    )
    assert status == 200, answer

    page = pages.open(server.url + "/")
    page.evaluate("(envs) => window.__livepanel.select(envs)", [env, PAYLOADS[1]])
    page.wait_for_function("() => document.querySelectorAll('section.lp-win').length === 8", timeout=5000)
    page.wait_for_function("() => document.querySelector('section[data-win=\"img\"] img')?.complete", timeout=5000)
    # interact with what a person would touch
    for target in page.locator(".lp-md #hover, .lp-md a").all():
        target.hover()
    page.mouse.move(400, 300)
    next_frames(page)  # what the moves set off has run
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.parent.__pwned") is None
    # the strings show as text
    titles = page.locator(".lp-title").all_inner_texts()
    assert PAYLOADS[0] in titles and PAYLOADS[1] in titles
    legend = page.locator(".lp-legend-label").all_inner_texts()  # compact: each run once, each trace name once
    assert {env, PAYLOADS[0], PAYLOADS[1], PAYLOADS[3]} <= set(legend)
    labels = page.evaluate("(win) => window.__livepanel.chart(win).labels", f"w0 {PAYLOADS[0]}")
    assert f"{env}/{PAYLOADS[0]}" in labels and f"{PAYLOADS[1]}/{PAYLOADS[3]}" in labels
    assert PAYLOADS[0] in page.locator(".lp-picker").inner_text()
    # nothing dangerous made it into the DOM
    assert page.locator(".lp-md script, .lp-md iframe, .lp-md style, [onerror], [onload], [onmouseover]").count() == 0
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map((e) => e.getAttribute('href'))")
    assert not [h for h in hrefs if h.lower().startswith("javascript:")]
    assert page.locator("body").is_visible()
    page.screenshot(path=str(artifacts / "injection.png"), full_page=True)
