"""The default model against a search–match baseline: top-1/top-5 on compounds held out of the
corpus and on measured RockJock patterns whose structure type is known.

    python benchmarks/bench_default_model.py [--model spectool/data/default.safetensors] [--build build/model]
                                             [--library build/library/corpus]

The baseline is what phase-identification software does: cosine similarity between the scan
(prepared exactly as predict prepares it: SNIP baseline, the model's grid, max-normalised) and a
library of simulated patterns, one per structure type (each type's prototype compound), plain and
with a lattice-scale (±5 %) and zero-shift (±0.3°) search as search–match programs do.

With --library (a `spectool corpus library` folder the model was trained on), the measured set is
every crystalline RockJock reference whose mineral names a type of the library (the coverage rule
of bench_corpus_coverage.py), not the hand mapping below to the AFLOW part-1 types.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ROCKJOCK = ROOT.parent / "shared" / "data" / "xrd" / "rockjock" / "rockjock_refs"

# RockJock reference → structure-type label of the corpus (AFLOW prototype library)
MEASURED = {
    "QUARTZ": "A2B_hP9_152_c_a", "CALCITE": "G0_1", "MAGNESITE": "G0_1", "SIDERITE": "G0_1",
    "HALITE": "B1", "SYLVITE": "B1", "GALENA": "B1", "CORUNDUM": "D5_1", "HEMATITE": "D5_1",
    "RUTILE": "C4", "FLUORITE": "C1", "PYRITE": "C2", "SPINEL": "H1_1", "MAGNETITE": "H1_1",
    "SPHALERITE": "B3", "ZINCITE": "B4", "ANATASE": "C5", "ZIRCON": "A4BC_tI24_141_h_b_a",
    "MARCASITE": "C18", "CINNABAR": "B9", "CHALCOPYRITE": "E1_1", "GRAPHITE": "A9", "IRON": "A2",
    "SILVER": "A1", "ILMENITE": "AB3C_hR10_148_c_f_c", "CRISTOBALITE": "A2B_tP12_92_b_a",
}
NOT_IN_LIBRARY = ["DOLOMITE (no dolomite type in pymatgen's AFLOW library)"]


def ranks_of(scores: np.ndarray, truth: list) -> np.ndarray:
    """Rank (1 = best) of the true class in each row of scores (N, C); a truth may be a set of
    classes (every type its mineral names), then the best-ranked of them counts."""
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.array([int(np.flatnonzero(np.isin(order[i], list(t) if isinstance(t, (set, frozenset)) else [t]))[0]) + 1
                     for i, t in enumerate(truth)])


def topk(ranks: np.ndarray) -> str:
    return f"top-1 {np.mean(ranks <= 1):6.1%}  top-5 {np.mean(ranks <= 5):6.1%}  (n = {len(ranks)})"


def library(build: Path, predictor) -> tuple[np.ndarray, list[int]]:
    """Simulated prototype pattern of every type the model knows: (T, L) on the model's axis. Where
    the build kept the training set's simulation (sim-train.h5), the library is each type's first
    structure as simulated there: the instrument the model was trained for (radiation, widths)."""
    from spectool.env import Env
    from spectool.io.sets import open_set

    index = {n: i for i, n in enumerate(predictor.labels)}
    trained = build / "sim-train.h5"
    if trained.exists():
        with open_set(str(trained), Env()) as reader:
            chunk = reader.read_rows(0, len(reader), peaks=False)
            names = reader.meta.label_names
        ids = [str(v) for v in chunk.samples["id"]]
        namesake = _namesakes(corpus_folder(build) / "manifest.csv")  # as the checkpoint's references are chosen
        first = {}
        for i in sorted(range(len(ids)), key=lambda i: (ids[i] not in namesake, "-000-" not in ids[i], ids[i])):
            first.setdefault(names[chunk.y[i]], i)
        keep = [i for name, i in sorted(first.items()) if name in index]
        return chunk.X[keep], [index[names[chunk.y[i]]] for i in keep]
    protos = build / "prototypes.h5"
    if not protos.exists():
        import subprocess

        cifs = sorted((corpus_folder(build) / "train").glob("*/*-000-*.cif"))
        listing = build / "prototypes.txt"
        listing.write_text("\n".join(map(str, cifs)) + "\n")
        subprocess.run([sys.executable, "-m", "spectool", "simulate", "--from-list", str(listing), "--label",
                        "parent", "-q", "-o", str(protos)], check=True, cwd=ROOT)
    with open_set(str(protos), Env()) as reader:
        chunk = reader.read_rows(0, len(reader), peaks=False)
        names = reader.meta.label_names
    keep = [i for i, k in enumerate(chunk.y) if names[k] in index]
    return chunk.X[keep], [index[names[chunk.y[i]]] for i in keep]


def corpus_folder(build: Path) -> Path:
    """The build's corpus library: ``BUILD/library`` as ``make model`` writes it (``BUILD/corpus`` in older builds)."""
    return next((build / name for name in ("library", "corpus") if (build / name).is_dir()), build / "library")


def _namesakes(manifest: Path) -> set[str]:
    """Ids of the structures named like their type (the references' rule, io.references.is_namesake)."""
    if not manifest.exists():
        return set()
    import csv

    from spectool.io.references import is_namesake

    with open(manifest, newline="") as f:
        return {row["id"] for row in csv.DictReader(f) if is_namesake(row)}


def search_match(X: np.ndarray, lib: np.ndarray, lib_labels: list[int], n_classes: int) -> np.ndarray:
    """Cosine similarity to every library pattern → a score per class (its best match)."""
    a = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    b = lib / np.maximum(np.linalg.norm(lib, axis=1, keepdims=True), 1e-12)
    sim = a @ b.T
    scores = np.full((len(X), n_classes), -np.inf)
    for j, c in enumerate(lib_labels):
        scores[:, c] = np.maximum(scores[:, c], sim[:, j])
    return scores


def covered_references(folder: Path) -> dict[str, frozenset[str]]:
    """RockJock reference id → the library type labels its mineral names, for the references the
    library covers (bench_corpus_coverage's rule)."""
    from benchmarks.bench_corpus_coverage import accepted, coverage, library_label_sets, library_names, references

    sets = library_label_sets(folder)
    names = dict(references())
    out = {}
    for phase_id, label in coverage(references(), library_names(folder))[0]:
        labels = {label} | {lab for n in accepted(phase_id, names[phase_id]) for lab in sets.get(n, ())}
        out[phase_id] = frozenset(labels)
    return out


def measured(predictor, mapping: dict[str, str] | None = None) -> tuple[np.ndarray, list[int], list[str]]:
    from spectool.env import Env
    from spectool.io.spectra import iter_spectra

    index = {n: i for i, n in enumerate(predictor.labels)}
    X, truth, names = [], [], []
    for mineral, label in (mapping or MEASURED).items():
        path = ROCKJOCK / f"{mineral}.xy"
        labels = {label} if isinstance(label, str) else set(label)
        if not path.exists() or not labels & set(index):
            print(f"  skipped {mineral}: " + ("no file" if not path.exists() else f"type {label} not in the model"))
            continue
        for _, item in iter_spectra([str(path)], Env(), wavelength=1.5406):
            X.append(predictor.prepare(item)[0])
            truth.append(frozenset(index[lab] for lab in labels if lab in index))
            names.append(mineral)
    return np.stack(X), truth, names


def held_out(build: Path, predictor) -> tuple[np.ndarray, list[int], list[str]]:
    """Held-out compounds (X, true class, source: aflow/amcsd/cifs per the corpus manifest, else "")."""
    from spectool.env import Env
    from spectool.io.sets import open_set

    with open_set(str(build / "sim-test.h5"), Env()) as reader:
        chunk = reader.read_rows(0, len(reader), peaks=False)
        names = reader.meta.label_names
    index = {n: i for i, n in enumerate(predictor.labels)}
    keep = [i for i, k in enumerate(chunk.y) if names[k] in index]
    manifest = corpus_folder(build) / "manifest.csv"
    origin = {}
    if manifest.exists():
        import csv

        with open(manifest, newline="") as f:
            origin = {row["id"]: row.get("source", "") for row in csv.DictReader(f)}
    ids = [str(v) for v in chunk.samples.get("id", [""] * len(chunk.y))]
    return chunk.X[keep], [index[names[chunk.y[i]]] for i in keep], [origin.get(ids[i], "") for i in keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "spectool" / "data" / "default.safetensors"))
    parser.add_argument("--build", default=str(ROOT / "build" / "model"))
    parser.add_argument("--library", type=Path, default=None, help="the corpus library folder the model was trained on")
    args = parser.parse_args()
    from spectool.io.checkpoint import load_checkpoint
    from spectool.learn.inference import Predictor

    predictor = Predictor(load_checkpoint(args.model))
    build = Path(args.build)
    train = predictor.ckpt.train
    print(f"model: {args.model}: {len(predictor.labels)} structure types, {train.get('parameters')} parameters, "
          f"best epoch {train.get('best_epoch')} of {train.get('epochs_run')}, trained {train.get('time_s', 0) / 60:.0f} min, "
          f"file {Path(args.model).stat().st_size / 2**20:.1f} MB")
    lib, lib_labels = library(build, predictor)
    C = len(predictor.labels)
    mapping = covered_references(args.library) if args.library else None
    from bench_verify import search_match_scores

    x = predictor.axis.values
    Xh, th, sources = held_out(build, predictor)
    for title, (X, truth) in (("held-out compounds (whole compounds, not augmented copies)", (Xh, th)),
                              ("measured RockJock patterns of known structure type", measured(predictor, mapping)[:2])):
        model_ranks = ranks_of(predictor.predict(X).scores, truth)
        base_ranks = ranks_of(search_match(X, lib, lib_labels, C), truth)
        warped_ranks = ranks_of(search_match_scores(X, lib, lib_labels, C, x), truth)
        print(f"\n{title}:\n  spectool model : {topk(model_ranks)}\n  search–match   : {topk(base_ranks)}"
              f"\n  search–match, lattice scale and zero shift: {topk(warped_ranks)}")
        if X is Xh and any(sources):
            for source in sorted(set(sources)):
                rows = np.array([s == source for s in sources])
                print(f"    {source or '?':8} model {topk(model_ranks[rows])}   search–match (scale, shift) "
                      f"{topk(warped_ranks[rows])}")
    X, truth, names = measured(predictor, mapping)
    pred = predictor.predict(X)
    order = np.argsort(-pred.scores, axis=1)
    print("\nper measured pattern (true type: model's top-1, rank of the true type; search–match rank):")
    base = ranks_of(search_match_scores(X, lib, lib_labels, C, x), truth)
    model = ranks_of(pred.scores, truth)
    for i, name in enumerate(names):
        true = "/".join(sorted(predictor.labels[t] for t in truth[i]))
        print(f"  {name:24} {true:22} model: {predictor.labels[order[i, 0]]:22} rank {model[i]:3}   "
              f"search–match rank {base[i]:3}")
    if not args.library:
        print("not covered: " + "; ".join(NOT_IN_LIBRARY))


if __name__ == "__main__":
    main()
