"""Media windows in the page: audio and video with the browser's controls, loaded from the server; an SVG
drawing shown only sanitized (no script, foreignObject, event handler, animation or outside reference)."""

from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np

from livepanel.visdom import Visdom

OTHER = "http://127.0.0.2:9"  # a closed loopback port: nothing may even try it
EVIL_SVG = f"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
  height="120" width="200" onload="window.__pwned=1">
  <script>window.__pwned=2</script>
  <ellipse id="e1" cx="80" cy="60" rx="50" ry="30" style="fill:red;stroke:purple;stroke-width:2" onclick="x()"/>
  <rect id="r1" x="1" y="1" width="10" height="10" fill="url({OTHER}/pat#p)"/>
  <foreignObject width="50" height="50"><form action="{OTHER}/fo"><input name="q"/></form></foreignObject>
  <image id="img" href="{OTHER}/a.png" width="5" height="5"/>
  <use id="u1" xlink:href="{OTHER}/defs.svg#x"/>
  <defs><linearGradient id="g"><stop offset="0" stop-color="blue"/></linearGradient></defs>
  <circle id="c1" cx="150" cy="60" r="10" fill="url(#g)"/>
  <a href="javascript:alert(1)"><text id="t1" x="5" y="100">text stays</text></a>
  <set attributeName="href" to="javascript:alert(1)"/>
  <animate attributeName="onload" to="alert(1)"/>
</svg>"""


def test_audio_video_and_svg_windows(server, pages, tmp_path, artifacts):
    viz = Visdom(server="http://127.0.0.1", port=server.port, env="media", spool_dir=tmp_path / "spool")
    page = pages.open(server.url + "/")
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    try:
        viz.audio(tensor=np.sin(np.linspace(0, 400, 8000)), opts={"sample_frequency": 8000}, win="sound")
        video = tmp_path / "clip.webm"
        video.write_bytes(b"\x1aE\xdf\xa3" + bytes(64))
        viz.video(videofile=str(video), win="movie")
        viz.svg(svgstr=EVIL_SVG, win="drawing", opts={"title": "Example of SVG Rendering"})
        assert viz.flush()
    finally:
        viz.panel.close(timeout=5)
    page.evaluate("(envs) => window.__livepanel.select(envs)", ["media"])
    page.wait_for_function("() => document.querySelector('.lp-svg svg ellipse') !== null", timeout=10000)

    audio = page.locator('section.lp-win[data-win="sound"] audio')
    assert audio.count() == 1 and audio.get_attribute("controls") is not None
    assert urlsplit(audio.evaluate("(a) => a.src")).path == "/api/v1/media"
    # the browser decodes the served WAV: 8000 samples at 8000 Hz last one second
    page.wait_for_function(
        "() => { const a = document.querySelector('section.lp-win[data-win=\"sound\"] audio');"
        " return a && a.readyState >= 1 && Math.abs(a.duration - 1) < 0.01; }",
        timeout=10000,
    )
    movie = page.locator('section.lp-win[data-win="movie"] video')
    assert movie.count() == 1 and movie.get_attribute("controls") is not None

    svg = page.locator('section.lp-win[data-win="drawing"] .lp-svg')
    bad = svg.evaluate(
        "(el) => [...el.querySelectorAll('script, foreignObject, image, set, animate, form, input, a[href]')]"
        ".map((e) => e.outerHTML)"
    )
    assert bad == [], bad
    handlers = svg.evaluate(
        "(el) => [...el.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => a.name))"
        ".filter((n) => n.startsWith('on') || n === 'style')"
    )
    assert handlers == [], handlers
    assert page.evaluate("window.__pwned") is None
    ellipse = svg.locator("ellipse")
    assert ellipse.get_attribute("fill") == "red" and ellipse.get_attribute("stroke") == "purple"
    assert svg.locator("#r1").get_attribute("fill") is None  # an outside url() is removed
    refs = svg.evaluate(
        "(el) => [...el.querySelectorAll('*')].flatMap((e) => [...e.attributes]"
        ".filter((a) => /href|src/i.test(a.name)).map((a) => a.value))"
    )
    assert all(r.startswith("#") for r in refs), refs
    assert svg.locator("#c1").get_attribute("fill") == "url(#g)"  # a reference inside the drawing stays
    assert svg.locator("#t1").inner_html() == "text stays"
    box = ellipse.bounding_box()
    assert box is not None and box["width"] > 50  # drawn, not just present
    foreign = [u for u in requests if urlsplit(u).netloc not in ("", urlsplit(server.url).netloc)]
    assert foreign == [], foreign
    page.screenshot(path=str(artifacts / "media-windows.png"), full_page=True)
    # exports: the drawing as PNG, the sound as the file sent
    with page.expect_download() as dl:
        page.locator('section[data-win="drawing"] .lp-export', has_text="PNG").click()
    png = tmp_path / "drawing.png"
    dl.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as dl:
        page.locator('section[data-win="sound"] .lp-export', has_text="FILE").click()
    wav = tmp_path / "sound.wav"
    dl.value.save_as(wav)
    assert wav.read_bytes()[:4] == b"RIFF" and dl.value.suggested_filename.endswith(".wav")
