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
from spectool.io.stdio import atomic_folder
from spectool.io.tables import write_csv

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
    with atomic_folder(target) as staging:
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
        write_csv(staging / "types.csv", rows, TYPE_COLUMNS + ["compounds", "train", "test"])
        write_csv(staging / "manifest.csv", manifest, MANIFEST_COLUMNS)
    n_test = sum(r["split"] == "test" for r in manifest)
    env.info(f"corpus: {len(manifest)} compound(s) of {len(rows)} type(s) ({len(manifest) - n_test} train, "
             f"{n_test} test) written to {target}")


def _run_jobs(jobs: list[tuple], pool):
    """Each type's result in order; in ``pool`` when there is one (same output)."""
    from spectool.corpus.generate import build_type as type_job

    return pool_map(pool, type_job, *zip(*jobs))


LIBRARY_TYPE_COLUMNS = ["label", "key", "mineral", "strukturbericht", "aflow_title", "spacegroup", "crystal_system",
                        "sites", "examples", "compounds", "structures", "train", "test", "sources"]
LIBRARY_COLUMNS = ["id", "label", "split", "path", "formula", "compound", "source", "name", "reference", "licence",
                   "origin", "spacegroup", "key"]


@command(corpus_app, "library")
def library(
    env: Env,
    output: Annotated[str, typer.Option("-o", "--output", metavar="DIR", help="Corpus folder to create.")],
    aflow: Annotated[bool, typer.Option("--aflow", help="The AFLOW Encyclopedia of Crystallographic Prototypes, "
                                                        "parts 1-5 (from the installed kim-tools).")] = False,
    amcsd: Annotated[bool, typer.Option("--amcsd", help="The trimmed American Mineralogist Crystal Structure "
                                                        "Database (from the installed larixite).")] = False,
    amcsd_db: Annotated[Optional[Path], typer.Option(
        "--amcsd-db", metavar="FILE", help="Another AMCSD SQLite file of larixite's schema (e.g. the full "
                                           "database) instead of the trimmed one larixite ships; implies "
                                           "--amcsd.")] = None,
    cifs: Annotated[Optional[list[Path]], typer.Option(
        "--cifs", metavar="DIR", help="A folder of CIFs (repeatable), named by --labels, their "
                                      "_chemical_name_structure_type / _chemical_name_mineral, or a FORMULA-Name "
                                      "file name; unnamed ones only add compounds to named types.")] = None,
    labels: Annotated[Optional[Path], typer.Option(
        "--labels", metavar="CSV", help="Label table for --cifs: a file column (file/path) and a name column "
                                        "(structure_type/label/mineral/name). A labels.csv inside a folder that "
                                        "has both is read too.")] = None,
    cif_licence: Annotated[str, typer.Option("--cif-licence", metavar="TEXT", help="Licence recorded for the "
                                             "--cifs structures.")] = "as stated in the folder",
    per_type: Annotated[int, typer.Option("--per-type", min=1, help="Structures kept per type, one per "
                                                                     "compound first.")] = 20,
    holdout: Annotated[float, typer.Option(min=0.0, max=0.9, help="Fraction of each type's compounds put in "
                                                                  "test/ (whole compounds, never the type's "
                                                                  "prototype or namesake).")] = 0.2,
    seed: SeedOpt = 0,
    workers: WorkersOpt = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing corpus folder.")] = False,
    json: JsonOpt = False,
) -> None:
    """Write a structure-type library from open sources and folders of CIFs.

    Every structure is keyed by its type, AFLOW style: anonymous formula, Pearson symbol, space
    group (enantiomorphic pairs as one) and the Wyckoff letters each species occupies (spglib; the
    ordered, H-free structure); structures of one key that do not match as frameworks (pymatgen's
    StructureMatcher, species ignored: calcite and LaAlO3) are separate types, and keys that differ only
    in how the species share out the same Wyckoff orbits (sanidine and orthoclase, spinel and magnetite)
    are one type where the structures match. A type is named by its minerals, else its Strukturbericht
    symbol or AFLOW name. AFLOW
    prototypes are built from label and parameters and kept only with the prototype's
    composition and no atoms closer than 0.6 A. Writes DIR/{train,test}/LABEL/ID.cif,
    DIR/types.csv, DIR/manifest.csv (with each structure's source, reference and licence; usable
    as simulate's --label table), DIR/names.csv (every mineral or prototype name met → its type)
    and DIR/library.json (sources, licences, citations, counts). Nothing is
    downloaded; the folder appears only when complete. Output depends on --seed, never on --workers.

    Example: spectool corpus library --aflow --amcsd --cifs my-cifs/ -o library/ -j 2 && spectool
    simulate library/train --label parent -o train.h5
    """
    from spectool.io.results import write_rows

    if amcsd_db is not None and not amcsd_db.is_file():
        raise UsageError(f"--amcsd-db: {amcsd_db} is not a file")
    if not (aflow or amcsd or amcsd_db or cifs):
        raise UsageError("name at least one source: --aflow, --amcsd or --cifs DIR")
    target = _check_target(Path(output), force)
    entries, report = _library_entries(env, aflow, amcsd_db or amcsd, cifs or [], labels, cif_licence)
    analysed, failed = _analyse_all(env, entries, workers)
    report.update(failed)
    from spectool.corpus.grouping import build_types

    types, unnamed = build_types(analysed, per_type, holdout, seed,
                                  mapper=lambda func, items: list(_map(func, items, workers)))
    if not types:
        raise UsageError("no structure type could be built from the sources given")
    _write_library(target, types, _metadata(report, analysed, types, unnamed, seed, per_type, holdout,
                                                  cif_licence))
    _summarise(env, report, types, unnamed, target)
    if json:
        write_rows(env, (t.row() for t in types), LIBRARY_TYPE_COLUMNS, title="structure types")
    cif_failures = [m for m in report["failed"] + report["failed_analysis"] if m[0] == "cifs"]
    if cif_failures:
        from spectool.errors import PartialFailure

        raise PartialFailure(f"{len(cif_failures)} CIF(s) could not be used (named above); the rest were written")


def _library_entries(env, aflow, amcsd, cif_dirs, labels, cif_licence):
    """Entries of the sources asked for, and the start of the report (source → counts, failures)."""
    from spectool.corpus import sources as src
    from spectool.errors import SpectoolError
    from spectool.io import sources as io

    entries, report = [], {"read": {}, "failed": []}
    if aflow:
        root = io.package_path(*io.AFLOW_DATA)
        found = [src.aflow_entry(record, str(path.parent.name)) for path, record in io.aflow_records(root)]
        entries += found
        report["read"]["aflow"] = len(found)
    if amcsd:
        n = 0
        db = amcsd if isinstance(amcsd, Path) else io.package_path(*io.AMCSD_DB)
        for row in io.amcsd_rows(db):
            n += 1
            try:
                entries.append(src.amcsd_entry(row))
            except SpectoolError as error:
                report["failed"].append(("amcsd", f"AMCSD {row['id']}", error.message))
        report["read"]["amcsd"] = n
    table = io.read_label_table(labels) if labels else {}
    for folder in cif_dirs:
        files = io.cif_files(folder)
        own = _folder_table(folder)
        for path in files:
            rel = str(path.relative_to(folder))
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as error:
                env.error(f"{path}: {error.strerror or error}")
                report["failed"].append(("cifs", str(path), "unreadable"))
                continue
            name = table.get(rel) or table.get(path.name) or own.get(rel) or own.get(path.name, "")
            entries.append(src.cif_entry(str(path), text, name, cif_licence))
        report["read"][f"cifs:{folder}"] = len(files)
    return entries, report


def _folder_table(folder: Path) -> dict[str, str]:
    """A folder's own labels.csv if it names types; {} otherwise (e.g. a table of formulas only)."""
    from spectool.errors import FormatError
    from spectool.io.sources import read_label_table

    path = folder / "labels.csv"
    try:
        return read_label_table(path) if path.is_file() else {}
    except FormatError:
        return {}


def _analyse_all(env, entries, workers):
    """Each entry analysed (in order; a process pool when workers > 1), and the failures."""
    import os

    from spectool.corpus.sources import try_analyse

    os.environ.setdefault("SPGLIB_WARNING", "OFF")  # spglib's C layer prints its retries to stderr

    analysed, failed = [], []
    with env.progress("library", len(entries)) as advance:
        for entry, result in zip(entries, _map(try_analyse, entries, workers)):
            advance(1)
            if isinstance(result, str):
                failed.append((entry.source, entry.origin, result))
                if entry.source == "cifs":
                    env.error(f"{entry.origin}: {result}")
                else:
                    env.debug(f"{entry.origin}: left out: {result}")
            else:
                analysed.append(result)
    return analysed, {"failed_analysis": failed}


def _map(func, items, workers):
    """``map(func, items)`` in order, in the shared pool (Ctrl-C stops its workers at once) when it pays."""
    with worker_pool(workers if len(items) >= 2 else 1) as pool:
        yield from pool_map(pool, func, items, chunksize=32)


def _metadata(report, analysed, types, unnamed, seed, per_type, holdout, cif_licence) -> dict:
    """library.json: the sources with their licences and citations, counts and the options used."""
    from collections import Counter

    from spectool import __version__
    from spectool.corpus.sources import CITATIONS, LICENCES

    used = Counter(e.source for t in types for e in t.entries)
    return {"format": "spectool-library/1", "spectool": __version__, "seed": seed, "per_type": per_type,
            "holdout": holdout, "types": len(types), "structures": sum(used.values()),
            "read": report["read"], "analysed": dict(Counter(e.source for e in analysed)), "used": dict(used),
            "left_out_unnamed": unnamed, "left_out": len(report["failed"]) + len(report["failed_analysis"]),
            "licences": {k: v for k, v in {**LICENCES, "cifs": cif_licence}.items() if k in used},
            "citations": {k: v for k, v in CITATIONS.items() if k in used}}


def _write_library(target: Path, types, metadata: dict) -> None:
    import json as jsonlib

    with atomic_folder(target) as staging:
        manifest = []
        for kind in types:
            for n, (entry, split) in enumerate(zip(kind.entries, kind.splits)):
                rel = f"{split}/{kind.label}/{kind.label}-{n:03d}-{entry.id}.cif"
                path = staging / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(entry.text, encoding="utf-8")
                manifest.append({**{c: getattr(entry, c) for c in LIBRARY_COLUMNS if hasattr(entry, c)},
                                 "id": f"{kind.label}-{n:03d}-{entry.id}", "label": kind.label, "split": split,
                                 "path": rel})
        write_csv(staging / "types.csv", [t.row() for t in types], LIBRARY_TYPE_COLUMNS)
        write_csv(staging / "manifest.csv", manifest, LIBRARY_COLUMNS)
        write_csv(staging / "names.csv", [r for t in types for r in t.name_rows()], ["name", "label", "structures"])
        (staging / "library.json").write_text(jsonlib.dumps(metadata, indent=1) + "\n", encoding="utf-8")


def _summarise(env, report, types, unnamed, target: Path) -> None:
    from collections import Counter

    left = Counter(source for source, _, _ in report["failed"] + report["failed_analysis"])
    used = Counter(e.source for t in types for e in t.entries)
    read = Counter()
    for source, n in report["read"].items():
        read[source.split(":")[0]] += n
    for kind, n in read.items():
        env.info(f"{kind}: {n} read, {n - left[kind]} built and keyed, {used[kind]} in the library")
    reasons = Counter(_reason(m) for _, _, m in report["failed"] + report["failed_analysis"])
    for reason, n in reasons.most_common(6):
        env.debug(f"  left out {n}: {reason}")
    n_test = sum(t.splits.count("test") for t in types)
    total = sum(len(t.entries) for t in types)
    env.info(f"library: {total} structure(s) of {len(types)} type(s) ({total - n_test} train, {n_test} test; "
             f"{unnamed} in unnamed types left out) written to {target}")


def _reason(message: str) -> str:
    import re

    return re.sub(r"[\d.]+", "N", message.split(":")[-1].strip())[:70]
