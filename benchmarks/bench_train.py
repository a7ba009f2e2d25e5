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

Throughput runs take turns in ``--rounds`` interleaved rounds and report each run's median, so a slow
spell on a shared machine falls on both sides of a ratio.

Then, on a learnable set (peak patterns, one class per peak layout, jittered and noisy), the time to
accuracy: the papers' code (per-sample DataLoader, ``nn.Dropout``, Adam) trains ``--epochs`` epochs, its
final validation top-1 is the target and its time that of the epoch that first reached it; spectool's
Trainer (same model and data) trains until it reaches that target, once with the papers' settings
(batch, lr 1e-3, no warm-up: the loop alone) and once with what ``spectool train`` picks for the set (batch scaled to the set, its warm-up and schedule,
the ViT's smear: what a user gets). Ratio = spectool's time / the papers' (target ≤ 0.5), wall-clock
and CPU seconds (the latter disturbed less by other jobs on the machine). spectool runs at the precision train picks
(``learn.train.amp_dtype``: bfloat16 autocast for the CNN and ResNet on a CPU with native bf16, float32
for the ViT); one more row times the other precision (float32 as ``--no-amp``, or bf16 autocast forced).

    python benchmarks/bench_train.py [--n 2048] [--length 4251] [--batch 128] [--threads 2] [--device cpu|cuda]
                                     [--rounds 3] [--models vit1d cnn1d]
    python benchmarks/bench_train.py --short --device cuda   # < 3 minutes on one GPU
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spectool.env import Env
from spectool.spectra import Axis, Chunk, SetMeta
from spectool.io.sets import create_set, open_set
from spectool.learn.data import BatchSource
from spectool.learn.job import train_model_args
from spectool.learn.train import TrainConfig, Trainer, auto_batch_size
from spectool.models.layers import Dropout, MaxPool1d
from spectool.models.registry import create_model, get_model_class

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
    """The papers' layers, same weights: torch's nn.Dropout (same p) for every spectool Dropout, torch's
    nn.MaxPool1d for spectool's (which skips the argmax indices in training), and
    ReLU before max-pool in conv blocks (spectool pools first: the same values, half the ReLU work)."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Dropout):
                setattr(module, name, torch.nn.Dropout(child.p))
            if isinstance(child, MaxPool1d):
                setattr(module, name, torch.nn.MaxPool1d(child.kernel_size, child.stride))
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


def plain_loop(model, X, y, batch: int, steps: int, device: torch.device = torch.device("cpu")) -> float:
    loader = torch.utils.data.DataLoader(OneSample(X, y), batch_size=batch, shuffle=True)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    done, start = 0, None
    for i, (xb, yb) in enumerate(loader):
        if i == 2:
            _sync(device)
            done, start = 0, time.perf_counter()  # two warm-up steps
        xb, yb = xb.to(device), yb.to(device)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        done += len(yb)
        if i + 1 >= steps + 2:
            break
    _sync(device)
    return done / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def spectool_loop(model, reader, y, batch: int, steps: int, compile: bool = False,
                  device: torch.device = torch.device("cpu"), precision: str | None = None) -> float:
    """Steady-state samples/s after warm-up steps (with --compile, compiling happens in the warm-up:
    the time it took is reported apart)."""
    rows = np.arange(len(y))
    warm = 3 if compile else 2
    source = BatchSource(reader, rows[: batch * (steps + warm)], batch, True, 0)
    lut = np.arange(int(y.max()) + 2)
    lut[-1] = -1
    config = TrainConfig(epochs=1, batch_size=batch, warmup=0, compile=compile)
    trainer = Trainer(model.to(device), config, device, lut)
    _set_precision(trainer, precision)
    trainer.plan(len(source))
    batches = source.epoch(0)
    start = time.perf_counter()
    for X, yb, _ in [next(batches) for _ in range(warm)]:
        trainer.step(*trainer.to_device(X, yb, lut))
    _sync(device)
    spectool_loop.warmup_s = time.perf_counter() - start
    start, done = time.perf_counter(), 0
    for X, yb, _ in batches:
        trainer.step(*trainer.to_device(X, yb, lut))
        done += len(yb)
    _sync(device)
    return done / (time.perf_counter() - start)


def interleaved(runs: dict, name: str, kwargs: dict, X, y, reader, args, device) -> tuple[dict[str, float], float]:
    """Median samples/s of each run over ``args.rounds`` rounds, the runs taking turns within a round: on a
    shared, loaded machine a slow spell then hits every run of that round, not one side of the ratio."""
    rates: dict[str, list[float]] = {key: [] for key in runs}
    compile_s = 0.0  # the longest warm-up of the --compile run (its first round compiles)
    for _ in range(args.rounds):
        for key, (run, adapt, extra) in runs.items():
            torch.manual_seed(0)
            model = create_model(name, num_classes=args.classes, input_length=args.length, **kwargs)
            model = adapt(model) if adapt else model
            data = (X, y) if run is plain_loop else (reader, y)
            rates[key].append(run(model, *data, args.batch, args.steps, device=device, **extra))
            if extra.get("compile"):
                compile_s = max(compile_s, spectool_loop.warmup_s)
    return {key: float(np.median(r)) for key, r in rates.items()}, compile_s


def make_set(path: Path, n: int, length: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.random((n, length), dtype=np.float32)
    y = rng.integers(0, classes, n)
    meta = SetMeta(axis=Axis(np.linspace(5, 90, length)))
    with create_set(str(path), meta, Env()) as out:
        out.append(Chunk(X), labels=[f"c{k}" for k in y])
    return X, y


def peak_patterns(classes: int, per_class: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(X (N, L) float32 with maximum 1, y (N,)): class c has five Gaussian peaks at its own places,
    each jittered by ~0.3 % of the axis, intensities ×U(0.5, 1.5), plus noise."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(99).uniform(0.05, 0.95, (classes, 5)) * length
    y = np.repeat(np.arange(classes), per_class)
    pos = centers[y] + rng.normal(0, 0.003 * length, (len(y), 5))
    x = np.arange(length, dtype=np.float32)
    X = (rng.uniform(0.5, 1.5, (len(y), 5, 1)) * np.exp(-0.5 * ((x - pos[..., None]) / 3.0) ** 2)).sum(1)
    X += 0.05 * rng.random(X.shape)
    return (X / X.max(1, keepdims=True)).astype(np.float32), y


def papers_fit(model, train, val, batch: int, epochs: int, device) -> list[tuple[float, float, float]]:
    """The papers' training: per-sample DataLoader, Adam, cross-entropy; (elapsed s, CPU s, val top-1) per epoch."""
    loader = torch.utils.data.DataLoader(OneSample(*train), batch_size=batch, shuffle=True)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out, start, cpu = [], time.perf_counter(), time.process_time()
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb.to(device)), yb.to(device)).backward()
            opt.step()
        out.append((time.perf_counter() - start, time.process_time() - cpu, _accuracy(model, val, device)))
    return out


@torch.no_grad()
def _accuracy(model, val, device) -> float:
    model.eval()
    X, y = val
    pred = torch.cat([model(torch.as_tensor(X[i:i + 512]).to(device)).argmax(1).cpu() for i in range(0, len(X), 512)])
    return float((pred.numpy() == y).mean())


def spectool_fit(model, reader, train_rows, val_rows, lut, batch: int, epochs: int, target: float,
                 device, precision: str | None = None, **config) -> tuple[float, float, float, int]:
    """spectool's Trainer until validation top-1 ≥ ``target`` (or ``epochs``): (seconds, CPU seconds, top-1,
    epochs). CPU seconds (this process, all threads) are what a loaded machine disturbs least.

    ``config``: TrainConfig fields over its defaults (warm-up, learning rate, schedule…)."""
    train = BatchSource(reader, train_rows, batch, True, 0)
    val = BatchSource(reader, val_rows, 512, False, 0)
    trainer = Trainer(model.to(device), TrainConfig(**{"epochs": epochs, "batch_size": batch, "patience": 0,
                                                      **config}), device, lut)
    _set_precision(trainer, precision)
    trainer.plan(len(train))
    start, cpu, top1, epoch = time.perf_counter(), time.process_time(), 0.0, 0
    while epoch < epochs and top1 < target:
        trainer.train_epoch(train, epoch)
        top1, epoch = trainer.evaluate(val)["val_top1"], epoch + 1
    return time.perf_counter() - start, time.process_time() - cpu, top1, epoch


def time_to_accuracy(args, device, tmp: Path) -> None:
    """Per model: the papers' code's curve, then spectool (a) with the papers' settings (batch, lr 1e-3, no
    warm-up): the loop alone; (b) with what ``spectool train`` picks for this set (batch scaled to the set,
    TrainConfig's warm-up and schedule, the ViT's smear over ~1° of the axis): what a user gets."""
    X, y = peak_patterns(args.tta_classes, args.tta_per_class, args.length, 1)
    order = np.random.default_rng(0).permutation(len(y))
    val_rows, train_rows = np.sort(order[: len(y) // 5]), np.sort(order[len(y) // 5:])
    axis = Axis(np.linspace(5, 90, args.length))
    path = tmp / "tta.h5"
    with create_set(str(path), SetMeta(axis=axis), Env()) as out:
        out.append(Chunk(X), labels=[f"c{k:03d}" for k in y])
    lut = np.append(np.arange(args.tta_classes), -1)
    print(f"time to accuracy: {args.tta_classes} classes × {args.tta_per_class}, 4:1 split, papers' code: batch "
          f"{args.batch}, Adam lr 1e-3, {args.epochs} epochs")
    with open_set(str(path), Env()) as reader:
        for name in args.models:
            fresh = _fresh(name, args.tta_classes, args.length)
            papers = papers_layers(fresh())
            curve = papers_fit(papers, (X[train_rows], y[train_rows]), (X[val_rows], y[val_rows]), args.batch,
                               args.epochs, device)
            target = curve[-1][2]  # its final accuracy, timed where it first got there
            p_epochs, (p_time, p_cpu, _) = next((i + 1, c) for i, c in enumerate(curve) if c[2] >= target)
            print(f"{name}: papers' code {p_time:6.1f} s ({p_cpu:6.1f} CPU s) to val top-1 {target:.3f} ({p_epochs} "
                  f"epochs; per epoch: {' '.join(f'{a:.2f}' for *_, a in curve)})")
            if target < 2 / args.tta_classes:
                print(f"{name}: the papers' code is still near chance after {args.epochs} epochs: the ratios below "
                      "mean little (give --epochs more)")
            own, other = train_precision(fresh(), device), other_precision(fresh(), device)
            largest = getattr(get_model_class(name), "auto_batch_max", 128)  # train's cap for the model
            runs = {f"papers' settings, {own}": (fresh(), args.batch, {"warmup": 0}, None),
                    f"train's defaults, {own}": (fresh(**train_model_args(name, {}, axis)),
                                                 auto_batch_size(len(train_rows), largest), {}, None)}
            if other:
                runs[f"papers' settings, {other}"] = (fresh(), args.batch, {"warmup": 0}, other)
            for label, (model, batch, config, precision) in runs.items():
                s_time, s_cpu, top1, epochs = spectool_fit(model, reader, train_rows, val_rows, lut, batch,
                                                           args.epochs * 2, target, device, precision, **config)
                print(f"{name}: spectool, {label} (batch {batch}) {s_time:6.1f} s ({s_cpu:6.1f} CPU s) to {top1:.3f} "
                      f"({epochs} epochs)   ratio {s_time / p_time:.2f}x, CPU {s_cpu / p_cpu:.2f}x (target ≤ 0.5)")


def _fresh(name: str, classes: int, length: int):
    """A constructor of the benchmark's ``name`` model, same initial weights every call (extra kwargs on top)."""
    def make(**extra):
        torch.manual_seed(0)
        return create_model(name, num_classes=classes, input_length=length, **{**MODELS[name], **extra})
    return make


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--length", type=int, default=4251)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the throughput runs (median)")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--what", choices=("both", "throughput", "accuracy"), default="both",
                    help="samples/s, time to accuracy, or both")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile row")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (the same benchmark on a GPU)")
    ap.add_argument("--epochs", type=int, default=10, help="the papers' code's epochs in the time-to-accuracy run")
    ap.add_argument("--tta-classes", type=int, default=20)
    ap.add_argument("--tta-per-class", type=int, default=60)
    ap.add_argument("--short", action="store_true", help="fewer samples and epochs (< 3 minutes on one GPU)")
    args = ap.parse_args()
    if args.short:
        args.n, args.steps, args.epochs, args.tta_per_class, args.no_compile = 1024, 6, 4, 30, True
    torch.set_num_threads(args.threads)
    from spectool.learn.device import torch_device

    device = torch_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        if args.what != "accuracy":
            throughput(args, device, Path(tmp))
        if args.what != "throughput":
            time_to_accuracy(args, device, Path(tmp))


def throughput(args, device, tmp: Path) -> None:
    """samples/s of the papers' code, the plain loop and spectool's loop (+ bf16, --compile rows)."""
    X, y = make_set(tmp / "s.h5", args.n, args.length, args.classes)
    with open_set(str(tmp / "s.h5"), Env()) as reader:
        print(f"N={args.n} L={args.length} batch={args.batch} threads={args.threads} device={device} "
              f"torch {torch.__version__}")
        for name in args.models:
            kwargs = MODELS[name]
            runs = {"papers": (plain_loop, papers_layers, {}), "plain": (plain_loop, None, {}),
                    "spectool": (spectool_loop, None, {})}
            if not args.no_compile:
                runs["compile"] = (spectool_loop, None, {"compile": True})
            own = train_precision(create_model(name, num_classes=args.classes, input_length=args.length, **kwargs),
                                  device)
            other = other_precision(create_model(name, num_classes=2, input_length=args.length, **kwargs), device)
            if other:
                runs["other"] = (spectool_loop, None, {"precision": other})
            rates, compile_s = interleaved(runs, name, kwargs, X, y, reader, args, device)
            share = loading_share(X, y, args.batch, rates["plain"])
            print(f"{name}: papers' code {rates['papers']:7.1f} samples/s   plain loop "
                  f"{rates['plain']:7.1f}   spectool ({own}) {rates['spectool']:7.1f}   ratio vs papers "
                  f"{rates['spectool'] / rates['papers']:.2f}x   vs plain loop (same model) "
                  f"{rates['spectool'] / rates['plain']:.2f}x")
            print(f"{name}: plain loop's loading share {100 * share:.1f} % of its step: loading for free would "
                  f"make it {1 / (1 - share):.2f}x faster; the rest is forward, backward and optimizer")
            if "other" in rates:
                print(f"{name}: spectool {other} {rates['other']:7.1f} samples/s   {rates['other'] / rates['spectool']:.2f}x "
                      f"spectool's {own}   ratio vs papers {rates['other'] / rates['papers']:.2f}x   vs plain loop "
                      f"{rates['other'] / rates['plain']:.2f}x")
            if "compile" in rates:
                print(f"{name}: spectool --compile {rates['compile']:7.1f} samples/s after "
                      f"{compile_s:.0f} s of compiling   ratio vs papers "
                      f"{rates['compile'] / rates['papers']:.2f}x")


def train_precision(model, device) -> str:
    """The precision ``spectool train`` picks for ``model`` on ``device`` (``--amp``, its default)."""
    from spectool.learn.train import amp_dtype, precision

    return precision(amp_dtype(device, model))


def other_precision(model, device) -> str | None:
    """The precision train does not pick, where it makes sense here: float32 (``--no-amp``) beside autocast,
    or bf16 autocast beside float32 on a CPU with native bf16; None otherwise."""
    from spectool.learn.device import cpu_has_bf16
    from spectool.learn.train import amp_dtype

    if amp_dtype(device, model) is not None:
        return "float32"
    return "bfloat16 autocast" if device.type == "cpu" and cpu_has_bf16() else None


def _set_precision(trainer, precision: str | None) -> None:
    """None: train's choice (the Trainer's own); else ``float32`` or ``bfloat16 autocast``."""
    if precision is not None:
        trainer.amp_dtype = None if precision == "float32" else torch.bfloat16


if __name__ == "__main__":
    main()
