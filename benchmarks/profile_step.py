"""Where one training step's time goes (torch.profiler, CPU): spectool's Trainer.step on bench_train's models.

Self CPU time of every aten operation over ``--steps`` steps (after two warm-up steps), summed into what it
belongs to: the linear layers' matrix products, attention, GELU, LayerNorm, convolutions, BatchNorm,
pooling, dropout and drop-path masks (random bits, comparisons, casts, products), the optimizer, the loss.
Run with one thread on a shared machine: with two, a descheduled thread makes every parallel op wait.

    python benchmarks/profile_step.py [--models vit1d cnn1d] [--threads 1] [--precision train|float32|bf16]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import torch

from bench_train import MODELS  # the script's folder is on sys.path
from spectool.learn.train import TrainConfig, Trainer, amp_dtype, precision
from spectool.models.registry import create_model

#: op-name fragment → what it is (first match wins)
KINDS = (("nll_loss", "loss"), ("log_softmax", "loss"), ("scaled_dot_product", "attention"), ("softmax_backward", "attention"), ("_softmax", "attention"),
         ("bmm", "attention"), ("addmm", "linear (matmul)"), ("aten::mm", "linear (matmul)"),
         ("gelu", "GELU"), ("layer_norm", "LayerNorm"), ("convolution", "convolution"),
         ("batch_norm", "BatchNorm"), ("max_pool", "max-pool"), ("adam", "optimizer"),
         ("random_", "dropout/drop-path masks"), ("aten::ge", "dropout/drop-path masks"),
         ("aten::mul", "elementwise products (masks, scaling)"), ("copy_", "copies and casts"),
         ("aten::cat", "concatenation ([CLS], qkv)"),
         ("threshold", "ReLU"), ("relu", "ReLU"), ("add", "additions (residuals, bias grads)"),
         ("sum", "reductions (bias grads)"), ("fill_", "fills (zeroing)"))


def kind_of(name: str) -> str:
    return next((kind for part, kind in KINDS if part in name), "other")


def profile(name: str, args) -> dict[str, float]:
    """Self CPU seconds per kind over ``args.steps`` steps of a batch of ``args.batch`` random patterns."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=args.classes, input_length=args.length, **MODELS[name])
    trainer = Trainer(model, TrainConfig(epochs=1, batch_size=args.batch, warmup=0), torch.device("cpu"),
                      np.arange(args.classes))
    if args.precision != "train":
        trainer.amp_dtype = None if args.precision == "float32" else torch.bfloat16
    trainer.plan(100)
    x, y = torch.rand(args.batch, args.length), torch.randint(0, args.classes, (args.batch,))
    for _ in range(2):
        trainer.step(x, y)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            trainer.step(x, y)
    kinds: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if event.key.startswith("aten::"):
            kinds[kind_of(event.key)] += event.self_cpu_time_total / 1e6
    profile.precision = precision(trainer.amp_dtype)
    return dict(kinds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["vit1d"], choices=list(MODELS))
    ap.add_argument("--length", type=int, default=4251)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", choices=("train", "float32", "bf16"), default="train")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.models:
        kinds = profile(name, args)
        total = sum(kinds.values())
        print(f"{name} ({profile.precision}, batch {args.batch}, L {args.length}, {args.threads} thread(s)): "
              f"{1e3 * total / args.steps:.0f} ms of aten self CPU time per step")
        for kind, seconds in sorted(kinds.items(), key=lambda kv: -kv[1]):
            print(f"  {100 * seconds / total:5.1f} %  {kind}")


if __name__ == "__main__":
    main()
