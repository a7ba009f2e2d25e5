"""Training throughput (samples/s, CPU): spectool's loop vs the papers' plain PyTorch loop.

Peer: an in-memory numpy array indexed sample by sample through a Dataset and a default
``DataLoader(batch_size=B, shuffle=True)``, Adam(W) + cross-entropy, ``loss.backward()``,
``optimizer.step()`` — the way the ViT-1D / CNN papers' code trains. Same model, same batch size,
same threads, same number of samples. spectool: :class:`~spectool.learn.train.Trainer` over an
in-memory :class:`~spectool.learn.data.BatchSource` (one fancy-indexed batch per step, zero-copy
``torch.from_numpy``, fused AdamW, metrics accumulated on the device).

Two peers are timed: the papers' code (the same architecture and weights with torch's own
``nn.Dropout`` and ReLU before max-pool) and the plain loop over spectool's model (its fast CPU
dropout). The first ratio is what a user moving from the papers' code gains; the second is the
loop alone. The plain loop's loading share (DataLoader time / step time) bounds the second:
loading for free makes the plain loop 1 / (1 − share) faster (Amdahl); the rest of its step is the
same model's forward, backward and optimizer, of which a loop can only shave the optimizer (fused
AdamW here).

    python benchmarks/bench_train.py [--n 2048] [--length 4251] [--batch 128] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spectool.env import Env
from spectool.io.model import Axis, Chunk, SetMeta
from spectool.io.sets import create_set, open_set
from spectool.learn.data import BatchSource
from spectool.learn.train import TrainConfig, Trainer
from spectool.models.layers import Dropout
from spectool.models.registry import create_model

MODELS = {"vit1d": dict(patch=120, dim=64, depth=4, heads=4),
          "cnn1d": dict(channels=[16, 16, 32, 32], kernel_size=9)}


class OneSample(torch.utils.data.Dataset):
    """The papers' Dataset: one (pattern, label) per __getitem__, converted there."""

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i):
        return torch.tensor(self.X[i], dtype=torch.float32), torch.tensor(self.y[i], dtype=torch.long)


def papers_layers(model: torch.nn.Module) -> torch.nn.Module:
    """The papers' layers, same weights: torch's nn.Dropout (same p) for every spectool Dropout, and
    ReLU before max-pool in conv blocks (spectool pools first: the same values, half the ReLU work)."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Dropout):
                setattr(module, name, torch.nn.Dropout(child.p))
        if isinstance(module, torch.nn.Sequential):
            for i in range(len(module) - 1):
                if isinstance(module[i], torch.nn.MaxPool1d) and isinstance(module[i + 1], torch.nn.ReLU):
                    module[i], module[i + 1] = module[i + 1], module[i]
    return model


def loading_share(X, y, batch: int, step_rate: float) -> float:
    """Fraction of the plain loop's step spent in the DataLoader (one pass over X)."""
    loader = torch.utils.data.DataLoader(OneSample(X, y), batch_size=batch, shuffle=True)
    start = time.perf_counter()
    for _ in loader:
        pass
    load_rate = len(X) / (time.perf_counter() - start)
    return step_rate / load_rate


def plain_loop(model, X, y, batch: int, steps: int) -> float:
    loader = torch.utils.data.DataLoader(OneSample(X, y), batch_size=batch, shuffle=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    done, start = 0, None
    for i, (xb, yb) in enumerate(loader):
        if i == 2:
            done, start = 0, time.perf_counter()  # two warm-up steps
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        done += len(yb)
        if i + 1 >= steps + 2:
            break
    return done / (time.perf_counter() - start)


def spectool_loop(model, reader, y, batch: int, steps: int, compile: bool = False) -> float:
    """Steady-state samples/s after warm-up steps (with --compile, compiling happens in the warm-up:
    the time it took is reported apart)."""
    rows = np.arange(len(y))
    warm = 3 if compile else 2
    source = BatchSource(reader, rows[: batch * (steps + warm)], batch, True, 0)
    lut = np.arange(int(y.max()) + 2)
    lut[-1] = -1
    config = TrainConfig(epochs=1, batch_size=batch, warmup=0, compile=compile)
    trainer = Trainer(model, config, torch.device("cpu"), lut)
    trainer.plan(len(source))
    batches = source.epoch(0)
    start = time.perf_counter()
    for X, yb, _ in [next(batches) for _ in range(warm)]:
        trainer.step(*trainer.to_device(X, yb, lut))
    spectool_loop.warmup_s = time.perf_counter() - start
    start, done = time.perf_counter(), 0
    for X, yb, _ in batches:
        trainer.step(*trainer.to_device(X, yb, lut))
        done += len(yb)
    return done / (time.perf_counter() - start)


def make_set(path: Path, n: int, length: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.random((n, length), dtype=np.float32)
    y = rng.integers(0, classes, n)
    meta = SetMeta(axis=Axis(np.linspace(5, 90, length)))
    with create_set(str(path), meta, Env()) as out:
        out.append(Chunk(X), labels=[f"c{k}" for k in y])
    return X, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--length", type=int, default=4251)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        X, y = make_set(Path(tmp) / "s.h5", args.n, args.length, args.classes)
        with open_set(str(Path(tmp) / "s.h5"), Env()) as reader:
            print(f"N={args.n} L={args.length} batch={args.batch} threads={args.threads} torch {torch.__version__}")
            for name, kwargs in MODELS.items():
                runs = {"papers": (plain_loop, papers_layers, {}), "plain": (plain_loop, None, {}),
                        "spectool": (spectool_loop, None, {})}
                if not args.no_compile:
                    runs["compile"] = (spectool_loop, None, {"compile": True})
                rates = {}
                for key, (run, adapt, extra) in runs.items():
                    torch.manual_seed(0)
                    model = create_model(name, num_classes=args.classes, input_length=args.length, **kwargs)
                    model = adapt(model) if adapt else model
                    data = (X, y) if run is plain_loop else (reader, y)
                    rates[key] = run(model, *data, args.batch, args.steps, **extra)
                share = loading_share(X, y, args.batch, rates["plain"])
                print(f"{name}: papers' code {rates['papers']:7.1f} samples/s   plain loop "
                      f"{rates['plain']:7.1f}   spectool {rates['spectool']:7.1f}   ratio vs papers "
                      f"{rates['spectool'] / rates['papers']:.2f}x   vs plain loop (same model) "
                      f"{rates['spectool'] / rates['plain']:.2f}x")
                print(f"{name}: plain loop's loading share {100 * share:.1f} % of its step: loading for free would "
                      f"make it {1 / (1 - share):.2f}x faster; the rest is forward, backward and optimizer")
                if "compile" in rates:
                    print(f"{name}: spectool --compile {rates['compile']:7.1f} samples/s after "
                          f"{spectool_loop.warmup_s:.0f} s of compiling   ratio vs papers "
                          f"{rates['compile'] / rates['papers']:.2f}x")


if __name__ == "__main__":
    main()
