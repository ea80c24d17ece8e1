"""The README's first example: a line, a histogram, an image and a text window.

    livepanel serve                     # in another terminal: http://127.0.0.1:8097
    python examples/quickstart.py [--url URL] [--env quickstart]

Needs only livepanel itself (numpy comes with it).
"""

from __future__ import annotations

import argparse
import math
import urllib.parse

import numpy as np

import livepanel


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=None, help="server URL (default: $LIVEPANEL_URL or http://127.0.0.1:8097)")
    ap.add_argument("--env", default="quickstart")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)

    with livepanel.Panel(args.url, env=args.env) as panel:
        for step in range(200):  # a fake loss, one point per call: each call returns at once
            loss = 2.0 * math.exp(-step / 50) + 0.05 * rng.standard_normal()
            panel.line(step, loss, win="loss", name="train")
        panel.histogram(rng.normal(0.0, 1.0, 10_000), win="weights", opts={"title": "weights of layer 1"})
        yy, xx = np.mgrid[0:64, 0:64] / 63.0
        panel.image(np.stack([xx, yy, 1 - xx], axis=-1), win="image", caption="HWC floats in [0, 1]")
        panel.text("**Hello** from `examples/quickstart.py`: the loss goes down.", win="notes")
        delivered = panel.flush()
    print(f"delivered: {delivered}; open {panel.url}/?{urllib.parse.urlencode({'env': args.env}, safe='/')}")


if __name__ == "__main__":
    main()
