"""Add phase references (for predict's whole-pattern verification) to an existing checkpoint.

    python tools/add_references.py MODEL.safetensors FOLDER [--per-label N] [--split train] [-o OUT]

FOLDER holds structure files and, optionally, a label table (manifest.csv / labels.csv with path and
label columns; a spectool corpus has one); without a table the file names are the labels. A
`spectool corpus library` folder's library.json (sources, licences, citations) goes into the
checkpoint's `library` metadata. Labels the
model does not know are skipped and counted. `make references` runs this on the default model.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from spectool.io.checkpoint import add_references, read_header
    from spectool.io.references import labelled_files, load_references, pick_members

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("folder")
    ap.add_argument("--per-label", type=int, default=4, help="structures kept per label (table order)")
    ap.add_argument("--split", default=None, help="only rows of this split (a corpus: train)")
    ap.add_argument("--unknown-threshold", type=float, default=None)
    ap.add_argument("-o", "--output", default=None, help="write here instead of in place")
    args = ap.parse_args(argv)
    labels = set(read_header(args.model).meta["labels"])
    pairs = [(lab, p) for lab, p in labelled_files(args.folder, args.split) if lab in labels]
    entries, errors = load_references(pick_members(pairs, args.per_label))
    for message in errors:
        print(f"add_references: skipped {message}", file=sys.stderr)
    counts = Counter(label for label, _ in entries)
    provenance = Path(args.folder) / "library.json"
    library = json.loads(provenance.read_text()) if provenance.is_file() else None
    out = add_references(args.model, entries, source=f"{args.folder} (first {args.per_label} per label)",
                         unknown_threshold=args.unknown_threshold, output=args.output, library=library)
    missing = sorted(labels - set(counts))
    print(f"{len(entries)} references of {len(counts)}/{len(labels)} labels written to {out}"
          + (f"; no reference for {len(missing)}: {', '.join(missing[:10])}" if missing else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
