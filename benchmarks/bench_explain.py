"""Explain/embed/cluster benchmark: maps per second on CPU, and raw vs learned feature silhouettes.

    python benchmarks/bench_explain.py                      # speed (ViT + CNN, default sizes, 4,251 points)
    python benchmarks/bench_explain.py --accuracy           # + train small models and compare silhouettes
    python benchmarks/bench_explain.py --accuracy --set train.h5 --val val.h5   # on given sets
    python benchmarks/bench_explain.py --accuracy --experiment bench-out/accuracy  # the train issue's experiment

Speed: the ViT-1D and the CNN of the train issue at their default constructor sizes (ViT patch 120,
dim 128, depth 6, 4 heads; CNN channels 32/32/64/64, kernel 9, GAP head), 100 classes, 4,251 points
(2θ 5–90°, 0.02°), random weights (speed does not depend on training). Each method runs on one batch
after a warm-up; figures are maps (explained spectra) per second.

Accuracy (``--accuracy``): needs ``spectool train`` (spectool/cli/train.py). Without ``--set`` a
synthetic labelled set is made here (K classes of random peak patterns with ViT-paper augmentation:
peak scaling, peak dropping, whole-pattern shift; 10 classes × 40 train / 10 validation patterns); the
ViT and CNN are trained through the CLI at default sizes (10 epochs, batch 16, no early stopping), their
features of the validation rows taken with ``spectool embed``, and the silhouette of the true labels
is printed for raw-pattern PCA features and for each model's learned features. If ``spectool train``
is not there, that part prints SKIPPED and why.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LENGTH = 4251


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def speed(batch: int, repeats: int, classes: int) -> list[tuple[str, str, float]]:
    """(model, method, maps per second) rows."""
    import torch

    from spectool.explain.maps import OcclusionSettings, explain_batch
    from spectool.models.registry import create_model

    torch.manual_seed(0)
    X = np.random.default_rng(0).random((batch, LENGTH), dtype=np.float32)
    occlusion = OcclusionSettings(window=LENGTH // 50, stride=LENGTH // 100, batch_size=256)
    rows = []
    configs = {"vit1d": ({}, ["arm", "rollout"]), "cnn1d": ({}, ["gradcam"]),  # the paper's dense head
               "cnn1d-gap": ({"head": "gap"}, ["cam", "gradcam"])}  # the CAM-exact variant
    for label, (extra, maps) in configs.items():
        name = label.split("-")[0]
        model = create_model(name, num_classes=classes, input_length=LENGTH, **extra).eval()
        methods = maps + ["occlusion"]
        for method in dict.fromkeys([*methods[:-1], "+".join(methods[:-1]), "occlusion"]):
            n = max(1, batch // 16) if method == "occlusion" else batch
            chosen = method.split("+")
            seconds = _timed(lambda: explain_batch(model, X[:n], chosen, occlusion=occlusion), repeats)
            rows.append((label, method, n / seconds))
        with torch.no_grad():
            x = torch.from_numpy(X)
            rows.append((label, "forward only", batch / _timed(lambda: model(x), repeats)))
    return rows


# ------------------------------------------------------------------ accuracy (needs spectool train)
def train_available() -> tuple[bool, str]:
    res = _cli("train", "--help")
    if res.returncode != 0:
        return False, (res.stderr.decode().strip().splitlines() or ["no train command"])[-1]
    return True, ""


def _cli(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "spectool", *args], capture_output=True, env=env)
    if check and res.returncode != 0:
        raise RuntimeError(f"spectool {' '.join(args)} failed (exit {res.returncode}):\n{res.stderr.decode()}")
    return res


def synthetic_sets(folder: Path, classes: int, per_class: int, seed: int) -> tuple[Path, Path]:
    """Train and validation sets of K classes of random peak patterns, ViT-paper style augmentation."""
    from spectool.env import Env
    from spectool.spectra import Axis, Chunk, SetMeta
    from spectool.io.sets import write_set

    rng = np.random.default_rng(seed)
    axis = np.linspace(5, 90, LENGTH)
    centres = [np.sort(rng.uniform(8, 85, rng.integers(6, 15))) for _ in range(classes)]
    heights = [rng.uniform(0.1, 1.0, len(c)) for c in centres]
    out = []
    for part, n in (("train", per_class), ("val", max(4, per_class // 4))):
        X, labels = [], []
        for k in range(classes):
            for _ in range(n):
                shift = rng.normal(0, 0.15)
                h = heights[k] * rng.uniform(0.5, 1.5, len(heights[k])) * (rng.random(len(heights[k])) > 0.15)
                row = (h[:, None] * np.exp(-0.5 * ((axis - centres[k][:, None] - shift) / 0.12) ** 2)).sum(0)
                X.append(row / max(row.max(), 1e-9))
                labels.append(f"class{k:02d}")
        path = folder / f"{part}.h5"
        write_set(str(path), SetMeta(axis=Axis(axis)), Chunk(np.asarray(X, np.float32)), Env(), labels=labels)
        out.append(path)
    return out[0], out[1]


def accuracy(folder: Path, train: Path, val: Path, epochs: int, batch: int, seed: int) -> list[tuple]:
    """(features, silhouette of the true labels on the validation rows, val top-1 or None) for raw PCA and
    each trained model."""
    from spectool.analysis.cluster import silhouette
    from spectool.io.checkpoint import read_header

    raw = folder / "raw.h5"
    _cli("embed", "--raw", str(val), "--components", "50", "-o", str(raw), "-q", check=True)
    rows = [("raw patterns (PCA 50)", silhouette(*_features(raw), seed), None)]
    for model in ("vit", "cnn"):
        ckpt = folder / f"{model}.safetensors"
        _cli("train", str(train), "--val", str(val), "-m", model, "--epochs", str(epochs), "-b", str(batch),
             "--patience", "0", "--seed", str(seed), "-o", str(ckpt), "-q", check=True)
        feats = folder / f"{model}_features.h5"
        _cli("embed", "-m", str(ckpt), str(val), "-o", str(feats), "-q", check=True)
        meta = read_header(ckpt).meta["train"]
        best = next((m for m in meta.get("metrics", []) if m.get("epoch") == meta.get("best_epoch")), {})
        rows.append((f"{model} learned features", silhouette(*_features(feats), seed), best.get("val_top1")))
    return rows


def experiment(work: Path, phases: int, copies: int, epochs: int, seed: int) -> tuple[Path, list[tuple]]:
    """The train issue's accuracy experiment (benchmarks/bench_accuracy.py: mp-prototype phases → simulate →
    augment → train ViT and CNN through the CLI), reused as it is: models already in ``work`` (``vit-SEED``,
    ``cnn-SEED``) are kept, missing ones trained. Returns the held-back set and the feature rows."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_accuracy as acc

    work.mkdir(parents=True, exist_ok=True)
    with open(work / "log-explain.txt", "a") as log:
        if not (work / "test.h5").exists():
            cifs, matched = acc.select_phases(phases, 40, seed=0)
            acc.build_sets(work, cifs, matched, copies, max(2, copies // 4), log)
        sets = {"train": work / "train.h5", "test": work / "test.h5"}
        models = {}
        for kind in ("vit", "cnn"):
            path = work / f"{kind}-{seed}.safetensors"
            models[kind] = path if path.exists() else acc.train(kind, sets, seed, work, epochs, log)[0]
    return sets["test"], _silhouettes(work, sets["test"], models, seed)


def _silhouettes(folder: Path, val: Path, models: dict, seed: int) -> list[tuple]:
    from spectool.analysis.cluster import silhouette

    raw = folder / "raw-features.h5"
    _cli("embed", "--raw", str(val), "--components", "50", "-o", str(raw), "-q", check=True)
    rows = [("raw patterns (PCA 50)", silhouette(*_features(raw), seed), None)]
    for kind, ckpt in models.items():
        feats = folder / f"{kind}-features.h5"
        _cli("embed", "-m", str(ckpt), str(val), "-o", str(feats), "-q", check=True)
        rows.append((f"{kind} learned features", silhouette(*_features(feats), seed), None))
    return rows


def _features(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    with h5py.File(path) as f:
        return f["entry/data/X"][:].astype(np.float64), f["entry/labels/y"][:].astype(np.int64)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64, help="spectra per timed call (occlusion: batch/16)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--accuracy", action="store_true", help="also train small models and compare silhouettes")
    ap.add_argument("--set", type=Path, help="labelled training set for --accuracy (default: synthetic)")
    ap.add_argument("--val", type=Path, help="labelled validation set for --accuracy with --set")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--train-batch", type=int, default=16, help="batch size for spectool train")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--experiment", type=Path, metavar="WORK",
                    help="run --accuracy on the train issue's experiment (bench_accuracy.py) in WORK, reusing "
                         "its sets and vit-SEED/cnn-SEED models when present")
    ap.add_argument("--phases", type=int, default=30, help="phases for a fresh --experiment")
    ap.add_argument("--copies", type=int, default=20, help="augmented training copies per phase for --experiment")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print(f"explain speed, CPU, {args.threads} threads, {LENGTH} points, {args.classes} classes, default sizes")
    print(f"{'model':10} {'method':22} {'maps/s':>10}")
    for model, method, rate in speed(args.batch, args.repeats, args.classes):
        print(f"{model:10} {method:22} {rate:10.1f}")
    if not args.accuracy:
        print("accuracy: not run (pass --accuracy; it trains small models with spectool train)")
        return 0
    ok, why = train_available()
    if not ok:
        print(f"accuracy: SKIPPED - spectool train is not available ({why})")
        return 0
    if args.experiment:
        val, rows = experiment(args.experiment, args.phases, args.copies, args.epochs, args.seed)
        _print_silhouettes(val, rows)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.set:
            train, val = args.set, args.val or args.set
        else:
            train, val = synthetic_sets(folder, classes=10, per_class=40, seed=args.seed)
        _print_silhouettes(val, accuracy(folder, train, val, args.epochs, args.train_batch, args.seed))
    return 0


def _print_silhouettes(val: Path, rows: list[tuple]) -> None:
    print(f"silhouette of the true labels on {val.name} (higher = classes better separated)")
    for name, value, top1 in rows:
        score = "n/a" if value is None else f"{value:.3f}"
        print(f"  {name:28} silhouette {score:>6}" + (f"   (val top-1 {top1:.2f})" if top1 is not None else ""))


if __name__ == "__main__":
    sys.exit(main())
