"""Embedding windows in Chromium: the points draw (WebGL, static/fast3d.js), a hover shows the point's label,
metadata and thumbnail, the label search highlights matches, the step slider shows an older step, a click
lists the nearest neighbours, a drag rotates the 3-D view, and the t-SNE chooser shows progress, then the
t-SNE points. Screenshots go to test-artifacts/browser/."""

from __future__ import annotations

import numpy as np
from browser_helpers import next_frames

import livepanel

NAMES = ("cat", "dog", "fish")


def clusters(n: int, d: int, spread: float, seed: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = rng.standard_normal((3, d)) * 4
    x = centres[y] * spread + rng.standard_normal((n, d))
    return x.astype(np.float32), [NAMES[k] for k in y]


def view(page, win: str):
    return page.locator(f'section[data-win="{win}"] .lp-embed')


def wait_state(page, win: str, cond: str, timeout: float = 30000) -> None:
    page.wait_for_function(
        f"""() => {{ const v = document.querySelector('section[data-win="{win}"] .lp-embed');
        return !!v && ({cond}); }}""",
        timeout=timeout,
    )


def point_at(page, win: str, i: int) -> tuple[float, float]:
    """Page coordinates of point i as the renderer draws it."""
    x, y = page.evaluate(
        f"""(i) => document.querySelector('section[data-win="{win}"] .lp-embed-host').lpScene.at(i)""", i
    )
    box = page.locator(f'section[data-win="{win}"] .lp-embed-host canvas').bounding_box()
    return box["x"] + x, box["y"] + y


def test_embedding_draws_hovers_searches_and_steps(server, pages, artifacts):
    panel = livepanel.Panel(server.url, env="emb")
    try:
        rng = np.random.default_rng(0)
        for step, spread in ((0, 0.0), (1, 1.0)):
            x, labels = clusters(300, 8, spread, seed=1)
            imgs = (rng.random((300, 8, 8)) * 255).astype(np.uint8)
            panel.embedding(x, labels=labels, metadata={"size": np.arange(300.0)}, images=imgs, win="emb", step=step)
        # past 20,000 points the renderer keeps them in a random order on the GPU: labels sorted by index
        x, _ = clusters(21_000, 4, 1.0, seed=3)
        panel.embedding(x, labels=[NAMES[i // 7000] for i in range(21_000)], win="sorted")
        assert panel.flush()
    finally:
        panel.close()
    page = pages.open(server.url + "/?env=emb", width=1200, height=900)
    wait_state(page, "emb", "v.dataset.state === 'drawn' && v.dataset.step === '1' && v.dataset.key === 'pca'")
    assert view(page, "emb").locator("canvas.lp-embed-gl").count() == 1
    page.screenshot(path=str(artifacts / "embedding.png"))
    assert view(page, "emb").locator(".lp-embed-legend").inner_text().split() == list(NAMES)  # colour keys
    # hover: the tooltip names the point's label, its metadata and shows its thumbnail
    px, py = point_at(page, "emb", 7)
    page.mouse.move(px, py)
    wait_state(page, "emb", "v.dataset.hover !== '' && v.dataset.hover !== undefined")
    hovered = int(view(page, "emb").get_attribute("data-hover"))
    tip = view(page, "emb").locator(".lp-embed-tip")
    assert tip.is_visible()
    assert tip.locator(".lp-embed-label").inner_text() == NAMES[hovered % 3]
    assert f"size: {hovered}" in tip.inner_text()
    tip.locator("img").wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector('.lp-embed-tip img'); return i && i.complete && i.naturalWidth > 0; }"
    )
    # the large window: a hovered point's tooltip names its own label (its colours are in the GPU's order)
    wait_state(page, "sorted", "v.dataset.state === 'drawn'")
    px, py = point_at(page, "sorted", 10_500)
    page.mouse.move(px, py)
    wait_state(page, "sorted", "!!v.dataset.hover")
    hovered = int(view(page, "sorted").get_attribute("data-hover"))
    assert view(page, "sorted").locator(".lp-embed-label").inner_text() == NAMES[hovered // 7000]
    page.mouse.move(0, 0)
    # search: matches counted and highlighted
    view(page, "emb").page.locator('section[data-win="emb"] .lp-embed-search').fill("fis")
    wait_state(page, "emb", "v.dataset.matches === '100'")
    assert "100 matches" in view(page, "emb").locator(".lp-embed-status").inner_text()
    page.locator('section[data-win="emb"] .lp-embed-search').fill("")
    wait_state(page, "emb", "v.dataset.matches === '0'")
    # click: the nearest neighbours (cosine, original space) are listed and highlighted
    px, py = point_at(page, "emb", 4)
    page.mouse.click(px, py)
    wait_state(page, "emb", "(v.dataset.neighbours ?? '').split(',').length === 10")
    chosen = int(view(page, "emb").get_attribute("data-selected"))
    items = view(page, "emb").locator(".lp-embed-nn li").all_inner_texts()
    assert len(items) == 10
    assert sum(t.startswith(NAMES[chosen % 3]) for t in items) >= 8  # its own cluster at step 1
    # a drag turns the 3-D view: the picture changes
    before = view(page, "emb").locator("canvas").screenshot()
    box = view(page, "emb").locator("canvas").bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    for k in range(1, 8):
        page.mouse.move(box["x"] + 10 + 15 * k, box["y"] + 10)
    page.mouse.up()
    next_frames(page)
    assert view(page, "emb").locator("canvas").screenshot() != before
    # the slider shows step 0 (its points load on demand)
    slider = view(page, "emb").locator(".lp-step input")
    slider.evaluate("(s) => { s.value = '0'; s.dispatchEvent(new Event('input')); }")
    wait_state(page, "emb", "v.dataset.step === '0' && v.dataset.state === 'drawn'")
    assert "step 0" in view(page, "emb").locator(".lp-step").inner_text()


def test_tsne_from_the_projection_chooser_shows_progress_then_points(server, pages):
    panel = livepanel.Panel(server.url, env="tsne")
    try:
        x, labels = clusters(60, 6, 1.0, seed=2)
        panel.embedding(x, labels=labels, win="e")
        assert panel.flush()
    finally:
        panel.close()
    page = pages.open(server.url + "/?env=tsne")
    wait_state(page, "e", "v.dataset.state === 'drawn' && v.dataset.key === 'pca'")
    # every state the window shows is recorded: "running" (with its progress) comes before "done"
    view(page, "e").evaluate(
        """(v) => { window.__seen = [];
        const status = v.querySelector('.lp-embed-status');
        new MutationObserver(() => window.__seen.push(v.dataset.progress + ' ' + status.textContent))
            .observe(v, {attributes: true, subtree: true, childList: true, characterData: true}); }"""
    )
    page.locator('section[data-win="e"] .lp-tools button', has_text="3-D").click()  # 2-D
    page.locator('section[data-win="e"] select[aria-label="projection"]').select_option("tsne")
    wait_state(page, "e", "v.dataset.key === 'tsne-2d' && v.dataset.progress === 'done'", timeout=60000)
    seen = page.evaluate("() => window.__seen")
    assert any(s.startswith("running") and "t-SNE: computing" in s for s in seen), seen
