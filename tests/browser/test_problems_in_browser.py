"""examples/training_problems.py seen in a browser: each run's alert shows as a badge on its window
and a marker at the onset step on its chart, as the server raised it."""

from __future__ import annotations

from wire import get

EXPECTED = {  # env -> (window, kind) the run is named after
    "problems/overfitting": ("loss", "overfitting"),
    "problems/vanishing-gradients": ("grad_norm", "vanishing_gradients"),
    "problems/lr-too-high": ("loss", "divergence"),
}


def test_each_problem_shows_its_badge_and_onset_marker(server, pages, artifacts, example):
    example("training_problems").main(["--url", server.url, "--quick"])
    for env, (win, kind) in EXPECTED.items():
        status, listing = get(server.url, "/api/v1/alerts", env=env)
        [alert] = [a for a in listing["alerts"] if a["kind"] == kind]
        page = pages.open(server.url + f"/?env={env}")
        badge = page.locator(f'section[data-win="{win}"] .lp-alert-badge')
        badge.wait_for(state="visible", timeout=10000)
        assert badge.get_attribute("data-kind") == kind
        assert alert["message"] in badge.get_attribute("title")
        page.wait_for_function("(w) => window.__livepanel.markers(w).some((m) => m.visible)", arg=win, timeout=10000)
        markers = page.evaluate("(w) => window.__livepanel.markers(w)", win)
        assert alert["step"] in [m["step"] for m in markers]
        page.screenshot(path=str(artifacts / f"problem-{env.split('/')[1]}.png"))
