"""panel.audio and panel.video in the page: the sound plays and its waveform is drawn, the clip plays and its
frame slider seeks to the frame asked for, and each window's step slider switches between steps' files."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from livepanel import Panel

pytest.importorskip("av")
AUDIO = 'section.lp-win[data-win="sound"]'
VIDEO = 'section.lp-win[data-win="clip"]'
FPS = 4


def _set_range(page, selector: str, value: int) -> None:
    page.eval_on_selector(selector, "(e, v) => { e.value = String(v); e.dispatchEvent(new Event('input')); }", value)


def _inked(page, selector: str) -> int:
    """Pixels of a canvas that differ from its top-left corner (the background)."""
    return page.eval_on_selector(
        selector,
        """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
          for (let i = 0; i < d.length; i += 4)
            if (Math.abs(d[i] - d[0]) + Math.abs(d[i + 1] - d[1]) + Math.abs(d[i + 2] - d[2]) > 60) n++;
          return n; }""",
    )


def test_audio_and_video_play_and_seek(server, pages, tmp_path, artifacts):
    with Panel(server.url, env="clips", spool_dir=tmp_path / "spool") as panel:
        t = np.arange(16000) / 8000
        panel.audio(0.8 * np.sin(2 * np.pi * 3 * t) * np.sin(2 * np.pi * 440 * t), 8000, win="sound", step=0)
        panel.audio((np.stack([np.sin(2 * np.pi * 220 * t)] * 2) * 20000).astype(np.int16), 8000, win="sound", step=1)
        levels = (np.arange(12) * 20).astype(np.uint8)
        panel.video(np.broadcast_to(levels[:, None, None, None], (12, 32, 48, 3)), fps=FPS, win="clip", step=0)
        panel.video(np.zeros((4, 32, 48, 3), np.uint8), fps=FPS, win="clip", step=1)
        assert panel.flush()
    page = pages.open(server.url + "/")
    page.evaluate("(envs) => window.__livepanel.select(envs)", ["clips"])
    shown = f"() => document.querySelector('{AUDIO} canvas.lp-wave') && document.querySelector('{VIDEO} video')"
    page.wait_for_function(shown, timeout=10000)

    # the waveform is drawn from the peaks (the latest step: stereo, two bands), and the sound plays
    assert _inked(page, f"{AUDIO} canvas.lp-wave") > 500
    audio = page.locator(f"{AUDIO} audio")
    assert parse_qs(urlsplit(audio.evaluate("(a) => a.src")).query)["step"] == ["1"]
    audio.evaluate("(a) => { a.muted = true; return a.play(); }")
    page.wait_for_function(f"() => document.querySelector('{AUDIO} audio').currentTime > 0.2", timeout=10000)
    audio.evaluate("(a) => a.pause()")
    # the step slider shows step 0's file and waveform
    _set_range(page, f"{AUDIO} .lp-step input[aria-label=step]", 0)
    page.wait_for_function(f"() => new URL(document.querySelector('{AUDIO} audio').src).searchParams.get('step') == 0")
    page.wait_for_function(f"() => document.querySelector('{AUDIO} audio').readyState >= 1")
    assert abs(audio.evaluate("(a) => a.duration") - 2.0) < 0.01
    assert _inked(page, f"{AUDIO} canvas.lp-wave") > 500

    # the clip: step 1 is shown first; step 0 has frame i at grey level 20 i
    _set_range(page, f"{VIDEO} .lp-step input[aria-label=step]", 0)
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('{VIDEO} video');"
        " return v && new URL(v.src).searchParams.get('step') === '0' && v.readyState >= 2; }",
        timeout=10000,
    )
    for frame in (7, 2, 10):
        _set_range(page, f"{VIDEO} input[aria-label=frame]", frame)
        page.wait_for_function(
            f"(t) => {{ const v = document.querySelector('{VIDEO} video');"
            " return !v.seeking && Math.abs(v.currentTime - t) < 0.01 && v.readyState >= 2; }",
            arg=(frame + 0.5) / FPS,
            timeout=10000,
        )
        grey = page.eval_on_selector(
            f"{VIDEO} video",
            """(v) => { const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
              const g = c.getContext('2d'); g.drawImage(v, 0, 0);
              const d = g.getImageData(0, 0, c.width, c.height).data;
              let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i + 1]; return s / (d.length / 4); }""",
        )
        assert abs(grey - 20 * frame) < 6, (frame, grey)
        assert page.locator(f"{VIDEO} .lp-frame span").inner_text() == f"frame {frame + 1} / 12"
    page.locator(f"{VIDEO} video").evaluate("(v) => v.play()")
    page.wait_for_function(f"() => document.querySelector('{VIDEO} video').currentTime > 2.9", timeout=10000)
    page.wait_for_function(f"() => Number(document.querySelector('{VIDEO} input[aria-label=frame]').value) >= 11")
    page.screenshot(path=str(artifacts / "audio-video.png"), full_page=True)

    for win in (AUDIO, VIDEO):  # the waveform, and the frame shown, as PNG
        with page.expect_download() as dl:
            page.locator(f"{win} .lp-export", has_text="PNG").click()
        png = tmp_path / "shown.png"
        dl.value.save_as(png)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as dl:
        page.locator(f"{AUDIO} .lp-export", has_text="FILE").click()
    assert dl.value.suggested_filename.endswith(".wav")
    wav = tmp_path / "sound.wav"
    dl.value.save_as(wav)
    assert wav.read_bytes()[:4] == b"RIFF"
