"""Calibrate predict's "unknown" threshold on held-out compounds and store it in the checkpoint.

    python tools/calibrate_unknown.py MODEL.safetensors HELD_OUT.h5 [--n 60] [--seed 0] [--quantile 0.95]

HELD_OUT.h5: simulated patterns of compounds held out of training (make model's sim-test.h5), labelled
with the model's classes. Each of n rows (drawn with --seed) gets Gaussian noise and a flat background,
is prepared as predict prepares a scan and verified (one phase); the threshold is the --quantile of the
unexplained share over the rows whose verified top-1 is right: at most 5 % of correctly named known
compounds are then called unknown. Written as references.unknown_threshold (the references stay).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from spectool.env import Env
    from spectool.fit.verify import VerifyOptions
    from spectool.io.checkpoint import add_references, load_checkpoint, read_references
    from spectool.io.sets import open_set
    from spectool.spectra import Spectra
    from spectool.learn.inference import Predictor
    from spectool.learn.verification import Verifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("held_out")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quantile", type=float, default=0.95)
    args = ap.parse_args(argv)
    predictor = Predictor(load_checkpoint(args.model))
    library, meta = read_references(predictor.ckpt)
    verifier = Verifier(predictor, library, 10, VerifyOptions(max_phases=1))
    rng = np.random.default_rng(args.seed)
    with open_set(args.held_out, Env()) as reader:
        rows = np.sort(rng.choice(len(reader), size=min(args.n, len(reader)), replace=False))
        chunk = reader.read_rows(0, len(reader), peaks=False)
        names, axis, wavelength = reader.meta.label_names, reader.meta.axis, reader.meta.wavelength
    unexplained, correct = [], []
    for i in rows:
        y = chunk.X[i] / chunk.X[i].max() * 1000 + 40 + rng.normal(0, 3, chunk.X.shape[1])
        item = Spectra(f"row{i}", y[None].astype(np.float32), axis, wavelength=wavelength, radiation="CuKa")
        (verdict,) = verifier.verdicts(item, predictor.prepare(item))
        if isinstance(verdict, Exception) or verdict.phases is None:
            continue
        unexplained.append(verdict.phases.unexplained)
        correct.append(verdict.candidates[0].label == names[chunk.y[i]])
    u, ok = np.array(unexplained), np.array(correct)
    threshold = float(np.quantile(u[ok], args.quantile)) if ok.any() else None
    entries = [(label, ref) for label, refs in library.items() for ref in refs]
    add_references(args.model, entries, source=meta.get("source", ""), unknown_threshold=threshold)
    print(f"{len(u)} held-out compounds, verified top-1 {ok.mean():.1%}; unexplained share: correct median "
          f"{np.median(u[ok]):.3f}, wrong median {np.median(u[~ok]) if (~ok).any() else float('nan'):.3f}; "
          f"threshold ({args.quantile:.0%} of correct) {threshold}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
