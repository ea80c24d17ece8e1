"""`panel.audio` and `panel.video`: a sound or a clip per step (docs/client.md, "Audio and video").

A mixin of `Panel`. The call checks everything that could make the data unstorable (shape, dtype, NaN,
sample rate, fps, size) and copies the data, so it raises at once and nothing is half-stored; encoding
(the WAV and its peaks; H.264 with PyAV, the slow part) runs on the sender thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from livepanel import audio, video
from livepanel.client import checks, convert
from livepanel.client.kinds import WindowKinds


def _host(x: Any, what: str) -> np.ndarray:
    """A host copy of the input (numpy, torch, lists): the checks need the values now."""
    return np.asarray(convert.finish_array(convert.snapshot(x, what)))


class MediaKinds:
    """Audio and video calls (mixed into Panel)."""

    def _env(self, env: Any) -> str:
        raise NotImplementedError

    def _win(self, win: Any, default: str) -> str:
        raise NotImplementedError

    def _push(self, op: dict, finish: Any = None, key: tuple | None = None) -> None:
        raise NotImplementedError

    def audio(
        self,
        waveform: Any,
        sample_rate: int,
        win: str | None = None,
        env: str | None = None,
        opts: dict | None = None,
        step: int | None = None,
    ) -> str:
        """A sound at a step: N samples (mono), N x 2 or 2 x N (stereo); float in -1..1, int16 or int32.

        Stored losslessly as WAV (float as 32-bit float); the page plays it and draws its waveform."""
        env, win, opts, s = self._env(env), self._win(win, "audio"), checks.opts(opts), checks.step(step)
        rate = audio.check_rate(sample_rate)
        x = audio.samples(_host(waveform, "audio waveform"))

        def finish(op: dict) -> None:
            samples = op.pop("samples")
            op["data"], op["peaks"] = audio.wav(samples, rate), audio.peaks(samples)

        op: dict[str, Any] = {"op": "audio", "env": env, "win": win, "format": "wav", "samples": x}
        if s is not None:
            op["step"] = s
        self._push(WindowKinds._with_opts(op, opts), finish)
        return win

    def video(
        self,
        frames: Any,
        fps: float = 25,
        win: str | None = None,
        env: str | None = None,
        opts: dict | None = None,
        step: int | None = None,
    ) -> str:
        """A clip at a step: T x H x W x C or T x C x H x W (C = 1 or 3; or T x H x W), uint8 or float 0..1.

        Encoded as H.264 in MP4 on the sender thread (needs PyAV: pip install 'livepanel[video]')."""
        env, win, opts, s = self._env(env), self._win(win, "video"), checks.opts(opts), checks.step(step)
        video.require_av()
        rate = video.check_fps(fps)
        x = video.frames(_host(frames, "video frames"))

        def finish(op: dict) -> None:
            op.update(video.encode(op.pop("frames"), rate))

        op: dict[str, Any] = {"op": "video", "env": env, "win": win, "frames": x}
        if s is not None:
            op["step"] = s
        self._push(WindowKinds._with_opts(op, opts), finish)
        return win
