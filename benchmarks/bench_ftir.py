"""FTIR identification of plastics: does the XRD ViT transfer to infrared (PAPERS.md A)?

Data: the FTIR spectra of plastics the ``xpectrass`` package (PyPI, MIT) ships, labelled by polymer,
from several studies. The wheel is fetched with ``pip download --no-deps xpectrass`` into a cache
folder outside the repository (``--cache``, default ``~/.cache/spectool-bench/xpectrass``) and read
there; nothing of it is committed. Used: Villegas-Camacho 2024 (8 cm⁻¹ set), Jung 2018, Kedzierski
2019 and Frond 2021; the 4 cm⁻¹ Villegas-Camacho set (the same samples again) and Kedzierski's
coded "_u" set (no polymer names) are left out. Labels: HDPE/LDPE/PE → PE; codes that name no single
polymer (mixtures, unknowns, "R", "CE", …) are dropped; at most ``--per-class`` spectra per study and
polymer are kept (seeded), so no study swamps the rest and the run fits the CPU budget.

Every spectrum goes through spectool's named recipe ``ftir`` (transmittance → absorbance where a row is
transmittance, 700–3500 cm⁻¹ on a 2 cm⁻¹ grid, 0–1) and is written as a spectool set with that recipe
in its history. Two splits:

1. random: all studies pooled, 20 % of each polymer held out (seeded);
2. domain shift: train on Villegas-Camacho + Jung + Kedzierski, test on Frond 2021 (another lab,
   instrument and half of it environmental samples), polymers the training studies know.

Models, each trained by ``spectool train`` in this process (``--threads``, the same epochs, its own early stopping,
validation 20 % of the training rows, top-1/3/5 on the test set from ``--test``): ViT from scratch
(the shipped XRD ViT's architecture: patch 120, dim 96, depth 4, 4 heads), the ViT transferred from
spectool/data/xrd-vit.safetensors (``--init``; 36 XRD segments → 12 FTIR ones) with position embeddings
interpolated and learned anew, the CNN (spectool's default), kNN (k = 5) and logistic regression
(lbfgs, at most 300 iterations: the default 1000 costs minutes for a point or less). Over ``--seeds`` seeds: mean ± std
of top-1/3/5 and training time. Target (issue 19): transfer ≥ scratch + 5 points top-1 on the
domain-shift split.

    nice -n 10 python benchmarks/bench_ftir.py [--seeds 0 1 2] [--epochs 15] [--per-class 60] [--threads 1]
    python benchmarks/bench_ftir.py --splits "domain shift" --models "vit probe: frozen XRD backbone" \
        "vit probe: frozen random backbone"     # why transfer helps as much as it does

Measured 2026-11-27 on the shared 2-core machine (load ≈ 10 from other jobs), ``nice -n 10``, 1 torch
thread, defaults (60 per study and polymer: 1,032 spectra; 15 epochs; seeds 0, 1, 2), 1,576 s in all.
Mean ± std over the seeds, top-1 / top-3 / top-5 in %, training time in s (wall, disturbed by the load):

    split (train/test rows)     model                       top-1        top-3        top-5        train s
    random (824/208)            vit scratch                 96.3 ± 0.2   99.5 ± 0.0   99.5 ± 0.0    45
                                vit transfer (interpolate)  96.6 ± 1.4   98.2 ± 0.6   99.0 ± 0.4    33
                                vit transfer (relearn)      95.5 ± 1.3   98.9 ± 0.2   99.2 ± 0.5    31
                                cnn                         97.9 ± 0.6   99.7 ± 0.2   99.8 ± 0.2   105
                                knn                         95.7 ± 1.0   99.5 ± 0.7   99.5 ± 0.7     1
                                logreg                      96.3 ± 1.0   99.0 ± 0.4   99.8 ± 0.2    46
    domain shift (733/267)      vit scratch                 76.5 ± 1.2   87.6 ± 1.8   91.8 ± 0.8    32
                                vit transfer (interpolate)  79.7 ± 0.9   87.4 ± 1.7   93.0 ± 1.5    24
                                vit transfer (relearn)      73.2 ± 1.8   84.3 ± 2.1   88.9 ± 1.8    29
                                cnn                         85.8 ± 0.3   89.1 ± 0.8   91.6 ± 0.2   111
                                knn                         78.5 ± 0.2   85.5 ± 0.6   86.9 ± 0.0     0
                                logreg                      81.0 ± 0.2   89.6 ± 1.1   93.3 ± 0.6    52

Rerun 2026-11-27 on the domain shift with the retrained default model (2,590 types; 1 thread, load ≈ 5):
vit scratch 76.5 ± 1.2, vit transfer (interpolate) 78.9 ± 1.7 (+2.4), frozen XRD backbone 67.4 ± 2.1 against a
frozen untrained one 32.7 ± 0.7, cnn 85.8 ± 0.3, knn 78.5 ± 0.2, logreg 81.0 ± 0.2 % top-1 (3 seeds, 222 s in all):
the same picture as below.

Transfer (interpolated position embeddings) − scratch on the domain shift: +3.1 points top-1, short of the
+5 target; re-learned position embeddings: −3.4 (interpolation is the default for that reason). Why not
more, measured with both backbones frozen and only a new head trained (the probes above): the XRD
backbone's features give 65.9 ± 1.1 % top-1 on the domain shift (3 seeds, 408 s), the same
architecture's untrained weights 33.0 ± 1.1 %: the XRD features do carry over to infrared (bands,
like peaks, are local shapes on a smooth background). But 733 labelled spectra of 10 polymers are enough to learn those features
from scratch (76.5 %), and what remains is the shift between laboratories (Frond 2021: another
instrument, half of it weathered environmental samples), which no initialisation addresses: every model
stops at 73–86 %, and the shift-tolerant CNN does best. The paper's +11.5 points were on 3,753 organic
molecules, far more classes than 10 polymers, where a prior matters more; here, with 15 per study and polymer (210
training rows, seeds 0 and 1) the ViTs are undertrained and differ by ±10 points from seed to seed
(scratch 49.6 / 65.5 %, interpolate 52.1 / 54.6 %, relearn 59.7 / 47.9 %), no consistent gain either.
"""

from __future__ import annotations

import argparse
import json
import lzma
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
XRD_VIT = REPO / "spectool" / "data" / "xrd-vit.safetensors"  # make transfer-model
STUDIES = {"jung_2018": "train", "kedzierski_2019": "train", "villegas_camacho_2024_c8": "train",
           "frond_2021": "test"}
RENAME = {"HDPE": "PE", "LDPE": "PE"}
POLYMERS = {"PE", "PP", "PS", "PET", "PVC", "PA", "PU", "ABS", "PC", "PMMA", "PEVA", "CA", "PLA"}
VIT = ["--patch", "120", "--dim", "96", "--depth", "4", "--heads", "4"]
#: the default set; the probes (frozen backbones, only the head trained) answer why transfer helps or not
DEFAULT_MODELS = ["vit scratch", "vit transfer (interpolate)", "vit transfer (relearn)", "cnn", "knn", "logreg"]
MODELS = {
    "vit scratch": ["-m", "vit", *VIT],
    "vit transfer (interpolate)": ["-m", "vit", "--init", str(XRD_VIT), "--pos-embed", "interpolate"],
    "vit transfer (relearn)": ["-m", "vit", "--init", str(XRD_VIT), "--pos-embed", "relearn"],
    "vit probe: frozen XRD backbone": ["-m", "vit", "--init", str(XRD_VIT), "--freeze"],
    "vit probe: frozen random backbone": ["-m", "vit", "--init", "{random}", "--freeze"],
    "cnn": ["-m", "cnn"],
    "knn": ["-m", "knn"],
    "logreg": ["-m", "logreg", "--arg", "max_iter=300"],
}


def wheel(cache: Path) -> Path:
    """The xpectrass wheel in ``cache``, downloaded by pip the first time."""
    found = sorted(cache.glob("xpectrass-*.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "xpectrass", "-d", str(cache)],
                       check=True)
        found = sorted(cache.glob("xpectrass-*.whl"))
    return found[-1]


def read_study(whl: Path, name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(axis (L,) cm⁻¹ ascending, spectra (N, L), polymer names (N,)) of one study in the wheel."""
    import io

    import pandas as pd

    with zipfile.ZipFile(whl) as z:
        frame = pd.read_csv(io.BytesIO(lzma.decompress(z.read(f"xpectrass/data/{name}.csv.xz"))))
    axis = np.array([float(c) for c in frame.columns[5:]])
    X = frame.iloc[:, 5:].to_numpy(np.float64)
    order = np.argsort(axis)
    return axis[order], X[:, order], [RENAME.get(t, t) for t in frame["type"].astype(str)]


def prepare(whl: Path, per_class: int, seed: int) -> dict:
    """Per study: the rows through the ``ftir`` recipe (N, 1401), their polymers, the recipe's axis."""
    from spectool.signal.ops import Context
    from spectool.signal.recipe import named_recipe
    from spectool.spectra import Axis

    recipe, rng, out = named_recipe("ftir"), np.random.default_rng(seed), {}
    for name in STUDIES:
        axis, X, labels = read_study(whl, name)
        labels = np.array(labels, object)
        keep = []
        for polymer in sorted(set(labels) & POLYMERS):
            rows = np.flatnonzero(labels == polymer)
            keep += sorted(rng.permutation(rows)[:per_class].tolist())
        keep = np.array(sorted(keep))
        Y, new_axis = recipe.apply(X[keep], Axis(axis, "wavenumber", "1/cm"), Context(kind="ftir"))
        out[name] = (Y, labels[keep], new_axis)
    return {"studies": out, "recipe": recipe}


def write(path: Path, X: np.ndarray, labels: np.ndarray, axis, recipe) -> None:
    from spectool.env import Env
    from spectool.io.sets import write_set
    from spectool.spectra import Chunk, SetMeta

    record = {"command": "preprocess", "params": {"recipe": recipe.to_json()}}
    names = sorted(set(labels))
    y = np.array([names.index(t) for t in labels], np.int32)
    write_set(str(path), SetMeta(axis=axis, kind="ftir", label_names=names), Chunk(X.astype(np.float32), y), Env(),
              record=record)


def splits(data: dict, folder: Path, seed: int) -> dict[str, tuple[Path, Path, int, int]]:
    """The two splits as (train set, test set, rows, test rows)."""
    studies, recipe = data["studies"], data["recipe"]
    axis = next(iter(studies.values()))[2]
    X = np.concatenate([v[0] for v in studies.values()])
    labels = np.concatenate([v[1] for v in studies.values()])
    rng = np.random.default_rng(1000 + seed)
    test = np.zeros(len(X), bool)
    for polymer in set(labels):
        rows = rng.permutation(np.flatnonzero(labels == polymer))
        test[rows[:max(1, round(0.2 * len(rows)))]] = len(rows) >= 5
    out = {}
    out["random"] = _pair(folder / "random", X[~test], labels[~test], X[test], labels[test], axis, recipe)
    trained = [n for n, role in STUDIES.items() if role == "train"]
    Xa = np.concatenate([studies[n][0] for n in trained])
    la = np.concatenate([studies[n][1] for n in trained])
    Xb, lb = studies["frond_2021"][0], studies["frond_2021"][1]
    known = np.isin(lb, np.unique(la))
    out["domain shift"] = _pair(folder / "shift", Xa, la, Xb[known], lb[known], axis, recipe)
    return out


def _pair(stem: Path, Xa, la, Xb, lb, axis, recipe):
    stem.mkdir(parents=True, exist_ok=True)
    write(stem / "train.h5", Xa, la, axis, recipe)
    write(stem / "test.h5", Xb, lb, axis, recipe)
    return stem / "train.h5", stem / "test.h5", len(Xa), len(Xb)


def random_backbone(path: Path, seed: int) -> Path:
    """A checkpoint of the default model's architecture with its weights as initialised (seeded): what the
    XRD weights are compared with when both backbones are frozen and only a new head learns."""
    import torch

    from spectool.io.checkpoint import load_checkpoint, save_checkpoint
    from spectool.models.registry import create_model

    xrd = load_checkpoint(str(XRD_VIT))
    torch.manual_seed(seed)
    model = create_model("vit1d", **xrd.meta["model"]["kwargs"])
    save_checkpoint(path, model, labels=list(xrd.labels), input={"axis": xrd.axis, "kind": "xrd"}, preprocess=None,
                    train={"seed": seed, "note": "untrained: weights as initialised"})
    return path


def train(train_set: Path, test_set: Path, args: list[str], seed: int, epochs: int, threads: int, out: Path) -> dict:
    """One ``spectool train`` run; its test top-k and training time from the checkpoint."""
    from spectool.cli.main import run
    from spectool.io.checkpoint import load_checkpoint

    if "{random}" in args:
        args = [str(random_backbone(out.with_name("random.safetensors"), seed)) if a == "{random}" else a for a in args]
    argv = ["train", str(train_set), *args, "--epochs", str(epochs), "--seed", str(seed),
            "--threads", str(threads), "--device", "cpu", "--test", str(test_set), "-o", str(out), "-q"]
    start = time.perf_counter()
    code = run(argv)
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"spectool {' '.join(argv)} exited {code}")
    meta = load_checkpoint(str(out)).train
    return {**{k: meta["test"][k] for k in ("top1", "top3", "top5")}, "time_s": meta.get("time_s", wall),
            "wall_s": wall, "epochs": meta.get("epochs_run")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "spectool-bench" / "xpectrass")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--per-class", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS, choices=list(MODELS))
    ap.add_argument("--splits", nargs="+", default=["random", "domain shift"], choices=["random", "domain shift"])
    ap.add_argument("--json", type=Path, help="Also write every run's figures here.")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    data = prepare(wheel(a.cache), a.per_class, seed=0)
    print(f"# data: {', '.join(f'{n} {len(v[0])}' for n, v in data['studies'].items())} spectra after the ftir "
          f"recipe ({len(next(iter(data['studies'].values()))[2])} points); {time.perf_counter() - t0:.0f} s")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in a.seeds:
            for split, (tr, te, n_tr, n_te) in splits(data, Path(tmp) / f"s{seed}", seed).items():
                for model in a.models if split in a.splits else []:
                    r = train(tr, te, MODELS[model], seed, a.epochs, a.threads, Path(tmp) / "m.safetensors")
                    runs.append({"split": split, "model": model, "seed": seed, "train_rows": n_tr, "test_rows": n_te, **r})
                    print(f"# seed {seed} {split:12s} {model:28s} top1 {r['top1']:.3f} top3 {r['top3']:.3f} "
                          f"top5 {r['top5']:.3f} train {r['time_s']:.1f} s ({r['epochs']} epochs)", flush=True)
    report(runs)
    if a.json:
        a.json.write_text(json.dumps(runs, indent=1))
    print(f"# total {time.perf_counter() - t0:.0f} s")


def report(runs: list[dict]) -> None:
    print("\nsplit\tmodel\ttrain/test rows\ttop1\ttop3\ttop5\ttrain s")
    table = {}
    for split in dict.fromkeys(r["split"] for r in runs):
        for model in dict.fromkeys(r["model"] for r in runs):
            rs = [r for r in runs if r["split"] == split and r["model"] == model]
            if not rs:
                continue
            cell = {k: (np.mean([r[k] for r in rs]), np.std([r[k] for r in rs])) for k in ("top1", "top3", "top5", "time_s")}
            table[split, model] = cell
            print(f"{split}\t{model}\t{rs[0]['train_rows']}/{rs[0]['test_rows']}\t"
                  + "\t".join(f"{100 * cell[k][0]:.1f} ± {100 * cell[k][1]:.1f}" for k in ("top1", "top3", "top5"))
                  + f"\t{cell['time_s'][0]:.0f} ± {cell['time_s'][1]:.0f}  (n={len(rs)})")
    met = []
    for mode in ("interpolate", "relearn"):
        key = ("domain shift", f"vit transfer ({mode})")
        if key in table and ("domain shift", "vit scratch") in table:
            gain = 100 * (table[key]["top1"][0] - table["domain shift", "vit scratch"]["top1"][0])
            met.append(gain >= 5)
            print(f"domain shift: transfer ({mode}) − scratch = {gain:+.1f} points top-1 (target ≥ +5): "
                  + ("MET" if gain >= 5 else "NOT MET"))
    if met and not any(met):
        print("why not, as this run measured it:")
        for line in shortfall(table, runs):
            print(f"  - {line}")


def shortfall(table: dict, runs: list[dict]) -> list[str]:
    """The measured reasons, from this run's figures, that transfer stays short of scratch + 5 on the shift."""
    top1 = {key: 100 * cell["top1"][0] for key, cell in table.items()}
    shift = {m: v for (s, m), v in top1.items() if s == "domain shift" and not m.startswith("vit probe")}
    lines = []
    both = [m for m in shift if ("random", m) in top1]
    if both:
        drops = ", ".join(f"{m} {top1['random', m] - shift[m]:.1f}" for m in both)
        lines.append(f"the shift between laboratories costs every model, not only the ViTs: top-1 random − domain "
                     f"shift = {drops} points")
    if shift:
        best = max(shift, key=shift.get)
        lines.append(f"on the shift every model ends between {min(shift.values()):.1f} and {max(shift.values()):.1f} % "
                     f"top-1 (best: {best}): what limits them is the other lab's spectra, not the initialisation")
    xrd, rnd = top1.get(("domain shift", "vit probe: frozen XRD backbone")), \
        top1.get(("domain shift", "vit probe: frozen random backbone"))
    rows = next((r["train_rows"] for r in runs if r["split"] == "domain shift"), 0)
    if xrd is not None and rnd is not None:
        scratch = shift.get("vit scratch", float("nan"))
        lines.append(f"frozen backbones, only a new head trained: XRD weights {xrd:.1f} % vs untrained {rnd:.1f} % "
                     f"top-1: the XRD features carry over ({xrd - rnd:+.1f}), but {rows} labelled spectra suffice to "
                     f"learn them from scratch ({scratch:.1f} %)")
    else:
        lines.append("whether the XRD features carry over at all: rerun with --splits 'domain shift' --models "
                     "'vit probe: frozen XRD backbone' 'vit probe: frozen random backbone' 'vit scratch' "
                     "'vit transfer (interpolate)'")
    return lines


if __name__ == "__main__":
    main()
