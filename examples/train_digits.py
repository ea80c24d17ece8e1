"""Train a small classifier on scikit-learn's bundled 8x8 digits and watch it live in livepanel.

    livepanel serve                     # in another terminal: http://127.0.0.1:8097
    python examples/train_digits.py [--url URL] [--env digits/mlp] [--epochs 30]

Logs, in env `digits/mlp`: `loss` and `accuracy` (traces `train` every step, `val` every epoch), `lr`,
the model's graph (`model`, shaded live by the per-layer statistics), per-layer gradient norms
(`grad_norm`), weight norms, update ratios, weight/gradient histograms (`weights/*`, `grads/*`) and layer
outputs (`act_mean`, `dead_frac`, `activations/*`) through `livepanel.integrations.torch.watch`, the
embedding of the validation digits in the last hidden layer each epoch (`embedding`), a grid of
validation digits with their predicted labels, the confusion matrix, and a markdown summary at the end.
No download: the data ship with scikit-learn. Needs `pip install "livepanel[torch,examples]"`. The env is
emptied first, so a rerun starts clean.
"""

from __future__ import annotations

import argparse
import time
import urllib.parse
from collections import OrderedDict

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import livepanel
from livepanel.integrations.torch import unwatch, watch

Data = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def load_data(seed: int = 0) -> Data:
    """The 1797 digits, pixels scaled to [0, 1], split 80/20 (stratified)."""
    x, y = load_digits(return_X_y=True)
    xtr, xva, ytr, yva = train_test_split(x / 16.0, y, test_size=0.2, random_state=seed, stratify=y)
    f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return f(xtr), torch.tensor(ytr), f(xva), torch.tensor(yva)


def make_model(hidden: tuple[int, ...] = (128, 64), act: type[nn.Module] = nn.ReLU, seed: int = 0) -> nn.Module:
    """An MLP 64 -> hidden... -> 10 whose layers are named fc1, fc2, ..., out (trace names in livepanel)."""
    torch.manual_seed(seed)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    width = 64
    for i, h in enumerate(hidden, 1):
        layers[f"fc{i}"] = nn.Linear(width, h)
        layers[f"act{i}"] = act()
        width = h
    layers["out"] = nn.Linear(width, 10)
    return nn.Sequential(layers)


@torch.no_grad()
def hidden(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The last hidden layer's output (the input of `out`): what the embedding window shows."""
    return model[:-1](x)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """(mean cross-entropy, accuracy, predicted labels) without touching the training state."""
    was_training = model.training
    model.eval()
    logits = model(x)
    model.train(was_training)
    pred = logits.argmax(1)
    return nn.functional.cross_entropy(logits, y).item(), (pred == y).float().mean().item(), pred


def confusion(y: torch.Tensor, pred: torch.Tensor, k: int = 10) -> np.ndarray:
    """Counts of (true row, predicted column)."""
    return np.bincount(y.numpy() * k + pred.numpy(), minlength=k * k).reshape(k, k)


def epoch_batches(n: int, batch: int, gen: torch.Generator) -> list[torch.Tensor]:
    return list(torch.randperm(n, generator=gen).split(batch))


def run(panel: livepanel.Panel, epochs: int, lr: float, watch_every: int, seed: int = 0) -> dict[str, float]:
    """Train with Adam and a cosine schedule, logging everything; returns the final figures."""
    xtr, ytr, xva, yva = load_data(seed)
    model = make_model(seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = -(-len(xtr) // 64)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(seed)
    step, start = 0, time.perf_counter()
    vloss, vacc, _ = evaluate(model, xva, yva)  # the baseline, before any step
    panel.log({"loss/val": vloss, "accuracy/val": vacc, "lr": lr}, step=0)
    panel.graph(model, example_input=xtr[:1], win="model")
    watch(panel, model, every=watch_every, activations=True)
    labels = [str(i) for i in range(10)]
    for epoch in range(epochs):
        for idx in epoch_batches(len(xtr), 64, gen):
            logits = model(xtr[idx])
            loss = nn.functional.cross_entropy(logits, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            acc = (logits.argmax(1) == ytr[idx]).float().mean().item()
            panel.log({"loss/train": loss.item(), "accuracy/train": acc, "lr": sched.get_last_lr()[0]}, step=step)
            sched.step()
            step += 1
            if step == 1:
                panel.set_opts("loss", {"title": "loss (cross-entropy)", "xlabel": "step"})
                panel.set_opts("accuracy", {"title": "accuracy", "xlabel": "step"})
        vloss, vacc, pred = evaluate(model, xva, yva)
        panel.log({"loss/val": vloss, "accuracy/val": vacc}, step=step)
        panel.embedding(
            hidden(model, xva), labels=[str(int(v)) for v in yva], images=xva.reshape(-1, 1, 8, 8),
            win="embedding", step=epoch, opts={"title": "validation digits in the last hidden layer"},
        )  # fmt: skip
        shown = slice(0, 32)
        pairs = zip(pred[shown].tolist(), yva[shown].tolist(), strict=True)
        captions = [f"{p}" if p == t else f"{p} (true {t})" for p, t in pairs]
        panel.images(
            xva[shown].reshape(-1, 1, 8, 8), win="samples", nrow=8, captions=captions, step=epoch,
            opts={"title": "validation digits: predicted label"},
        )  # fmt: skip
        panel.heatmap(
            confusion(yva, pred),
            win="confusion",
            opts={"title": f"confusion (epoch {epoch + 1})", "xlabel": "predicted", "ylabel": "true",
                  "xticklabels": labels, "yticklabels": labels},
        )  # fmt: skip
    unwatch(model)
    tloss, tacc, _ = evaluate(model, xtr, ytr)
    vloss, vacc, pred = evaluate(model, xva, yva)
    cm = confusion(yva, pred)
    per_class = cm.diagonal() / cm.sum(1)
    worst = np.argsort(per_class)[:3]
    off = cm - np.diag(cm.diagonal())
    t, p = np.unravel_index(off.argmax(), off.shape)
    params = sum(p_.numel() for p_ in model.parameters())
    panel.text(
        f"## digits MLP: done\n\n"
        f"| | train | validation |\n|---|---|---|\n"
        f"| loss | {tloss:.4f} | {vloss:.4f} |\n| accuracy | {tacc:.2%} | {vacc:.2%} |\n\n"
        f"{epochs} epochs, {step} steps of 64, Adam lr {lr:g} (cosine), {params:,} parameters, "
        f"{time.perf_counter() - start:.1f} s.\n\n"
        f"Hardest digits: {', '.join(f'**{d}** ({per_class[d]:.0%})' for d in worst)}; "
        f"most frequent confusion: true **{t}** read as **{p}** ({off[t, p]} times).",
        win="summary",
    )
    return {"train_loss": tloss, "train_acc": tacc, "val_loss": vloss, "val_acc": vacc, "steps": step}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=None, help="server URL (default: $LIVEPANEL_URL or http://127.0.0.1:8097)")
    ap.add_argument("--env", default="digits/mlp")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--watch-every", type=int, default=25, help="steps between gradient norms and histograms")
    ap.add_argument("--quick", action="store_true", help="3 epochs (for the tests)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # tiny model: threads cost more than they give
    with livepanel.Panel(args.url, env=args.env) as panel:
        panel.delete_env(args.env)
        result = run(panel, 3 if args.quick else args.epochs, args.lr, args.watch_every)
        delivered = panel.flush(30)
    print(f"{args.env}: " + ", ".join(f"{k} {v:.4g}" for k, v in result.items()) + f"; delivered: {delivered}")
    print(f"open {panel.url}/?{urllib.parse.urlencode({'env': args.env}, safe='/')}")


if __name__ == "__main__":
    main()
