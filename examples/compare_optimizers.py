"""The digits MLP trained with SGD, SGD with momentum and Adam, two learning rates each, over seeds.

    livepanel serve                     # in another terminal: http://127.0.0.1:8097
    python examples/compare_optimizers.py [--url URL] [--epochs 20] [--seeds 2]

Every run logs the same windows (`loss` and `accuracy` with traces `train` and `val`, `lr`) into its own
env, `digits/sgd-lr1e-1-s0`, `digits/adam-lr1e-3-s1`, ...: select several envs in the browser (or open
the URL printed at the end) and their curves are overlaid, one colour per run. Each run stores its config
(recipe, optimizer, lr, momentum, seed) and final summary: the page's runs table sorts and filters them,
"group by recipe" draws one mean curve per recipe with its spread over the seeds, and in a terminal
`livepanel runs --metric loss/val --config lr`. `digits/compare` gets a bar chart of the final validation
accuracy and a table. Needs `pip install "livepanel[torch,examples]"`.
"""

from __future__ import annotations

import argparse
import time
import urllib.parse

import torch
from torch import nn
from train_digits import epoch_batches, evaluate, load_data, make_model

import livepanel

RUNS: list[tuple[str, str, float]] = [  # (env suffix, optimizer, learning rate)
    ("sgd-lr1e-1", "sgd", 1e-1),
    ("sgd-lr1e-2", "sgd", 1e-2),
    ("momentum-lr1e-1", "momentum", 1e-1),
    ("momentum-lr1e-2", "momentum", 1e-2),
    ("adam-lr1e-2", "adam", 1e-2),
    ("adam-lr1e-3", "adam", 1e-3),
]


def make_optimizer(kind: str, params, lr: float) -> torch.optim.Optimizer:
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if kind == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.Adam(params, lr=lr)


def train(panel: livepanel.Panel, recipe: str, env: str, kind: str, lr: float, epochs: int, data, seed: int) -> dict:
    """One run: for a seed, the same data order and initial weights for every optimizer, so only it differs."""
    xtr, ytr, xva, yva = data
    model = make_model(seed=seed)
    opt = make_optimizer(kind, model.parameters(), lr)
    gen = torch.Generator().manual_seed(seed)
    panel.delete_env(env)
    momentum = 0.9 if kind == "momentum" else 0.0
    panel.config({"recipe": recipe, "optimizer": kind, "lr": lr, "momentum": momentum, "seed": seed}, env=env)
    step = 0
    for _ in range(epochs):
        for idx in epoch_batches(len(xtr), 64, gen):
            logits = model(xtr[idx])
            loss = nn.functional.cross_entropy(logits, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            acc = (logits.argmax(1) == ytr[idx]).float().mean().item()
            panel.log({"loss/train": loss.item(), "accuracy/train": acc, "lr": lr}, step=step, env=env)
            step += 1
        vloss, vacc, _ = evaluate(model, xva, yva)
        panel.log({"loss/val": vloss, "accuracy/val": vacc}, step=step, env=env)
    panel.summary({"loss/val": vloss, "accuracy/val": vacc}, env=env)
    return {"env": env, "val_loss": vloss, "val_acc": vacc, "steps": step}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default=None, help="server URL (default: $LIVEPANEL_URL or http://127.0.0.1:8097)")
    ap.add_argument("--prefix", default="digits", help="env prefix: envs are PREFIX/RUN")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=2, help="runs of each recipe, seeds 0..N-1 (default 2)")
    ap.add_argument("--quick", action="store_true", help="2 epochs per run (for the tests)")
    args = ap.parse_args(argv)
    if not 1 <= args.seeds <= 10:
        ap.error(f"--seeds must be from 1 to 10, got {args.seeds}")
    torch.set_num_threads(1)
    epochs = 2 if args.quick else args.epochs
    data = load_data()
    start = time.perf_counter()
    summary_env = f"{args.prefix}/compare"
    with livepanel.Panel(args.url, env=summary_env) as panel:
        results = [
            train(panel, name, f"{args.prefix}/{name}-s{seed}", kind, lr, epochs, data, seed)
            for seed in range(args.seeds)
            for name, kind, lr in RUNS
        ]
        panel.delete_env(summary_env)
        names = [r["env"].split("/", 1)[1] for r in results]
        panel.bar([r["val_acc"] for r in results], win="val_accuracy", labels=names,
                  opts={"title": f"validation accuracy after {epochs} epochs"})  # fmt: skip
        rows = "\n".join(f"| `{r['env']}` | {r['val_loss']:.4f} | {r['val_acc']:.2%} |" for r in results)
        panel.text(f"| run | val loss | val accuracy |\n|---|---|---|\n{rows}\n\n"
                   f"{len(results)} runs of {epochs} epochs in {time.perf_counter() - start:.1f} s.",
                   win="summary")  # fmt: skip
        delivered = panel.flush(30)
    for r in results:
        print(f"{r['env']:28s} val loss {r['val_loss']:.4f}  val acc {r['val_acc']:.2%}")
    query = urllib.parse.urlencode([("env", r["env"]) for r in results], safe="/")
    print(f"delivered: {delivered}; overlay them: {panel.url}/?{query}")
    print(f"one mean curve per recipe over the seeds: {panel.url}/?{query}&group=recipe&runs=1")


if __name__ == "__main__":
    main()
