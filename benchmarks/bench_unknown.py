"""predict's "unknown" as a detector: AUROC of the unknown score on structure types the model never saw.

    python benchmarks/bench_unknown.py [--model spectool/data/default.safetensors] [--build build/model]
                                       [--n 100] [--seed 1] [--threads 2] [--work DIR]
                                       [--library build/model/library]

The unknown score is what predict --refine thresholds: the share of measured peak area its final
(joint) fit leaves unexplained. Positives must be types held out of training ENTIRELY (the model's
test set holds out compounds, not types), negatives held-out compounds of known types:

1. Simulated: positives are Materials Project prototypes (../shared/data/cifs/mp-prototypes, ≤ 40 sites)
   whose (space group, stoichiometry) pair no class of the model has, so they cannot be one of its
   structure types; negatives are rows of the model's held-out compound set (sim-test.h5) that the
   calibration (tools/calibrate_unknown.py, its seed) did not use. Both simulated on the model's axis
   and turned into scans the same way (calibrate_unknown.as_scan).
2. Measured RockJock references: minerals of a type the model knows (with ``--library``, those the
   corpus library the model was trained on covers; without, bench_default_model.MEASURED, the AFLOW
   part-1 mapping of the first model) against crystalline minerals of types it does not know;
   amorphous entries and minerals near a known type (tridymite, maghemite, pyrrhotite …) left out.

For each: AUROC (Mann–Whitney), and the checkpoint threshold's true-positive rate (unknown types
called unknown) and false-positive rate (known types called unknown). Where the checkpoint has a
confidence model (tools/calibrate_unknown.py), the simulated part also gives the confidence of the
answers on unknown types, every one of them wrong: how often a user would be told to trust them.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from math import gcd
from functools import reduce
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tools"))
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "data").is_dir()), ROOT.parent / "shared")
MP = SHARED / "data" / "cifs" / "mp-prototypes"
ROCKJOCK = SHARED / "data" / "xrd" / "rockjock" / "rockjock_refs"
#: RockJock entries that are no crystal (or hardly one): no structure type to know.
AMORPHOUS = ("BACK_", "OPAL", "Opal", "OBSIDIAN", "PEAT", "CHARCOAL", "DIATOMS", "KEROGEN", "FULVIC", "HUMIC",
             "ORGANIC", "TEPHRA", "GLASS", "FERRIHYDRITE", "SMECTITE_AND_AMORPH", "PSILOMELANE")
#: RockJock minerals of (or very near) a structure type among the model's classes besides MEASURED's:
#: neither clearly known nor clearly unknown.
NEAR_KNOWN = ("TRIDYMITE", "MAGHEMITE", "PYRRHOTITE", "ARSENOPYRITE", "SULFUR", "BRUCITE", "CHERT",
              "MG_CALCITE", "HEMATITE_FINE")


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(score of a positive > score of a negative), ties counting ½ (Mann–Whitney U / n₊n₋)."""
    p, n = np.asarray(positive, float)[:, None], np.asarray(negative, float)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / max(p.size * n.size, 1))


def counts(formula_group: str) -> tuple[int, ...]:
    """Sorted reduced element counts of an anonymous formula: 'A2B2C2X' and 'AB2_tI6_…' → (1, 2, 2, 2)."""
    import re

    n = [int(c or 1) for c in re.findall(r"[A-Z][a-z]?(\d*)", formula_group.split("_")[0])]
    g = reduce(gcd, n) if n else 1
    return tuple(sorted(c // g for c in n))


def unseen_type_cifs(types_csv: Path, n: int, seed: int, max_sites: int = 40) -> list[Path]:
    """n MP prototype CIFs (≤ max_sites) whose (space group, stoichiometry) no class of the model has
    (the types.csv of an AFLOW part-1 corpus, or of a ``corpus library``: its type keys, and the keys of
    every structure in its manifest.csv, since one type holds several orderings of its structure)."""
    from spectool.corpus.typekey import ENANTIOMORPHS

    with open(types_csv, newline="") as f:
        known = {(int(r["spacegroup"]), counts(r.get("aflow") or r["key"])) for r in csv.DictReader(f)}
    manifest = types_csv.parent / "manifest.csv"
    if manifest.is_file():
        with open(manifest, newline="") as f:
            known |= {(int(r["spacegroup"]), counts(r["key"])) for r in csv.DictReader(f) if r.get("key")}
    known |= {(other, c) for number, c in list(known) for other, low in ENANTIOMORPHS.items() if low == number}
    with open(MP / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if not r.get("error") and int(r["nsites"]) <= max_sites
                and (int(r["spacegroup_number"]), counts(r["stoichiometry_group"])) not in known]
    pick = np.random.default_rng(seed).choice(len(rows), size=min(n, len(rows)), replace=False)
    return [MP / rows[i]["file"] for i in sorted(pick)]


def simulated(verifier, build: Path, work: Path, n: int, seed: int, calibration: tuple[int, int]):
    """(positive scores, negative scores, negatives whose top-1 was right, the positives' confidences where the
    verifier has a confidence model) of the simulated sets."""
    from bench_default_model import corpus_folder
    from calibrate_unknown import calibration_rows, scan_verdicts, unknown_score, unknown_scores

    from spectool.env import Env
    from spectool.io.sets import open_set

    cifs = unseen_type_cifs(corpus_folder(build) / "types.csv", n, seed)
    listing, unseen = work / "unseen.txt", work / "unseen.h5"
    wanted = "".join(f"{p}\n" for p in cifs)
    if unseen.exists() and not (listing.exists() and listing.read_text() == wanted):
        unseen.unlink()  # simulated from another draw (another library, seed or rule): not these prototypes
    listing.write_text(wanted)
    if not unseen.exists():
        subprocess.run([sys.executable, "-m", "spectool", "simulate", "--from-list", str(listing), "-q", "-o",
                        str(unseen)], check=True, cwd=ROOT)
    rng = np.random.default_rng(seed)
    with open_set(str(unseen), Env()) as reader:
        chunk = reader.read_rows(0, len(reader), peaks=False)
        verdicts = scan_verdicts(verifier, chunk.X, reader.meta.axis, reader.meta.wavelength, rng)
        pos = [unknown_score(v) for v in verdicts]
        confident = [v.confidence for v in verdicts if v is not None and v.confidence is not None]
    with open_set(str(build / "sim-test.h5"), Env()) as reader:
        used = set(calibration_rows(len(reader), *calibration).tolist())
        free = [i for i in range(len(reader)) if i not in used]
        rows = np.sort(rng.choice(free, size=min(n, len(free)), replace=False))
        chunk = reader.read_rows(0, len(reader), peaks=False)
        names = reader.meta.label_names
        neg = unknown_scores(verifier, chunk.X[rows], reader.meta.axis, reader.meta.wavelength, rng)
    right = [s[1] == names[chunk.y[i]] for s, i in zip(neg, rows) if s is not None]
    return [s[0] for s in pos if s], [s[0] for s in neg if s], right, confident


def known_references(library: Path | None) -> set[str]:
    """RockJock references of a type the model knows: those the corpus ``library`` the model was trained on
    covers (bench_corpus_coverage's rule), else the AFLOW part-1 mapping of bench_default_model.MEASURED."""
    from bench_default_model import MEASURED, covered_references

    return set(covered_references(library)) if library is not None else set(MEASURED)


def measured(verifier, limit: int | None, library: Path | None = None):
    """{mineral: unknown score} of RockJock references of known and of unknown types."""
    from spectool.env import Env
    from spectool.io.spectra import iter_spectra

    known, unknown = {}, {}
    known_names = known_references(library)
    paths = sorted(ROCKJOCK.glob("*.xy"))
    for path in paths:
        name = path.stem
        if name.startswith(AMORPHOUS) or any(k in name for k in AMORPHOUS + NEAR_KNOWN):
            continue
        into = known if name in known_names else unknown
        if limit is not None and len(into) >= limit:
            continue
        for _, item in iter_spectra([str(path)], Env(), wavelength=1.5406):
            (verdict,) = verifier.verdicts(item, verifier.predictor.prepare(item))
            if not isinstance(verdict, Exception) and verdict.phases is not None:
                into[name] = (verdict.phases.unexplained, verdict.labels)
    return known, unknown


def report(title: str, pos, neg, threshold: float | None) -> None:
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    line = f"  AUROC {auroc(pos, neg):.3f}  (unknown types n = {pos.size}, known n = {neg.size}); " \
           f"unknown score median {np.median(pos):.3f} vs {np.median(neg):.3f}"
    print(f"{title}:\n{line}")
    if threshold is not None:
        print(f"  threshold {threshold:.3f}: true-positive rate {np.mean(pos > threshold):.1%} "
              f"(unknown types called unknown), false-positive rate {np.mean(neg > threshold):.1%} "
              f"(known types called unknown)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "spectool" / "data" / "default.safetensors"))
    ap.add_argument("--build", default=str(ROOT / "build" / "model"))
    ap.add_argument("--n", type=int, default=100, help="simulated scans per side (40 gave AUROC 0.816 and 0.865 on two draws)")
    ap.add_argument("--seed", type=int, default=1, help="draws of this benchmark (the calibration's is --cal-seed)")
    ap.add_argument("--cal-n", type=int, default=300, help="rows the calibration used (make references: CALIBRATE_N)")
    ap.add_argument("--cal-seed", type=int, default=0, help="its seed (make references: SEED)")
    ap.add_argument("--limit", type=int, default=None, help="at most N measured scans per side")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--library", type=Path, default=None,
                    help="the corpus library folder the model was trained on: a RockJock reference is of a known "
                         "type when the library covers it (default: the AFLOW part-1 mapping of the first model)")
    ap.add_argument("--work", default=None, help="folder for the simulated unseen types (kept; default: temporary)")
    args = ap.parse_args()
    from bench_verify import model_with_references

    from spectool.learn.verification import Verifier

    loaded = model_with_references(args.model, args.threads)
    if loaded is None:
        return
    predictor, refs, meta = loaded
    from spectool.fit.confidence import Confidence

    threshold = meta.get("unknown_threshold")
    verifier = Verifier(predictor, refs, 10, confidence=Confidence.from_json(meta.get("confidence")))
    print(f"model {args.model}: {len(predictor.labels)} classes, unknown_threshold {threshold}")
    build = Path(args.build)
    if MP.exists() and (build / "sim-test.h5").exists():
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(args.work or tmp)
            work.mkdir(parents=True, exist_ok=True)
            pos, neg, right, confident = simulated(verifier, build, work, args.n, args.seed,
                                                   (args.cal_n, args.cal_seed))
        report("simulated: MP prototypes of types no class has vs held-out compounds of known types", pos, neg,
               threshold)
        print(f"  (negatives whose verified top-1 was right: {np.mean(right):.1%})")
        if confident:
            c = np.array(confident)
            print(f"  confidence of the (wrong) answers on unknown types: median {np.median(c):.2f}, "
                  f"{100 * np.mean(c >= 0.5):.1f} % at ≥ 0.5, {100 * np.mean(c >= 0.7):.1f} % at ≥ 0.7 (n = {c.size})")
    else:
        print(f"skipped the simulated sets: {MP} or {build / 'sim-test.h5'} not found")
    if ROCKJOCK.exists():
        known, unknown = measured(verifier, args.limit, args.library)
        report("measured RockJock references: types the model does not know vs types it knows",
               [s for s, _ in unknown.values()], [s for s, _ in known.values()], threshold)
        if threshold is not None:
            called = sorted(m for m, (s, _) in unknown.items() if s > threshold)
            missed = sorted(m for m, (s, _) in unknown.items() if s <= threshold)
            wrong = sorted(m for m, (s, _) in known.items() if s > threshold)
            print(f"  unknown types called unknown ({len(called)}): {', '.join(called)}")
            print(f"  unknown types NOT called unknown ({len(missed)}): "
                  + ", ".join(f"{m} (as {'+'.join(unknown[m][1])}, {unknown[m][0]:.2f})" for m in missed))
            print(f"  known types called unknown ({len(wrong)}): "
                  + ", ".join(f"{m} ({known[m][0]:.2f})" for m in wrong))


if __name__ == "__main__":
    main()
