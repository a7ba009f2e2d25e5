"""``spectool corpus prototypes``: a structure-type corpus from pymatgen's AFLOW prototypes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import JsonOpt, SeedOpt, WorkersOpt, command
from spectool.cli.workers import pool_map, worker_pool
from spectool.env import Env
from spectool.errors import UsageError

corpus_app = typer.Typer(name="corpus", help="Build corpora of crystal structures to simulate and train on.",
                         no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                         context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
app.add_typer(corpus_app, name="corpus")

TYPE_COLUMNS = ["label", "aflow", "strukturbericht", "pearson", "mineral", "prototype_formula", "spacegroup",
                "crystal_system", "sites"]
TYPE_OPTIONAL = ["sites", "crystal_system", "pearson", "spacegroup", "aflow", "prototype_formula"]  # given up first
MANIFEST_COLUMNS = ["id", "label", "split", "path", "formula", "prototype", "substitution", "scale", "spacegroup",
                    "seed", "draw"]


@command(corpus_app, "prototypes")
def prototypes(
    env: Env,
    output: Annotated[Optional[str], typer.Option("-o", "--output", metavar="DIR",
                                                  help="Corpus folder to create.")] = None,
    per_type: Annotated[int, typer.Option("--per-type", min=1, help="Compounds per structure type, the "
                                                                     "prototype included (fewer where chemistry "
                                                                     "allows fewer).")] = 30,
    types: Annotated[Optional[list[str]], typer.Option(
        "--types", metavar="LIST", help="Comma-separated labels, AFLOW ids, Strukturbericht symbols or mineral "
                                        "names (repeatable) [default: all].")] = None,
    max_sites: Annotated[Optional[int], typer.Option("--max-sites", min=1, help="Only types with at most N sites "
                                                                               "in the primitive cell.")] = None,
    min_sites: Annotated[int, typer.Option("--min-sites", min=1, help="Only types with at least N sites.")] = 1,
    holdout: Annotated[float, typer.Option(min=0.0, max=0.9, help="Fraction of each type's compounds put in "
                                                                  "test/ (whole compounds; never the "
                                                                  "prototype).")] = 0.2,
    strain: Annotated[float, typer.Option(min=0.0, max=0.2, help="Standard deviation of the symmetry-allowed "
                                                                 "lattice strain.")] = 0.02,
    volume: Annotated[float, typer.Option(min=0.0, max=0.2, help="Standard deviation of the cell size in ln "
                                                                 "length, around the radius-based scale.")] = 0.02,
    seed: SeedOpt = 0,
    workers: WorkersOpt = 1,
    list_types: Annotated[bool, typer.Option("--list", help="Print the selected structure types and exit.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing corpus folder.")] = False,
    json: JsonOpt = False,
) -> None:
    """Write hypothetical compounds of the structure types in pymatgen's AFLOW prototype library.

    Each prototype (read from the installed pymatgen) is expanded by element substitution that keeps
    its Wyckoff positions: ions by ions of similar size and charge that the ICSD substitution table
    knows, charge balanced; metals and covalent solids by near neighbours on Pettifor's chemical
    scale. The cell is rescaled to the new atoms' radii and strained as the crystal system allows.
    Compounds with overlapping atoms or another space group are dropped. Writes
    DIR/{train,test}/LABEL/ID.cif, DIR/types.csv (one row per type, for the model's table) and
    DIR/manifest.csv (one row per compound; usable as simulate's --label table). The folder appears
    only when complete. Output depends on --seed, never on --workers.

    Example: spectool corpus prototypes --max-sites 40 -o corpus/ && spectool simulate corpus/train
    --label parent -o train.h5
    """
    from spectool.corpus.library import load_library, select_types
    from spectool.io.results import write_rows
    from spectool.io.stdio import full_disk_reported

    if not list_types and output is None:
        raise UsageError("give -o DIR for the corpus, or --list to see the structure types")
    target = None if list_types else _check_target(Path(output), force)  # before the library loads
    names = [n for item in types or [] for n in item.split(",") if n.strip()] or None
    chosen = select_types(load_library(), names, max_sites, min_sites)
    if not chosen:
        raise UsageError("no structure type matches the selection")
    if list_types:
        write_rows(env, (t.row() for t in chosen), TYPE_COLUMNS, title="structure types", optional=TYPE_OPTIONAL)
        return
    with full_disk_reported(target):
        _build(env, chosen, target, per_type, seed, holdout, strain, volume, workers)


def _check_target(target: Path, force: bool) -> Path:
    """Refuse a non-empty folder unless --force and it holds a corpus (its manifest.csv)."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()):
        if not force:
            raise UsageError(f"{target} is not empty; give --force to replace the corpus in it")
        if not (target / "manifest.csv").is_file():
            raise UsageError(f"{target} holds no corpus (no manifest.csv); refusing to replace it")
    from spectool.io.stdio import check_output_folder

    check_output_folder(target)
    return target


def _build(env, chosen, target: Path, per_type, seed, holdout, strain, volume, workers) -> None:
    import shutil
    import tempfile

    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        manifest, rows, dropped = [], [], 0
        jobs = [(t.label, per_type, seed, holdout, strain, volume) for t in chosen]
        with worker_pool(workers if len(jobs) >= 2 else 1) as pool, env.progress("corpus", len(jobs)) as advance:
            for kind, (type_row, compound_rows, texts, n_dropped) in zip(chosen, _run_jobs(jobs, pool)):
                advance(1)
                for row, text in zip(compound_rows, texts):
                    path = staging / row["path"]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text)
                manifest += compound_rows
                rows.append(type_row)
                dropped += n_dropped
                env.debug(f"{kind.label}: {type_row['compounds']} compound(s), {n_dropped} draw(s) dropped")
        _write_table(staging / "types.csv", rows, TYPE_COLUMNS + ["compounds", "train", "test"])
        _write_table(staging / "manifest.csv", manifest, MANIFEST_COLUMNS)
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    n_test = sum(r["split"] == "test" for r in manifest)
    env.info(f"corpus: {len(manifest)} compound(s) of {len(rows)} type(s) ({len(manifest) - n_test} train, "
             f"{n_test} test) written to {target}")


def _run_jobs(jobs: list[tuple], pool):
    """Each type's result in order; in ``pool`` when there is one (same output)."""
    from spectool.corpus.generate import build_type as type_job

    return pool_map(pool, type_job, *zip(*jobs))


def _write_table(path: Path, rows: list[dict], columns: list[str]) -> None:
    """A CSV with a header, through a temporary file renamed into place."""
    import csv

    from spectool.io.stdio import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _publish(staging: Path, target: Path) -> None:
    """Rename the finished corpus onto ``target``; an old corpus there is moved aside, then removed."""
    import os
    import shutil

    old = None
    if target.is_dir() and any(target.iterdir()):
        old = target.with_name(f"{staging.name}.old")
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
