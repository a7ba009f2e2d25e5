"""predict: start-to-exit wall time of `spectool predict --top 5 scan.xy` against
`python -c "import torch"` in the same run (target ≤ 2×), and batch inference throughput
(spectra/s) on CPU for a ViT of the paper's shape on a 4,251-point grid.

    python benchmarks/bench_predict.py [--repeats 7] [--model M]

Without --model it builds a ViT of the paper's shape (patch 120, depth 7, 4 heads) with
seeded, untrained weights — timing does not depend on the values — and the shipped
default model is timed too when it exists.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCAN = ROOT / "spectool" / "data" / "examples" / "example.xy"
DEFAULT = ROOT / "spectool" / "data" / "default.safetensors"
GRID = (5.0, 90.0, 0.02)


def paper_vit(path: Path, classes: int = 100) -> Path:
    import torch

    from spectool.io.checkpoint import save_checkpoint
    from spectool.spectra import Axis, SetMeta
    from spectool.models.registry import create_model

    torch.manual_seed(0)
    x = np.round(np.arange(GRID[0], GRID[1] + GRID[2] / 2, GRID[2]), 6)
    model = create_model("vit1d", num_classes=classes, input_length=len(x), patch=120, dim=120, depth=7, heads=4)
    recipe = {"format": "spectool-recipe/1", "steps": [{"op": "baseline", "method": "window_min"}]}
    save_checkpoint(path, model.eval(), labels=[f"class{i}" for i in range(classes)],
                    input=SetMeta(axis=Axis(x), kind="xrd", wavelength=1.54184), preprocess=recipe,
                    train={"note": "untrained: timing only"})
    return path


def wall(cmd: list[str], repeats: int) -> float:
    """Median seconds from process start to exit."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def spectool_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("spectool")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "spectool"]


def throughput(model_path: Path, n: int = 2048, batch: int = 256) -> float:
    import torch

    from spectool.io.checkpoint import load_checkpoint
    from spectool.learn.inference import Predictor

    predictor = Predictor(load_checkpoint(model_path))
    X = np.random.default_rng(0).random((n, len(predictor.axis)), dtype=np.float32)
    predictor.predict(X[:batch], batch)  # warm-up
    start = time.perf_counter()
    predictor.predict(X, batch)
    return n / (time.perf_counter() - start), torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        models = {"paper-shape ViT": Path(args.model) if args.model else paper_vit(Path(tmp) / "vit.safetensors")}
        if DEFAULT.exists() and not args.model:
            models["shipped default"] = DEFAULT
        base = wall([sys.executable, "-c", "import torch"], args.repeats)
        print(f"python -c 'import torch': {base:.3f} s (median of {args.repeats})")
        for label, path in models.items():
            t = wall(spectool_cmd() + ["predict", "--top", "5", "-m", str(path), str(SCAN)], args.repeats)
            verdict = "meets" if t <= 2 * base else "MISSES"
            print(f"spectool predict --top 5 example.xy [{label}]: {t:.3f} s = {t / base:.2f}x import torch "
                  f"({verdict} the <= 2x target)")
        rate, threads = throughput(models["paper-shape ViT"])
        print(f"batch inference, paper-shape ViT (patch 120, dim 120, depth 7, 4 heads), 4,251 points: "
              f"{rate:.0f} spectra/s on CPU ({threads} threads, batches of 256)")


if __name__ == "__main__":
    main()
