"""Accuracy in the spirit of the ViT paper: phases from ../shared/data/cifs → simulate → augment →
train ViT, CNN and kNN → top-1/3/5 on held-back patterns and on measured RockJock patterns of the
same phases; mean ± std over seeds, with training times. Everything goes through the spectool CLI.

    python benchmarks/bench_accuracy.py [--phases 100] [--seeds 3] [--train-copies 40] [--work DIR]
    python benchmarks/bench_accuracy.py --case six      # six binary structures (the train issue's case)
    python benchmarks/bench_accuracy.py --case six --models cnn,cnn:fp32   # train's default against --no-amp
    python benchmarks/bench_accuracy.py --case sample --phases 100 --seeds 1 --models cnn,vit   # 100 random CIFs

MODEL:fp32 trains with ``--no-amp`` (float32 throughout), MODEL:bf16 under CPU bfloat16 autocast whatever
train would pick (train autocasts the CNN and ResNet on a CPU with native bfloat16, never the ViT).

``--case sample``: a seeded random sample of ``--phases`` CIFs among all of ../shared/data/cifs (not picked by
hand; a structure simulate refuses is dropped and counted), each its own class. Beside each model's top-1 on
the validation rows, search–match on the same rows: the cosine similarity of each prepared row to the clean
simulated pattern of every phase (through the same recipe), the best one named.

Training runs at spectool's defaults (batch size, patience, ViT smear scaled to the set). Each phase is one
structure, so no structure can be held out of training: validation (early stopping, the best epoch) is a third
augmentation of the same structures with its own seed, apart from the held-back test copies.

Phases: every mp-prototype that is exactly a RockJock mineral (formula and space group), then
random prototypes with at most --max-sites sites up to --phases. Held-back patterns are augmented
copies drawn with another seed; measured patterns go through `spectool preprocess` (SNIP baseline,
the training grid, max normalisation) before `spectool predict --eval`.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
if not DATA.exists():  # a worktree under ../wt/NAME
    DATA = ROOT.parent.parent / "shared" / "data"
MP = DATA / "cifs" / "mp-prototypes"
ROCKJOCK = DATA / "xrd" / "rockjock" / "rockjock_refs"
GRID = "5:65:0.02"

# RockJock reference → (formula, space group number) of the same phase among the mp-prototypes
MINERALS = {
    "QUARTZ": ("SiO2", 152), "CALCITE": ("CaCO3", 167), "HALITE": ("NaCl", 225), "CORUNDUM": ("Al2O3", 167),
    "MAGNESITE": ("MgCO3", 167), "SIDERITE": ("FeCO3", 167), "BARITE": ("BaSO4", 62),
    "ANHYDRITE": ("CaSO4", 63), "MARCASITE": ("FeS2", 58), "HEMATITE": ("Fe2O3", 167),
    "ANATASE": ("TiO2", 141), "ZINCITE": ("ZnO", 186), "MAGNETITE": ("Fe3O4", 227),
    "STRONTIANITE": ("SrCO3", 62), "ZIRCON": ("ZrSiO4", 141), "SYLVITE": ("KCl", 225),
    "FLUORITE": ("CaF2", 225), "FOSTERITE": ("Mg2SiO4", 62), "SPINEL": ("MgAl2O4", 227),
    "ANGLESITE": ("PbSO4", 62), "CELESTINE": ("SrSO4", 62), "THENARDITE": ("Na2SO4", 70),
    "ARSENOPYRITE": ("FeAsS", 14),
}
MODELS = {"vit": [], "cnn": [], "knn": []}
#: train with CPU bfloat16 autocast for any model (MODEL:bf16; train itself does so for the CNN and ResNet only)
BF16_TRAIN = ("import sys, torch; import spectool.learn.train as t; "
              "t.amp_dtype = lambda device, model, cpu_bf16=None: torch.bfloat16 if device.type == 'cpu' else None; "
              "from spectool.cli.main import main; main(sys.argv[1:])")


def spectool(*args: str, log=None, bf16: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, *(["-c", BF16_TRAIN] if bf16 else ["-m", "spectool"]), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if log is not None:
        log.write(f"$ spectool {' '.join(args)}\n{out.stderr}\n")
        log.flush()
    if out.returncode not in (0, 1):
        raise SystemExit(f"spectool {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out


def select_phases(n: int, max_sites: int, seed: int) -> tuple[list[Path], dict[str, str]]:
    """CIF paths (matched minerals first) and mineral → mp id of the matches."""
    from pymatgen.core import Composition

    rows = list(csv.DictReader(open(MP / "labels.csv")))
    key = {(Composition(r["formula"]).reduced_formula, int(r["spacegroup_number"])): r for r in rows}
    matched = {}
    for mineral, (formula, number) in MINERALS.items():
        row = key.get((Composition(formula).reduced_formula, number))
        if row and (ROCKJOCK / f"{mineral}.xy").exists():
            matched[mineral] = row["mp_id"]
    chosen = {matched[m] for m in matched}
    others = [r for r in rows if r["mp_id"] not in chosen and int(r["nsites"]) <= max_sites and not r["error"]]
    random.Random(seed).shuffle(others)
    picks = [r for r in rows if r["mp_id"] in chosen] + others[:max(0, n - len(chosen))]
    return [MP / r["file"] for r in picks], matched


RECIPE = ["-s", "baseline:method=snip", "--grid", GRID, "-s", "clip", "-s", "normalize:method=max"]


def build_sets(work: Path, cifs: list[Path], matched: dict, copies: int, test_copies: int, log) -> dict:
    """Simulated phases, augmented (backgrounds and noise included) and then put through the same recipe as
    the measured scans, so training, held-back and measured patterns are prepared alike."""
    sim, train, test, val = work / "sim.h5", work / "train.h5", work / "test.h5", work / "val.h5"
    listing = work / "cifs.txt"
    listing.write_text("\n".join(map(str, cifs)) + "\n")
    spectool("simulate", "--from-list", str(listing), "--range", GRID.rsplit(":", 1)[0], "--step", "0.02",
             "--label", "stem", "--workers", "2", "-o", str(sim), log=log)
    for out, n, seed in ((train, copies, "1"), (test, test_copies, "2"), (val, test_copies, "3")):
        raw = out.with_name("raw-" + out.name)
        spectool("augment", str(sim), "-n", str(n), "--preset", "both", "--seed", seed, "-j", "2", "-o", str(raw), log=log)
        spectool("preprocess", str(raw), *RECIPE, "-o", str(out), log=log)
    spectool("preprocess", str(sim), *RECIPE, "-o", str(work / "sim-prepared.h5"), log=log)
    if not matched:
        return {"train": train, "test": test, "val": val, "sim": work / "sim-prepared.h5"}
    labels = work / "measured_labels.csv"
    labels.write_text("id,label\n" + "".join(f"{m}.xy,{mp}\n" for m, mp in matched.items()))
    measured = work / "measured.h5"
    scans = [str(ROCKJOCK / f"{m}.xy") for m in matched]
    spectool("preprocess", *scans, *RECIPE, "--label", str(labels), "-o", str(measured), log=log)
    return {"train": train, "test": test, "val": val, "measured": measured, "sim": work / "sim-prepared.h5"}


def random_cifs(n: int, seed: int) -> list[Path]:
    """``n`` CIFs drawn at random (``seed``) among every CIF under ../shared/data/cifs, in a sorted listing."""
    every = sorted((DATA / "cifs").rglob("*.cif"))
    return random.Random(seed).sample(every, min(n, len(every)))


def validation_top1(model: Path) -> float:
    """The validation top-1 train stored in the checkpoint (the kept weights, float32, on the --val rows)."""
    from safetensors import safe_open

    with safe_open(str(model), "np") as f:
        return float(json.loads(f.metadata()["train"])["val"]["top1"])


def search_match(references: Path, data: Path) -> float:
    """Top-1 of naming each row of ``data`` by its most cosine-similar row of ``references`` (same recipe, same
    axis): search–match against the clean simulated pattern of every phase."""
    import h5py
    import numpy as np

    def unit(path):
        with h5py.File(path) as f:
            X = f["entry/data/X"][:].astype(np.float64)
        return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)

    names = np.array(truths(references))
    best = names[(unit(data) @ unit(references).T).argmax(1)]
    return float((best == np.array(truths(data))).mean())


def six_structures(folder: Path) -> list[Path]:
    """Rock salt, CsCl, zinc blende, fluorite, rutile and wurtzite (as tests/cli/test_train_defaults.py)."""
    sys.path.insert(0, str(ROOT))
    from tests.cli.test_train_defaults import six_structures as make

    folder.mkdir(parents=True, exist_ok=True)
    make(folder)
    return sorted(folder.glob("*.cif"))


def evaluate(model: Path, data: Path, log) -> list[list[str]]:
    """The top-5 labels of every row of ``data``, in row order.

    By order, not by the record's ``path``: augmented copies keep their structure's id, so a held-back set's
    rows share six names, and a dict keyed by name kept one copy per class (a 77 % model scored 50 %).
    """
    out = spectool("predict", "-m", str(model), "--top", "5", "--eval", "--confusion", str(model.with_suffix("")) +
                   f".{data.stem}", "-q", "--json", str(data), log=log)
    return [[t["label"] for t in json.loads(line)["top"]] for line in out.stdout.splitlines()]


def topk(ranks: list[list[str]], truth: list[str]) -> dict[int, float]:
    if len(ranks) != len(truth):
        raise SystemExit(f"predict answered {len(ranks)} of {len(truth)} rows")
    hits = {k: sum(label in labels[:k] for labels, label in zip(ranks, truth)) for k in (1, 3, 5)}
    return {k: v / max(len(ranks), 1) for k, v in hits.items()}


def truths(data: Path) -> list[str]:
    """The label of every row of a set, in row order."""
    import h5py

    with h5py.File(data) as f:
        names = [n.decode() for n in f["entry/labels/names"][:]]
        return [names[y] for y in f["entry/labels/y"][:]]


def train(name: str, sets: dict, seed: int, work: Path, epochs: int, patience: int | None, log,
          threads: int = 2) -> tuple[Path, float]:
    kind, _, precision = name.partition(":")
    out = work / f"{kind}{'-' + precision if precision else ''}-{seed}.safetensors"
    args = ["train", str(sets["train"]), "--val", str(sets["val"]), "--model", kind, "--seed", str(seed),
            "-o", str(out), "-q"]
    if kind != "knn":
        args += ["--epochs", str(epochs), "--threads", str(threads)] + ([] if patience is None else
                                                                        ["--patience", str(patience)])
        args += ["--no-amp"] if precision == "fp32" else []
    else:
        args += ["--arg", "n_neighbors=1"]
    start = time.perf_counter()
    spectool(*args, log=log, bf16=precision == "bf16")
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phases", type=int, default=100)
    parser.add_argument("--max-sites", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--train-copies", type=int, default=40)
    parser.add_argument("--test-copies", type=int, default=5)
    parser.add_argument("--case", choices=("phases", "six", "sample"), default="phases")
    parser.add_argument("--sample-seed", type=int, default=0, help="--case sample: the seed of the draw")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each training run")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=None, help="optimiser steps [default: train's]")
    parser.add_argument("--models", default="vit,cnn,knn", help="MODEL, MODEL:fp32 (--no-amp) or MODEL:bf16 (CPU "
                        "bf16 autocast), by commas")
    parser.add_argument("--work", default=str(ROOT / "bench-out" / "accuracy"))
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log = open(work / "log.txt", "w")
    if args.case == "six":
        cifs, matched = six_structures(work / "cifs"), {}
    elif args.case == "sample":
        cifs, matched = random_cifs(args.phases, args.sample_seed), {}
    else:
        cifs, matched = select_phases(args.phases, args.max_sites, seed=0)
    print(f"{len(cifs)} phases ({len(matched)} with a measured RockJock reference: {', '.join(sorted(matched))})")
    start = time.perf_counter()
    sets = build_sets(work, cifs, matched, args.train_copies, args.test_copies, log)
    print(f"data: simulate + augment ({args.train_copies} train, {args.test_copies} held-back copies per phase) + "
          f"preprocess measured in {time.perf_counter() - start:.0f} s")
    print(f"training: train's defaults, at most {args.epochs} epochs, validation on a separately seeded augmentation "
          "(the best epoch is kept)")
    truth = {s: truths(sets[s]) for s in ("test", "measured") if s in sets}
    results: dict[str, list] = {k: [] for k in args.models.split(",")}
    for kind in results:
        for seed in range(args.seeds):
            model, seconds = train(kind, sets, seed, work, args.epochs, args.patience, log, args.threads)
            ranks = evaluate(model, sets["test"], log)
            held = topk(ranks, truth["test"])
            measured = topk(evaluate(model, sets["measured"], log), truth["measured"]) if "measured" in sets else \
                {1: 0.0, 3: 0.0, 5: 0.0}
            val = validation_top1(model)
            results[kind].append((held, measured, seconds, val, [r[0] for r in ranks]))
            print(f"  {kind} seed {seed}: held-back top-1 {held[1]:.1%}, measured top-1 {measured[1]:.1%}, "
                  f"validation top-1 {val:.1%}, {seconds:.0f} s", flush=True)
    if args.case == "sample":
        print(f"search–match (cosine to the {len(truths(sets['sim']))} clean simulated patterns, same recipe): "
              f"validation top-1 {search_match(sets['sim'], sets['val']):.1%}, held-back top-1 "
              f"{search_match(sets['sim'], sets['test']):.1%}")
    report(results, len(truths(sets["sim"])), len(matched))


def report(results: dict, phases: int, minerals: int) -> None:
    def ms(values):
        return f"{100 * statistics.mean(values):5.1f} ± {100 * (statistics.stdev(values) if len(values) > 1 else 0):4.1f}"

    print(f"\n{phases} phases; mean ± std over seeds; held-back = augmented copies with another seed; "
          f"measured = {minerals} RockJock references")
    print(f"{'model':9} {'val top-1':>14} {'held top-1':>14} {'top-3':>14} {'top-5':>14} {'meas top-1':>14} "
          f"{'top-3':>14} {'top-5':>14} {'train s':>8}")
    for kind, runs in results.items():
        cols = [ms([r[3] for r in runs])] + [ms([r[0][k] for r in runs]) for k in (1, 3, 5)] + \
            [ms([r[1][k] for r in runs]) for k in (1, 3, 5)]
        print(f"{kind:9} " + " ".join(f"{c:>14}" for c in cols) + f" {statistics.mean(r[2] for r in runs):8.0f}")
    for kind, runs in results.items():
        base = kind.partition(":")[0]
        if kind != base and base in results:  # the same seed's held-back top-1 answers, row by row
            same = [statistics.mean(a == b for a, b in zip(r[4], q[4])) for r, q in zip(runs, results[base])]
            print(f"{kind} vs {base}: same held-back top-1 answer on {ms(same)} % of the rows (mean ± std over seeds)")


if __name__ == "__main__":
    main()
