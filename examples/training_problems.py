"""Three short runs that show the problems a user must learn to see, one env each.

    livepanel serve                     # in another terminal: http://127.0.0.1:8097
    python examples/training_problems.py [--url URL] [--only overfitting]

- `problems/overfitting`: a wide MLP on 150 training digits. The training loss keeps falling while the
  validation loss turns up (window `loss`, traces `train` and `val`).
- `problems/vanishing-gradients`: a 6-layer sigmoid MLP with a large initialisation. The units saturate,
  and the gradient norms of the early layers collapse by orders of magnitude while the output layer's do
  not (window `grad_norm`, one trace per layer, from `livepanel.integrations.torch.watch`); the loss
  stays near ln(10).
- `problems/lr-too-high`: SGD with momentum at a learning rate 10 times too high: the loss comes down,
  swings, then climbs far above where it started (windows `loss` and `lr`).

The series are named by common habits (`loss/train`, `loss/val`, `grad_norm/<layer>`, `lr`), so the
diagnosis engine (docs/diagnosis.md) recognises them. Needs `pip install "livepanel[torch,examples]"`.
"""

from __future__ import annotations

import argparse
import math
import urllib.parse

import torch
from torch import nn
from train_digits import evaluate, load_data, make_model

import livepanel
from livepanel.integrations.torch import unwatch, watch


def overfitting(panel: livepanel.Panel, env: str, steps: int) -> str:
    """Memorise 150 digits: full-batch Adam, no regularisation, validation every 5 steps."""
    xtr, ytr, xva, yva = load_data()
    xtr, ytr = xtr[:150], ytr[:150]
    model = make_model(hidden=(256, 256))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(steps):
        loss = nn.functional.cross_entropy(model(xtr), ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        panel.log({"loss/train": loss.item(), "lr": 1e-3}, step=step, env=env)
        if step % 5 == 0:
            vloss, vacc, _ = evaluate(model, xva, yva)
            panel.log({"loss/val": vloss, "accuracy/val": vacc}, step=step, env=env)
    tloss, _, _ = evaluate(model, xtr, ytr)
    vloss, vacc, _ = evaluate(model, xva, yva)
    return f"train loss {tloss:.2g}, val loss {vloss:.3f} (val accuracy {vacc:.1%})"


def vanishing_gradients(panel: livepanel.Panel, env: str, steps: int) -> str:
    """A deep sigmoid net whose large initial weights saturate its units: early gradients collapse."""
    xtr, ytr, _, _ = load_data()
    model = make_model(hidden=(64,) * 6, act=nn.Sigmoid)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 4.0 / math.sqrt(m.in_features))
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    w = watch(panel, model, every=2, env=env, histograms=False)
    gen = torch.Generator().manual_seed(0)
    for step in range(steps):
        idx = torch.randint(0, len(xtr), (64,), generator=gen)
        loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        panel.log({"loss/train": loss.item(), "lr": 0.05}, step=step, env=env)
    unwatch(w)
    first, last = (m.weight.grad.norm().item() for m in (model.fc1, model.out))
    return f"last step: fc1 gradient norm {first:.1e}, output layer {last:.1e}, loss {loss.item():.2f}"


def lr_too_high(panel: livepanel.Panel, env: str, steps: int) -> str:
    """A tanh MLP with SGD + momentum at lr 0.5 (0.05 trains well): the loss swings, then blows up."""
    xtr, ytr, _, _ = load_data()
    model = make_model(act=nn.Tanh)
    lr = 0.5
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for step in range(steps):
        idx = torch.randint(0, len(xtr), (64,), generator=gen)
        loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        panel.log({"loss/train": losses[-1], "lr": lr}, step=step, env=env)
    low = min(range(len(losses)), key=losses.__getitem__)
    return f"lowest loss {losses[low]:.3g} at step {low}, then up to {max(losses[low:]):.3g}"


PROBLEMS = {
    "overfitting": (overfitting, 600, 300),  # (function, steps, steps with --quick)
    "vanishing-gradients": (vanishing_gradients, 400, 200),
    "lr-too-high": (lr_too_high, 400, 250),
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=None, help="server URL (default: $LIVEPANEL_URL or http://127.0.0.1:8097)")
    ap.add_argument("--prefix", default="problems", help="env prefix: envs are PREFIX/PROBLEM")
    ap.add_argument("--only", choices=sorted(PROBLEMS), action="append", help="run only this problem (repeatable)")
    ap.add_argument("--quick", action="store_true", help="shorter runs (for the tests)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    envs = []
    with livepanel.Panel(args.url, env=args.prefix) as panel:
        for name in args.only or PROBLEMS:
            fn, steps, quick_steps = PROBLEMS[name]
            env = f"{args.prefix}/{name}"
            panel.delete_env(env)
            torch.manual_seed(0)
            print(f"{env}: {fn(panel, env, quick_steps if args.quick else steps)}")
            envs.append(env)
        delivered = panel.flush(30)
    print(f"delivered: {delivered}; open {panel.url}/?{urllib.parse.urlencode([('env', e) for e in envs], safe='/')}")


if __name__ == "__main__":
    main()
