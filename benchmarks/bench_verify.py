"""predict with whole-pattern verification against the network alone and against search–match.

    python benchmarks/bench_verify.py [--model spectool/data/default.safetensors] [--build build/model]
                                      [--threads 2] [--limit N] [--mixtures 20] [--seed 0] [--phases 4]
                                      [--part single|measured|synthetic|standards|references ...]
                                      [--diagnose] [--all-members] [--cifs openchemistry|mp-prototypes] [--n-cifs 30]

1. Measured single-phase RockJock references of known structure type (the mapping of
   bench_default_model.py): top-1/top-5 of the network alone, with verification (candidates re-ranked
   by the fit), and of cosine search–match over the same library (each type's prototype, simulated)
   with a lattice-scale (±5 %) and zero-shift (±0.3°) search; where the model is calibrated, how well
   predict's confidence tells right verified answers from wrong ones (AUROC, Brier score, accuracy by band).
2. The 8 measured RockJock mixtures (weighed wt % in weights_wt_percent.csv; they hold 5-6 minerals of
   ≥ 4 wt % each, so --phases 7 is what a mineralogist would ask for): phases found of those
   ≥ 4 wt % whose structure type the library has, and the RMS wt % error over all 7 minerals,
   against search–match with iterative subtraction (fractions from its least-squares scales).
3. Synthetic mixtures, a seeded random sample (--mixtures N, default 20, --seed): each draws 2 or 3
   distinct structure types among those with a compound held out whole (build/model/corpus/test,
   never the references' training members), one held-out compound of each, weight fractions 10–90 %
   (uniform, normalised, each ≥ 10 %), cell strain within ±1 % (isotropic or per axis), zero shift
   ±0.1°, FWHM 0.08–0.2°, Cu Kα1+2, a smooth background and Poisson counting noise, mixed in
   proportion to wt / (cell mass × cell volume) of each (simulate renders per-cell Σ 2|F|² LP, so
   Hill–Howard recovers wt). Verification (--phases, default 4) against search–match with iterative
   subtraction (fractions from its scales on max-normalised patterns), same scans: phases found,
   phases in the first step's top 3, RMS wt % error over the true phases (missed = 0), spurious
   phases, time per scan. --diagnose adds, per true phase, its rank among the network's 10 candidates
   on the scan and how far the nearest reference member's cell is from the compound's (largest
   |Δa/a|, |Δb/b|, |Δc/c|; the fit moves cells by ±5 %), a tally of the missed phases by those
   causes, and an upper bound: the same search with each held-out compound's own structure added
   to its label's references.
4. (--part standards) The same 8 mixtures against measured references, as powdR's full-pattern
   summation does: RockJock's 168 measured patterns (rockjock_refs, labels and RIRs from
   rockjock_refs_labels.csv) through `--references` (scale, shift and width per reference, wt % from
   RIRs), against search–match with iterative subtraction over the same prepared patterns (fractions
   from its scales ÷ RIR): phases found (≥ 4 wt %), RMS wt % error over the 7 minerals, spurious
   phases, time per scan.
5. (--part references) The user knows the candidate structures: a seeded random set of --n-cifs CIFs
   of openchemistry-crystals or mp-prototypes (--cifs; default both, one after the other) is
   predict's --references folder; --mixtures seeded random 2–3-phase mixtures of them with the lab
   effects of 3., verification --phases 4 against search–match with iterative subtraction over the
   same structures (fractions by their computed reference intensity ratios); the first mixture
   also through `spectool predict --references` in a fresh process. --diagnose: per true phase the
   fitted scale, cell, width and Hill–Howard inputs against the truth.
6. Time per scan, warm, with and without verification (10 candidates), on --threads threads; and
   `spectool predict` as a user runs it (a fresh process, torch's default threads): one scan (start-up
   included) and a folder of --folder scans (start-up paid once), --refine against --no-refine (the
   network alone) and against search–match (in-process, per scan, same library as 1.).

Skips what it cannot find (../shared/data, build/model/corpus from `make references`).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "data").is_dir()), ROOT.parent / "shared")
ROCKJOCK = SHARED / "data" / "xrd" / "rockjock"  # ../shared from the main checkout, ../../shared from a worktree
MIX_TYPES = {"Quartz": "A2B_hP9_152_c_a", "Corundum": "D5_1"}  # the mixture minerals the AFLOW library has
#: Mixture mineral → the mineral names (lower case) whose types count as it, in a corpus library.
MIX_NAMES = {"Quartz": ["quartz"], "K_feldspar": ["orthoclase", "sanidine", "microcline"],
             "Plagioclase": ["albite", "oligoclase", "andesine", "labradorite", "anorthite"],
             "Kaolinite": ["kaolinite"], "Dioctahedral_smectite": ["montmorillonite", "beidellite"],
             "Illite": ["illite"], "Corundum": ["corundum"]}
CIF_SOURCES = {"openchemistry": SHARED / "data" / "cifs" / "openchemistry-crystals",
               "mp-prototypes": SHARED / "data" / "cifs" / "mp-prototypes"}


def warped(lib: np.ndarray, x: np.ndarray, factor: float, shift: float) -> np.ndarray:
    """Library patterns (T, L) as if every cell were ``factor`` times larger and the zero ``shift``°."""
    s = np.sin(np.radians(x - shift) / 2) * factor  # the reference angle that lands at x
    src = np.degrees(2 * np.arcsin(np.clip(s, 0, 1)))
    return np.stack([np.interp(src, x, row, left=0, right=0) for row in lib])


def search_match_scores(X, lib, lib_labels, n_classes, x) -> np.ndarray:
    """Best cosine (N, C) over the scale × shift grid."""
    a = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    best = np.full((len(X), n_classes), -np.inf)
    for f in np.linspace(0.95, 1.05, 21):
        for sh in np.linspace(-0.3, 0.3, 7):
            w = warped(lib, x, f, sh)
            b = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
            sim = a @ b.T
            if len(set(lib_labels)) == len(lib_labels):  # one pattern per class: one vectorised step
                best[:, lib_labels] = np.maximum(best[:, lib_labels], sim)
                continue
            for j, c in enumerate(lib_labels):
                best[:, c] = np.maximum(best[:, c], sim[:, j])
    return best


def iterative_subtraction(y, lib, lib_labels, x, rounds=4, stop=0.1):
    """Search–match on a mixture: best cosine match, least-squares scale, subtract, repeat."""
    found, scales, residual = [], [], y.copy()
    cands = [(f, sh, warped(lib, x, f, sh)) for f in np.linspace(0.97, 1.03, 7) for sh in (-0.1, 0.0, 0.1)]
    for _ in range(rounds):
        if residual.clip(0).sum() < stop * y.clip(0).sum():
            break
        r = residual.clip(0)
        best = max(((float(r @ w[j] / (np.linalg.norm(r) * np.linalg.norm(w[j]) + 1e-12)), j, k)
                    for k, (_, _, w) in enumerate(cands) for j in range(len(lib))), key=lambda t: t[0])
        _, j, k = best
        pattern = cands[k][2][j]
        scale = max(float(r @ pattern / (pattern @ pattern + 1e-12)), 0.0)
        if lib_labels[j] in found:
            break
        found.append(lib_labels[j])
        scales.append(scale)
        residual = residual - scale * pattern
    return found, np.array(scales)


def model_with_references(path: str, threads: int):
    """(Predictor, references, their metadata) of a checkpoint on ``threads`` torch threads, or None
    (said) when it carries no references."""
    import torch

    from spectool.io.checkpoint import load_checkpoint, read_references
    from spectool.learn.inference import Predictor

    torch.set_num_threads(threads)
    predictor = Predictor(load_checkpoint(path))
    refs, meta = read_references(predictor.ckpt)
    if not refs:
        print("skipped: the model has no references (make references)")
        return None
    return predictor, refs, meta


def main() -> None:
    from bench_default_model import library

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "spectool" / "data" / "default.safetensors"))
    ap.add_argument("--build", default=str(ROOT / "build" / "model"))
    ap.add_argument("--library", type=Path, default=None,
                    help="the corpus library folder the model was trained on: part 1 takes every RockJock "
                         "reference it covers (bench_default_model.py --library)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="at most N measured single-phase scans")
    ap.add_argument("--folder", type=int, default=10, help="scans in the folder that predict is timed on")
    ap.add_argument("--mixtures", type=int, default=20, help="synthetic mixtures in the random sample")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic sample")
    ap.add_argument("--phases", type=int, default=4,
                    help="mixture parts (measured, synthetic, references): predict --phases N, and the rounds of "
                         "search–match's iterative subtraction (the weighed RockJock mixtures hold 5-6 minerals)")
    ap.add_argument("--elements", default=None, metavar="E1,E2,…",
                    help="measured mixtures: predict --elements (what XRF tells of the sample), for verification and "
                         "search–match alike; the 7 weighed minerals hold O,H,Si,Al,K,Na,Ca,Mg,Fe")
    ap.add_argument("--diagnose", action="store_true", help="synthetic part: why phases are missed (slower)")
    ap.add_argument("--all-members", action="store_true",
                    help="mixture parts: fit every member of each candidate label (VerifyOptions.all_members)")
    ap.add_argument("--texture", action="store_true",
                    help="mixture parts (measured, synthetic, references): refine each phase's preferred orientation "
                         "in the answer (predict --texture)")
    ap.add_argument("--cifs", action="append", choices=sorted(CIF_SOURCES),
                    help="references part: the CIF collections the user's structures are drawn from (repeatable) "
                         "[default: both]")
    ap.add_argument("--n-cifs", type=int, default=30, help="references part: structures the user supplies")
    ap.add_argument("--part", action="append", choices=["single", "measured", "synthetic", "standards", "references"],
                    help="run only these parts (repeatable) [default: all]")
    args = ap.parse_args()
    parts = set(args.part or ["single", "measured", "synthetic"])
    if not ROCKJOCK.exists():
        print(f"skipped: {ROCKJOCK} not found")
        return
    from spectool.fit.verify import VerifyOptions
    from spectool.learn.verification import Verifier

    loaded = model_with_references(args.model, args.threads)
    if loaded is None:
        return
    predictor, refs, meta = loaded
    verifier = Verifier(predictor, refs, 10, VerifyOptions(max_phases=args.phases, all_members=args.all_members,
                                                           texture=args.texture))  # predict --phases N
    x = predictor.axis.values
    index = {n: i for i, n in enumerate(predictor.labels)}
    lib, lib_labels = library(Path(args.build), predictor)
    C = len(predictor.labels)

    if "single" in parts:
        single_phase(args, predictor, refs, verifier, index, lib, lib_labels, C, x)
    if "measured" in parts:
        measured_mixtures(predictor, verifier, lib, lib_labels, x, args.library, args.phases, args.elements)
    if "synthetic" in parts:
        synthetic(predictor, verifier, lib, lib_labels, x, Path(args.build), args.mixtures, args.seed, args.diagnose)
    if "standards" in parts:
        standards(predictor, x)
    if "references" in parts:
        for source in args.cifs or sorted(CIF_SOURCES):
            user_references(predictor, x, source, args.n_cifs, args.mixtures, args.seed, args.diagnose, args.texture)


def single_phase(args, predictor, refs, verifier, index, lib, lib_labels, C, x) -> None:
    """Part 1: measured single-phase scans."""
    from bench_default_model import MEASURED, covered_references, ranks_of, topk

    from spectool.env import Env
    from spectool.fit.confidence import Confidence
    from spectool.fit.verify import VerifyOptions
    from spectool.io.checkpoint import read_references
    from spectool.io.spectra import iter_spectra
    from spectool.learn.verification import Verifier

    items = []
    mapping = covered_references(args.library) if args.library else MEASURED
    for mineral, label in list(mapping.items())[:args.limit]:
        path = ROCKJOCK / "rockjock_refs" / f"{mineral}.xy"
        labels = {label} if isinstance(label, str) else set(label)
        if path.exists() and labels & set(index):
            items += [(mineral, labels & set(index), item) for _, item in iter_spectra([str(path)], Env(), wavelength=1.5406)]
    X = np.stack([predictor.prepare(item)[0] for _, _, item in items])
    truth = [frozenset(index[lab] for lab in labels) for _, labels, _ in items]
    net = ranks_of(predictor.predict(X).scores, truth)
    confidence = Confidence.from_json(read_references(predictor.ckpt)[1].get("confidence"))
    single = Verifier(predictor, refs, 10, VerifyOptions(max_phases=1), confidence=confidence)
    verified_ranks, times_v, times_n, rows, confidences = [], [], [], [], []
    single.verdicts(items[0][2], X[:1])  # warm-up
    cpu_v = []
    for (mineral, label, item), row in zip(items, X):
        t = time.perf_counter()
        predictor.predict(row[None])
        times_n.append(time.perf_counter() - t)
        t, c = time.perf_counter(), time.process_time()
        (verdict,) = single.verdicts(item, row[None])
        times_v.append(time.perf_counter() - t)
        cpu_v.append(time.process_time() - c)
        order = [c.label for c in verdict.candidates] if not isinstance(verdict, Exception) else []
        rank = min((order.index(lab) + 1 for lab in label if lab in order), default=99)
        verified_ranks.append(rank)
        confidences.append(None if isinstance(verdict, Exception) else verdict.confidence)
        rows.append((mineral, "/".join(sorted(label)), order[0] if order else "-", rank))
    t = time.perf_counter()
    sm = ranks_of(search_match_scores(X, lib, lib_labels, C, x), truth)
    time_sm = (time.perf_counter() - t) / len(X)
    sm_refs = reference_search_ranks(single, items, X)
    n_refs = sum(map(len, single.library.values()))
    print(f"measured RockJock single-phase scans of known structure type (n = {len(items)}):")
    print(f"  network alone             : {topk(net)}")
    print(f"  network + verification    : {topk(np.array(verified_ranks))}")
    print(f"  search–match (scale+shift): {topk(sm)}")
    print(f"  search–match over the {n_refs} references predict fits (scale ±5 %, zero ±0.3°): {topk(sm_refs)}")
    print(f"  verification − search–match top-1: {100 * (np.mean(np.array(verified_ranks) <= 1) - np.mean(sm <= 1)):+.1f} "
          f"points ({100 * (np.mean(np.array(verified_ranks) <= 1) - np.mean(sm_refs <= 1)):+.1f} against the second)")
    for (mineral, label, top, rank), s, s_refs, conf in zip(rows, sm, sm_refs, confidences):
        print(f"    {mineral:24} {label:22} verified top-1 {top:22} rank {rank:3}  search–match rank {s:3} "
              f"(over the references {s_refs:3})" + ("" if conf is None else f"  confidence {conf:.2f}"))
    if confidence is not None:
        confidence_report(np.array([c if c is not None else np.nan for c in confidences]), np.array(verified_ranks) == 1)
    print(f"time per scan (warm, {args.threads} threads, 10 candidates, one phase): network {np.median(times_n):.3f} s, "
          f"with verification {np.median(times_v):.2f} s median ({np.max(times_v):.2f} s max), CPU time "
          f"{np.median(cpu_v):.2f} s median; target ≤ 1.5 s")
    cli_times(args.model, [item.name for _, _, item in items][:args.folder], time_sm)



def confidence_report(confidence: np.ndarray, right: np.ndarray) -> None:
    """How well predict's confidence (N,) (NaN: none) tells right verified answers (N,) bool from wrong ones:
    AUROC, Brier score, calibration by band, and the accuracy of the answers above each threshold."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    ok = np.isfinite(confidence)
    p, y = confidence[ok], right[ok]
    print(f"confidence of the verified answer (calibrated on held-out compounds, n = {ok.sum()} measured scans):")
    if 0 < y.mean() < 1:
        print(f"  AUROC right vs wrong {roc_auc_score(y, p):.3f}, Brier score {brier_score_loss(y, p):.3f}; "
              f"mean confidence {p.mean():.3f} against accuracy {y.mean():.3f}")
    for lo, hi in [(0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 1.0001)]:
        band = (p >= lo) & (p < hi)
        if band.any():
            print(f"  confidence {lo:.1f}–{min(hi, 1):.1f}: {band.sum():3} scans, {100 * y[band].mean():5.1f} % right")
    for t in (0.5, 0.7, 0.9):
        above = p >= t
        if above.any():
            print(f"  confidence ≥ {t}: {100 * above.mean():.1f} % of the scans, {100 * y[above].mean():.1f} % of them right")


def reference_search_ranks(verifier, items, X) -> np.ndarray:
    """Rank (N,) of each scan's true label in a search–match over the verifier's own references (every
    structure predict may fit, several per type: a search–match program's library) of the prepared rows
    X (N, L): the in-package search (:mod:`spectool.fit.search`, isotropic cell scale ±5 %), best over zero
    shifts of ±0.3°, each label ranked by its best reference."""
    from spectool.fit.verify import fit_lines

    predictor, ranks = verifier.predictor, []
    for (_, labels, item), row in zip(items, X):
        lines = fit_lines(item.wavelength, item.radiation,
                          predictor.prepared_wavelength(item) or predictor.wavelength or 1.54184)
        index = verifier.search_index(lines)
        score = np.max([index.scores(row, zero) for zero in np.arange(-0.24, 0.25, 0.12)], axis=0)
        order = list(dict.fromkeys(index.entries[i][0] for i in np.argsort(-score, kind="stable")))
        ranks.append(min((order.index(lab) + 1 for lab in labels if lab in order), default=len(order) + 1))
    return np.array(ranks)


def mixture_types(library: Path | None) -> dict[str, set[str]]:
    """Mixture mineral → the type labels that name it: with ``library`` (a corpus library folder) every
    type whose structures carry one of :data:`MIX_NAMES`; else the AFLOW part-1 types of :data:`MIX_TYPES`."""
    if library is None:
        return {m: {lab} for m, lab in MIX_TYPES.items()}
    from benchmarks.bench_corpus_coverage import library_label_sets

    sets = library_label_sets(Path(library))
    found = {m: set().union(*(sets.get(n, set()) for n in names)) for m, names in MIX_NAMES.items()}
    return {m: labels for m, labels in found.items() if labels}


def measured_mixtures(predictor, verifier, lib, lib_labels, x, library: Path | None = None, phases: int = 4,
                      elements: str | None = None) -> None:
    """Part 2: the measured RockJock mixtures; with ``elements`` (predict --elements), verification and
    search–match both only among the types with a reference of those elements."""
    from spectool.env import Env
    from spectool.fit.verify import restrict_library
    from spectool.io.spectra import iter_spectra
    from spectool.learn.verification import Verifier

    if elements:
        allowed = set(elements.split(","))
        refs = restrict_library(verifier.library, allowed)
        verifier = Verifier(predictor, refs, verifier.top, verifier.options, only_library=True)
        keep = [j for j, c in enumerate(lib_labels) if predictor.labels[c] in refs]
        lib, lib_labels = lib[keep], [lib_labels[j] for j in keep]
        print(f"\n--elements {elements}: {len(refs)} of the model's types have a reference of only these elements")

    weights_csv = ROCKJOCK / "rockjock_mixtures" / "weights_wt_percent.csv"
    with open(weights_csv, newline="") as f:
        table = list(csv.DictReader(f))
    minerals = [k for k in table[0] if k != "sample_id"]
    types = mixture_types(library)
    print(f"\nmeasured RockJock mixtures, --phases {phases} (minerals with a structure type in the model's library: "
          f"{', '.join(types)}):")
    errs_v, errs_s, found_v, found_s, want = [], [], 0, 0, 0
    for row in table:
        path = ROCKJOCK / "rockjock_mixtures" / f"{row['sample_id']}.xy"
        _, item = next(iter(iter_spectra([str(path)], Env(), wavelength=1.5406)))
        Xm = predictor.prepare(item)
        (verdict,) = verifier.verdicts(item, Xm)
        truth_w = {m: float(row[m]) for m in minerals}
        present = [types[m] for m in types if truth_w[m] >= 4]
        labels = verdict.labels if not isinstance(verdict, Exception) else []
        fr_v = {lab: 100 * p.weight_fraction for lab, p in zip(labels, verdict.phases.phases)} if labels else {}
        sm_found, sm_scales = iterative_subtraction(Xm[0], lib, [predictor.labels[c] for c in lib_labels], x,
                                                    rounds=phases)
        fr_s = dict(zip(sm_found, 100 * sm_scales / max(sm_scales.sum(), 1e-12)))
        est_v = {m: sum(w for lab, w in fr_v.items() if lab in types.get(m, ())) for m in minerals}
        est_s = {m: sum(w for lab, w in fr_s.items() if lab in types.get(m, ())) for m in minerals}
        errs_v += [est_v[m] - truth_w[m] for m in minerals]
        errs_s += [est_s[m] - truth_w[m] for m in minerals]
        want += len(present)
        found_v += sum(bool(p & set(labels)) for p in present)
        found_s += sum(bool(p & set(sm_found)) for p in present)
        print(f"  {row['sample_id']}: verified {', '.join(f'{k} {v:.0f}%' for k, v in fr_v.items()) or '-'}"
              f"{' (unknown)' if not isinstance(verdict, Exception) and verdict.unknown else ''};  "
              f"search–match {', '.join(f'{k} {v:.0f}%' for k, v in fr_s.items())}")
    rms = lambda e: float(np.sqrt(np.mean(np.square(e))))  # noqa: E731
    print(f"  phases found (≥ 4 wt %, type in the library): verified {found_v}/{want}, search–match {found_s}/{want}")
    print(f"  RMS wt % error over all 7 minerals: verified {rms(errs_v):.1f}, search–match {rms(errs_s):.1f}")


#: weights_wt_percent.csv's columns → RockJock's phase_name of the references of that mineral.
STANDARD_NAMES = {"Quartz": "Quartz", "K_feldspar": "K-feldspar", "Plagioclase": "Plagioclase",
                  "Kaolinite": "Kaolinite", "Dioctahedral_smectite": "Smectite (Di)", "Illite": "Illite",
                  "Corundum": "Corundum"}


def standards(predictor, x) -> None:
    """Part 4: the measured mixtures against RockJock's measured references (full-pattern summation)."""
    from spectool.env import Env
    from spectool.fit.verify import VerifyOptions
    from spectool.io.references import measured_entries
    from spectool.io.spectra import iter_spectra
    from spectool.learn.verification import Verifier, measured_library

    table = ROCKJOCK / "rockjock_refs_labels.csv"
    entries, errors = measured_entries(table, Env(), wavelength=1.5406)
    dropped = []
    library = measured_library(predictor, entries, dropped.append)
    refs = [(label, r) for label, rs in library.items() for r in rs]
    print(f"\nmeasured mixtures against measured references ({len(refs)} RockJock patterns of {len(library)} "
          f"phases, RIRs from {table.name}; {len(dropped) + len(errors)} without a peak or unreadable: "
          f"{', '.join(m.split(':')[0].split('/')[-1] for m in dropped + errors)}):")
    verifier = Verifier(predictor, library, 10, VerifyOptions(max_phases=8))
    lib = np.stack([np.interp(x, r.x, r.y, left=0, right=0) for _, r in refs])
    rir = np.array([r.rir or 1.0 for _, r in refs])
    with open(ROCKJOCK / "rockjock_mixtures" / "weights_wt_percent.csv", newline="") as f:
        table_rows = list(csv.DictReader(f))
    minerals = [k for k in table_rows[0] if k != "sample_id"]
    tally = {m: dict(found=0, spurious=0, errors=[], times=[]) for m in ("summation", "search–match")}
    want = 0
    for row in table_rows:
        _, item = next(iter(iter_spectra([str(ROCKJOCK / "rockjock_mixtures" / f"{row['sample_id']}.xy")], Env(),
                                         wavelength=1.5406)))
        X = predictor.prepare(item)
        t = time.perf_counter()
        (verdict,) = verifier.verdicts(item, X)
        t_v = time.perf_counter() - t
        got_v = {}
        if not isinstance(verdict, Exception) and verdict.phases is not None:
            for lab, p in zip(verdict.labels, verdict.phases.phases):
                got_v[lab] = got_v.get(lab, 0.0) + 100 * p.weight_fraction
        t = time.perf_counter()
        found, scales = iterative_subtraction(X[0], lib, list(range(len(refs))), x, rounds=8, stop=0.05)
        t_s = time.perf_counter() - t
        w = np.array([s / rir[j] for j, s in zip(found, scales)])
        got_s = {}
        for j, v in zip(found, 100 * w / max(w.sum(), 1e-12)):
            got_s[refs[j][0]] = got_s.get(refs[j][0], 0.0) + v
        truth = {STANDARD_NAMES[m]: float(row[m]) for m in minerals}
        present = [k for k, v in truth.items() if v >= 4]
        want += len(present)
        for m, got, dt in (("summation", got_v, t_v), ("search–match", got_s, t_s)):
            r = tally[m]
            r["found"] += sum(k in got for k in present)
            r["spurious"] += sum(k not in truth for k in got)
            r["errors"] += [got.get(k, 0.0) - v for k, v in truth.items()]
            r["times"].append(dt)
        fmt = lambda d: ", ".join(f"{k} {v:.0f}%" for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "-"  # noqa: E731
        print(f"  {row['sample_id']}: true {fmt({k: v for k, v in truth.items() if v})}\n        summation {fmt(got_v)} "
              f"[{t_v:.1f} s]\n        search–match {fmt(got_s)}")
    rms = lambda e: float(np.sqrt(np.mean(np.square(e))))  # noqa: E731
    for m, r in tally.items():
        print(f"  {m:13}: phases found (≥ 4 wt %) {r['found']}/{want}, RMS wt % error over the 7 minerals "
              f"{rms(r['errors']):.1f}, spurious phases {r['spurious']}, time per scan {np.median(r['times']):.2f} s median")


def cli_times(model: str, scans: list[str], search_match_s: float) -> None:
    """Wall and CPU time of `spectool predict` on one scan and on a folder of them, --refine and --no-refine.
    CPU time (user + system of the child) is what a busy shared machine does not inflate."""
    import resource

    def timed(*args: str) -> tuple[float, float]:
        cpu = lambda: (lambda r: r.ru_utime + r.ru_stime)(resource.getrusage(resource.RUSAGE_CHILDREN))  # noqa: E731
        t, c = time.perf_counter(), cpu()
        subprocess.run([sys.executable, "-m", "spectool", "predict", "-q", "-m", model, "--wavelength", "1.5406",
                        *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t, cpu() - c

    with tempfile.TemporaryDirectory() as tmp:
        for scan in scans:
            shutil.copy(scan, tmp)
        one = {mode: timed(mode, scans[0]) for mode in ("--refine", "--no-refine")}
        folder = {mode: tuple(v / len(scans) for v in timed(mode, tmp)) for mode in ("--refine", "--no-refine")}
    r, n = "--refine", "--no-refine"
    print("spectool predict in a fresh process (torch's default threads), per scan, wall (CPU):")
    print(f"  one scan (start-up included): --refine {one[r][0]:.2f} s ({one[r][1]:.2f} s), network alone "
          f"{one[n][0]:.2f} s ({one[n][1]:.2f} s); ratio {one[r][0] / one[n][0]:.2f} ({one[r][1] / one[n][1]:.2f})")
    print(f"  folder of {len(scans)} scans: --refine {folder[r][0]:.2f} s ({folder[r][1]:.2f} s), network alone "
          f"{folder[n][0]:.2f} s ({folder[n][1]:.2f} s); ratio {folder[r][0] / folder[n][0]:.2f} "
          f"({folder[r][1] / folder[n][1]:.2f}); search–match (in-process, warm, wall) {search_match_s:.3f} s, "
          f"ratio {folder[r][0] / max(search_match_s, 1e-9):.1f}; target ≤ 1.5 s/scan")


def mixture_weights(rng: np.random.Generator, k: int, low: float = 0.1) -> np.ndarray:
    """k weight fractions (k,), uniform then normalised, each ≥ ``low`` (redrawn until so)."""
    while True:
        w = rng.uniform(0.0, 1.0, k)
        w /= w.sum()
        if w.min() >= low:
            return w


def strain_factors(rng: np.random.Generator, lattice: np.ndarray, limit: float = 0.01) -> np.ndarray:
    """Factors (3,) on the cell vectors a, b, c within ±``limit``: isotropic (one factor) or, half of
    the time, anisotropic with one factor per set of equal axis lengths, so a cubic cell stays cubic
    and c/a of a tetragonal or hexagonal cell moves."""
    if rng.random() < 0.5:
        return np.full(3, 1 + rng.uniform(-limit, limit))
    lengths = np.linalg.norm(lattice, axis=1)
    groups = [min(j for j in range(3) if abs(lengths[j] - lengths[i]) < 1e-4 * lengths[i]) for i in range(3)]
    draws = 1 + rng.uniform(-limit, limit, 3)
    return draws[groups]


def sample_mixtures(rng: np.random.Generator, held_out: dict[str, list[Path]], n: int) -> list[dict]:
    """n random mixtures: 2 or 3 distinct structure types of ``held_out`` (label → its held-out CIFs),
    one held-out compound of each, weight fractions 10–90 %, and the scan's instrument: zero shift
    (±0.1°), FWHM (0.08–0.2°), pseudo-Voigt η, peak counts, smooth background."""
    labels = sorted(held_out)
    out = []
    for _ in range(n):
        k = int(rng.integers(2, 4))
        chosen = [labels[i] for i in rng.choice(len(labels), k, replace=False)]
        cifs = [held_out[lab][int(rng.integers(len(held_out[lab])))] for lab in chosen]
        out.append(dict(phases=list(zip(chosen, cifs, mixture_weights(rng, k))),
                        seed=int(rng.integers(2**31)), shift=float(rng.uniform(-0.1, 0.1)),
                        fwhm=float(rng.uniform(0.08, 0.2)), eta=float(rng.uniform(0.2, 0.8)),
                        counts=float(rng.uniform(2e3, 2e4)), flat=float(rng.uniform(0.02, 0.08)),
                        slope=float(rng.uniform(0.0, 0.1)), decay=float(rng.uniform(10, 40))))
    return out


def verify_scan(predictor, verifier, name: str, x: np.ndarray, y: np.ndarray):
    """(the scan as Spectra, prepared X (1, L), the verifier's verdict (or its exception), seconds it took) of a
    Cu Kα1+2 scan y on x."""
    from spectool.spectra import Axis, Spectra

    item = Spectra(name, y[None].astype(np.float32), Axis(x, "two_theta", "deg"), wavelength=1.5406, radiation="CuKa12")
    X = predictor.prepare(item)
    t = time.perf_counter()
    (verdict,) = verifier.verdicts(item, X)
    return item, X, verdict, time.perf_counter() - t


def render_mixture(mix: dict, x: np.ndarray, detail: dict | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Counts (L,) on x (L,) degrees of one sampled mixture, Cu Kα1+2, and its phases' true wt
    fractions. Each held-out compound in its conventional cell, strained (:func:`strain_factors`),
    is simulated and mixed in proportion to wt / (cell mass × cell volume): simulate renders per
    cell Σ 2|F|² LP, so Hill–Howard (S·ZMV) recovers wt. ``detail``, when given, receives per label
    the strained cell (6,), the cell mass (g/mol) and volume (Å³) and the scale on the counts."""
    from dataclasses import replace

    from spectool.fit.reference import conventional, structure_of
    from spectool.xrd.radiation import parse_radiation
    from spectool.xrd.simulate import ProfileOptions, simulate_pattern
    from spectool.xrd.structures import load_structures

    rng = np.random.default_rng(mix["seed"])
    profile = ProfileOptions(shape="pseudo-voigt", eta=mix["eta"], fwhm=mix["fwhm"], normalize=False)
    y, truth = np.zeros_like(x), {}
    for label, cif, w in mix["phases"]:
        crystal, _, mass, _ = conventional(structure_of(load_structures(cif)[0].crystal))
        crystal = replace(crystal, lattice=crystal.lattice * strain_factors(rng, crystal.lattice)[:, None])
        pattern, _ = simulate_pattern(crystal, x - mix["shift"], parse_radiation("CuKa12"), profile)
        y += w / (mass * crystal.volume) * pattern
        truth[label] = float(w)
        if detail is not None:
            from spectool.fit.cell import cell_parameters

            detail[label] = dict(cell=cell_parameters(crystal.lattice), mass=mass, volume=crystal.volume,
                                 scale=w / (mass * crystal.volume))
    t = (x - x[0]) / (x[-1] - x[0])
    background = mix["flat"] * (1 + mix["slope"] * t) + 0.05 * np.exp(-(x - x[0]) / mix["decay"])
    clean = mix["counts"] * (y / y.max() + background)
    for d in (detail or {}).values():
        d["scale"] *= mix["counts"] / y.max()
    return rng.poisson(clean).astype(np.float64), truth


def search_match_top(y, lib, lib_labels, x, k=3) -> list[str]:
    """The first step of :func:`iterative_subtraction`: its k best labels by cosine (same grid)."""
    best: dict[str, float] = {}
    a = y.clip(0) / (np.linalg.norm(y.clip(0)) + 1e-12)
    for f in np.linspace(0.97, 1.03, 7):
        for sh in (-0.1, 0.0, 0.1):
            w = warped(lib, x, f, sh)
            sim = w @ a / (np.linalg.norm(w, axis=1) + 1e-12)
            for j, lab in enumerate(lib_labels):
                best[lab] = max(best.get(lab, -np.inf), float(sim[j]))
    return sorted(best, key=lambda lab: -best[lab])[:k]


def synthetic(predictor, verifier, lib, lib_labels, x_model, build: Path, n: int, seed: int,
              diagnose: bool = False) -> None:
    """Part 3: a seeded random sample of mixtures of held-out compounds, prepared like a scan."""
    from bench_default_model import corpus_folder

    test = corpus_folder(build) / "test"
    if not test.is_dir():
        print(f"\nsynthetic mixtures skipped: {test} not found (make references)")
        return
    held_out = {d.name: sorted(d.glob("*.cif")) for d in sorted(test.iterdir()) if d.name in verifier.library}
    held_out = {k: v for k, v in held_out.items() if v}
    mixtures = sample_mixtures(np.random.default_rng(seed), held_out, n)
    x = np.arange(5.0, 90.0001, 0.02)
    names = [predictor.labels[c] for c in lib_labels]
    print(f"\nsynthetic mixtures (n = {n}, seed {seed}): 2–3 of the {len(held_out)} structure types with a held-out "
          "compound (corpus/test, not the references), 10–90 wt %, cell strain ±1 %, zero ±0.1°, FWHM 0.08–0.2°, "
          f"Cu Kα1+2, background, Poisson noise; verification --phases {verifier.options.max_phases} vs search–match "
          "with iterative subtraction")
    tally = {m: dict(found=0, top3=0, spurious=0, errors=[], times=[]) for m in ("verified", "search–match")}
    total, unknown, failed, why = 0, 0, 0, []
    for i, mix in enumerate(mixtures):
        y, truth = render_mixture(mix, x)
        item, X, verdict, t_v = verify_scan(predictor, verifier, f"mix-{i:02d}", x, y)
        if isinstance(verdict, Exception):
            got, top3 = {}, []
            note, failed = f" ({verdict})", failed + 1
        else:
            got = {lab: p.weight_fraction for lab, p in zip(verdict.labels, verdict.phases.phases)}
            top3 = [c.label for c in verdict.candidates[:3]]
            note = " (unknown)" if verdict.unknown else ""
            unknown += verdict.unknown
        t = time.perf_counter()
        sm_found, sm_scales = iterative_subtraction(X[0], lib, names, x_model, rounds=verifier.options.max_phases)
        sm_top3 = search_match_top(X[0], lib, names, x_model)
        t_s = time.perf_counter() - t
        got_s = dict(zip(sm_found, sm_scales / max(sm_scales.sum(), 1e-12)))
        total += len(truth)
        for m, found, first, dt in (("verified", got, top3, t_v), ("search–match", got_s, sm_top3, t_s)):
            r = tally[m]
            r["found"] += sum(lab in found for lab in truth)
            r["top3"] += sum(lab in first for lab in truth)
            r["spurious"] += sum(lab not in truth for lab in found)
            r["errors"] += [100 * (found.get(lab, 0.0) - w) for lab, w in truth.items()]
            r["times"].append(dt)
        fmt = lambda d: ", ".join(f"{k} {100 * v:.0f}%" for k, v in d.items()) or "-"  # noqa: E731
        true = ", ".join(f"{lab} ({Path(cif).stem.split('-', 2)[-1]}) {100 * w:.0f}%" for lab, cif, w in mix["phases"])
        print(f"  mix-{i:02d} true {true}\n         verified {fmt(got)}{note} [{t_v:.1f} s]; "
              f"search–match {fmt(got_s)}")
        if diagnose:
            why += diagnosis(verifier, item, X, mix, got)
    rms = lambda e: float(np.sqrt(np.mean(np.square(e))))  # noqa: E731
    big = total  # every true phase is ≥ 10 wt % by construction
    for m, r in tally.items():
        print(f"  {m:13}: phases found {r['found']}/{total} (of those ≥ 10 wt %: {r['found']}/{big}), in the first "
              f"step's top 3 {r['top3']}/{total}, fraction RMS error {rms(r['errors']):.1f} wt % over all true phases "
              f"(missed = 0 %), spurious phases {r['spurious']}, time per scan {np.median(r['times']):.2f} s median "
              f"({np.max(r['times']):.2f} s max)")
    print(f"  verified scans flagged unknown: {unknown}/{len(mixtures)} (their phases still counted), not fitted: "
          f"{failed}; targets (verified): every phase ≥ 10 wt % found, fraction RMS ≤ 5 wt %")
    if diagnose:
        missed = [w for w in why if not w["found"]]
        far = sum(w["cell"] > 0.05 for w in missed)
        unseen = sum(w["rank"] is None for w in missed)
        print(f"  diagnosis of the {len(missed)} missed phases: nearest member's cell > 5 % off {far}, not among the "
              f"network's 10 candidates on the scan {unseen}, both {sum(w['cell'] > 0.05 and w['rank'] is None for w in missed)}; "
              f"of the {len(why) - len(missed)} found: cell > 5 % off {sum(w['cell'] > 0.05 for w in why if w['found'])}")
        oracle(predictor, verifier, mixtures, x)


def user_references(predictor, x_model, source: str, n_cifs: int, n: int, seed: int, diagnose: bool = False,
                    texture: bool = False) -> None:
    """Part 5 (--part references): the user knows the candidate structures. A seeded random set of
    ``n_cifs`` CIFs of one collection is the folder given to ``predict --references`` (labels: file
    names); n seeded random 2–3-phase mixtures of them with the lab effects of part 3 (strain ±1 %,
    zero ±0.1°, FWHM, pseudo-Voigt, Kα1+2, background, Poisson noise), prepared as predict prepares a
    scan, are searched with --phases 4. Peer: search–match with iterative subtraction over the same
    structures (each simulated, Cu Kα1+2, FWHM 0.1°, max-normalised), its fractions from its scales
    by the structures’ own reference intensity ratios (scale × cell mass × volume ÷ pattern maximum,
    Hill–Howard on the simulated patterns). --diagnose prints, per true phase, the fitted scale, cell,
    width and Hill–Howard inputs against the truth."""
    from spectool.fit.verify import VerifyOptions
    from spectool.io.references import library_from_folder
    from spectool.learn.verification import Verifier
    from spectool.xrd.radiation import parse_radiation
    from spectool.xrd.simulate import ProfileOptions, simulate_pattern

    root = CIF_SOURCES[source]
    if not root.is_dir():
        print(f"\nreferences part skipped: {root} not found")
        return
    rng = np.random.default_rng(seed)
    pool = sorted(root.rglob("*.cif"))
    order = rng.permutation(len(pool))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "refs"
        folder.mkdir()
        library, chosen = {}, {}
        for i in order:  # the first n_cifs that load (a name twice: the later one skipped)
            if len(library) >= n_cifs:
                break
            cif = pool[int(i)]
            if (folder / cif.name).exists():
                continue
            shutil.copy(cif, folder / cif.name)
            try:
                got = library_from_folder(folder)
            except Exception:  # noqa: BLE001  a structure predict would refuse: not the user's
                (folder / cif.name).unlink()
                continue
            if cif.stem not in got:
                (folder / cif.name).unlink()
                continue
            library, chosen[cif.stem] = got, cif
        mixtures = sample_mixtures(rng, {k: [v] for k, v in chosen.items()}, n)
        x = np.arange(5.0, 90.0001, 0.02)
        verifier = Verifier(predictor, library, 10, VerifyOptions(max_phases=4, texture=texture))
        names, lib, rir = list(library), [], []
        for name in names:
            ref = library[name][0]
            y, _ = simulate_pattern(_conventional_crystal(chosen[name]), x_model, parse_radiation("CuKa12"),
                                    ProfileOptions(shape="pseudo-voigt", eta=0.5, fwhm=0.1, normalize=False))
            lib.append(y / y.max())
            rir.append(ref.mass * ref.volume / float(y.max()))  # w ∝ scale on the max-normalised pattern × ZMV / max
        lib, rir = np.stack(lib), np.array(rir)
        print(f"\nthe user's own structures (--references, {len(library)} CIFs of {source}, seed {seed}): {n} mixtures of "
              "2–3 of them, 10–90 wt %, cell strain ±1 %, zero ±0.1°, FWHM 0.08–0.2°, Cu Kα1+2, background, Poisson "
              "noise; verification --phases 4 vs search–match with iterative subtraction over the same structures")
        tally = {m: dict(found=0, spurious=0, errors=[], times=[]) for m in ("verified", "search–match")}
        total, why = 0, []
        for i, mix in enumerate(mixtures):
            detail: dict = {}
            y, truth = render_mixture(mix, x, detail)
            item, X, verdict, t_v = verify_scan(predictor, verifier, f"mix-{i:02d}", x, y)
            got = {} if isinstance(verdict, Exception) else {
                lab: p.weight_fraction for lab, p in zip(verdict.labels, verdict.phases.phases)}
            t = time.perf_counter()
            found, scales = iterative_subtraction(X[0], lib, names, x_model)
            w = np.array([s * rir[names.index(lab)] for lab, s in zip(found, scales)])
            got_s = dict(zip(found, w / max(w.sum(), 1e-12)))
            t_s = time.perf_counter() - t
            total += len(truth)
            for m, f, dt in (("verified", got, t_v), ("search–match", got_s, t_s)):
                r = tally[m]
                r["found"] += sum(lab in f for lab in truth)
                r["spurious"] += sum(lab not in truth for lab in f)
                r["errors"] += [100 * (f.get(lab, 0.0) - wt) for lab, wt in truth.items()]
                r["times"].append(dt)
            fmt = lambda d: ", ".join(f"{k} {100 * v:.0f}%" for k, v in d.items()) or "-"  # noqa: E731
            print(f"  mix-{i:02d} true {fmt(truth)}\n         verified {fmt(got)} [{t_v:.1f} s]; search–match {fmt(got_s)}")
            if diagnose and not isinstance(verdict, Exception):
                why += phase_diagnosis(verdict, truth, detail, mix)
        rms = lambda e: float(np.sqrt(np.mean(np.square(e))))  # noqa: E731
        for m, r in tally.items():
            print(f"  {m:13}: phases found {r['found']}/{total} (all ≥ 10 wt %), fraction RMS error "
                  f"{rms(r['errors']):.1f} wt % over all true phases (missed = 0 %), spurious phases {r['spurious']}, "
                  f"time per scan {np.median(r['times']):.2f} s median ({np.max(r['times']):.2f} s max)")
        print("  targets (verified): every phase ≥ 10 wt % found, fraction RMS ≤ 5 wt %")
        cli_references(folder, mixtures[0], x)


def _conventional_crystal(cif):
    from spectool.fit.reference import conventional, structure_of
    from spectool.xrd.structures import load_structures

    return conventional(structure_of(load_structures(cif)[0].crystal))[0]


def phase_diagnosis(verdict, truth: dict, detail: dict, mix: dict) -> list[dict]:
    """Per true phase of one verdict: fitted against true scale (each relative to the phases' S·ZMV sum
    shares), cell (largest relative length error), FWHM and the zero shift; printed."""
    fits = {lab: p for lab, p in zip(verdict.labels, verdict.phases.phases)}
    hh = {lab: p.scale * p.mass * p.volume for lab, p in fits.items()}
    out = []
    for lab, w in truth.items():
        d = detail[lab]
        if lab not in fits:
            print(f"           {lab:24} MISSED (true {100 * w:.0f} %)")
            out.append(dict(found=False))
            continue
        p = fits[lab]
        cell_err = float(np.max(np.abs(p.cell[:3] / d["cell"][:3] - 1)))
        print(f"           {lab:24} wt {100 * p.weight_fraction:5.1f} (true {100 * w:5.1f}); S {p.scale:.3g}, Z·M "
              f"{p.mass:.0f} g/mol (true {d['mass']:.0f}), V {p.volume:.1f} Å³ (true {d['volume']:.1f}), S·ZMV share "
              f"{100 * hh[lab] / sum(hh.values()):.1f} %; cell off {100 * cell_err:.2f} %; FWHM {p.fwhm:.3f}° (true "
              f"{mix['fwhm']:.3f}), η {p.eta:.2f} (true {mix['eta']:.2f}); zero {verdict.phases.zero:+.3f}° (true "
              f"{mix['shift']:+.3f}); peak-area share {p.share:.2f}")
        out.append(dict(found=True, cell=cell_err))
    return out


def cli_references(folder: Path, mix: dict, x: np.ndarray) -> None:
    """The first mixture through `spectool predict --references FOLDER --phases 4` as a user runs it."""
    y, truth = render_mixture(mix, x)
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "mix-00.xy"
        np.savetxt(scan, np.c_[x, y], fmt="%.3f")
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "spectool", "predict", "-q", "--wavelength", "1.5406",
                              "--references", str(folder), "--phases", "4", "--top", "1", "--json", str(scan)],
                             cwd=ROOT, capture_output=True, text=True)
        dt = time.perf_counter() - t
    import json

    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    phases = rows[0].get("phases") if rows else out.stderr.strip()[-200:]
    print(f"  spectool predict --references DIR --phases 4 mix-00.xy (fresh process, {dt:.1f} s): {phases}; true "
          + ", ".join(f"{k} {100 * v:.0f}%" for k, v in truth.items()))


def _own_reference(cif):
    """(conventional cell (6,), PhaseReference) of a held-out compound's own structure."""
    from spectool.fit.cell import cell_parameters
    from spectool.fit.reference import conventional, reference_from_crystal, structure_of
    from spectool.xrd.structures import load_structures

    crystal, system, mass, formula = conventional(structure_of(load_structures(cif)[0].crystal))
    return cell_parameters(crystal.lattice), reference_from_crystal(crystal, system, Path(cif).stem, mass, formula)


def diagnosis(verifier, item, X, mix, got) -> list[dict]:
    """Per true phase of one mixture: found or not, its rank among the network's candidates on the scan
    (None: not among them) and the nearest member's largest relative cell-length difference; printed."""
    ranked = [lab for lab, _ in verifier.propose(X[0])]
    out = []
    for lab, cif, w in mix["phases"]:
        cell, _ = _own_reference(cif)
        dev = min(float(np.max(np.abs(m.cell[:3] / cell[:3] - 1))) for m in verifier.library[lab])
        rank = ranked.index(lab) + 1 if lab in ranked else None
        out.append(dict(found=lab in got, rank=rank, cell=dev))
        print(f"           {lab:28} {'found ' if lab in got else 'MISSED'} network rank {rank or '-':>2}, "
              f"nearest member's cell {100 * dev:4.1f} % off")
    return out


def oracle(predictor, verifier, mixtures, x) -> None:
    """The upper bound of the diagnosis: each held-out compound's own structure added to its label."""
    from spectool.learn.verification import Verifier
    from spectool.spectra import Axis, Spectra

    found, total, errors = 0, 0, []
    for i, mix in enumerate(mixtures):
        y, truth = render_mixture(mix, x)
        library = {k: list(v) for k, v in verifier.library.items()}
        for lab, cif, _ in mix["phases"]:
            library[lab] = library[lab] + [_own_reference(cif)[1]]
        item = Spectra(f"mix-{i:02d}", y[None].astype(np.float32), Axis(x, "two_theta", "deg"), wavelength=1.5406,
                       radiation="CuKa12")
        (verdict,) = Verifier(predictor, library, verifier.top, verifier.options).verdicts(item, predictor.prepare(item))
        got = {} if isinstance(verdict, Exception) else {
            lab: p.weight_fraction for lab, p in zip(verdict.labels, verdict.phases.phases)}
        total += len(truth)
        found += sum(lab in got for lab in truth)
        errors += [100 * (got.get(lab, 0.0) - w) for lab, w in truth.items()]
    print(f"  upper bound, each compound's own structure added to its label: phases found {found}/{total}, fraction "
          f"RMS error {float(np.sqrt(np.mean(np.square(errors)))):.1f} wt %")


if __name__ == "__main__":
    main()
