"""``spectool simulate``: crystal structures → powder XRD patterns (a spectra set)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Iterator, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import Batch, OutputOpt, WorkersOpt, command, parse_range
from spectool.cli.workers import pool_map, worker_pool
from spectool.env import Env
from spectool.errors import SpectoolError, UsageError

STRUCTURE_SUFFIXES = (".cif", ".mcif", ".vasp", ".poscar", ".json", ".cssr", ".xsf", ".mson", ".yaml")
ROWS_PER_WRITE = 1024  # rows per set write: each write is a resize and a write per column


@command(app, "simulate")
def simulate(
    env: Env,
    structures: Annotated[Optional[list[str]], typer.Argument(
        metavar="STRUCTURE", help="CIF, POSCAR, JSON… files, folders (recursive) or globs.")] = None,
    output: OutputOpt = "-",
    from_list: Annotated[Optional[str], typer.Option("--from-list", metavar="FILE",
                                                     help="Read paths one per line from FILE (- for stdin).")] = None,
    radiation: Annotated[str, typer.Option(help="CuKa, CuKa1, CuKa12 (Kα1+Kα2 doublet), MoKa, CoKa, CrKa, FeKa, "
                                                "AgKa, … or a wavelength in Å.")] = "CuKa",
    wavelength: Annotated[Optional[float], typer.Option(help="Wavelength in Å (overrides --radiation).")] = None,
    two_theta: Annotated[str, typer.Option("--range", metavar="START:STOP", help="2θ range in degrees.")] = "5:90",
    step: Annotated[float, typer.Option(min=1e-5, help="2θ step in degrees.")] = 0.02,
    profile: Annotated[str, typer.Option(help="gaussian, lorentzian or pseudo-voigt.")] = "gaussian",
    eta: Annotated[float, typer.Option(min=0, max=1, help="Lorentzian fraction of the pseudo-Voigt.")] = 0.5,
    fwhm: Annotated[Optional[float], typer.Option(help="Constant FWHM in degrees 2θ [default 0.1 when no other "
                                                       "width is given].")] = None,
    uvw: Annotated[Optional[str], typer.Option(metavar="U,V,W", help="Caglioti widths in deg².")] = None,
    crystallite_size: Annotated[Optional[float], typer.Option(help="Scherrer crystallite size in nm (K = 0.9).")] = None,
    b_iso: Annotated[Optional[float], typer.Option(help="Debye–Waller B in Å² for every site (replaces the CIF's).")] = None,
    monochromator: Annotated[Optional[float], typer.Option(
        "--monochromator-angle", help="Monochromator 2θ in degrees for the polarisation factor.")] = None,
    absolute: Annotated[bool, typer.Option(help="Keep absolute intensities instead of a maximum of 1.")] = False,
    label: Annotated[str, typer.Option(help="stem, parent, formula, reduced-formula, spacegroup, crystal-system, "
                                            "structure-type, or a CSV mapping id/path to label.")] = "stem",
    symprec: Annotated[float, typer.Option(help="spglib tolerance in Å for space group labels.")] = 0.01,
    symmetry: Annotated[bool, typer.Option(help="Space group and crystal system labels from spglib (1–30 ms a "
                                                "structure; --no-symmetry leaves them empty).")] = True,
    stacking: Annotated[str, typer.Option(help="ordered (crystals), turbostratic (every structure's layers stacked "
                                               "at random: Warren bands, few-layer 00l) or auto (turbostratic where "
                                               "the file names a smectite).")] = "ordered",
    workers: WorkersOpt = 1,
    shard: Annotated[Optional[str], typer.Option(metavar="I/N", help="Do only part I of N (0-based) of the inputs.")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="hdf5 or npy [default: from the suffix].")] = None,
) -> None:
    """Simulate powder XRD patterns of crystal structures onto one 2θ grid.

    Kinematic diffraction as pymatgen's XRDCalculator computes it (atomic scattering factors, occupancies,
    Debye–Waller, Lorentz–polarisation, merged equivalent reflections), profiled onto the grid; with --stacking,
    layer structures such as smectite clays as the turbostratic stacks they occur as. Each row keeps
    its stick list (2θ, d, intensity, hkl, multiplicity) and cell for augmentation. Output is identical for any
    --workers; shards (--shard I/N) join with spectool merge.
    """
    from spectool.io.stdio import refuse_binary_to_terminal
    from spectool.io.labels import read_label_table
    from spectool.xrd.simulate import LABEL_RULES

    refuse_binary_to_terminal(output, env)
    if not symmetry and label in ("spacegroup", "crystal-system"):
        raise UsageError(f"--label {label} needs the space group labels that --no-symmetry leaves out")
    settings = _settings(radiation, wavelength, two_theta, step, profile, eta, fwhm, uvw, crystallite_size,
                         b_iso, monochromator, absolute, symprec, label == "structure-type", symmetry, stacking)
    table = None if label in LABEL_RULES else read_label_table(label)
    paths = _shard(_inputs(structures or [], from_list, env), shard)
    _run(env, paths, settings, label, table, output, workers, fmt, shard)


def _settings(radiation, wavelength, two_theta, step, profile, eta, fwhm, uvw, size, b_iso, mono, absolute,
              symprec, structure_type, symmetry=True, stacking="ordered"):
    from spectool.xrd.simulate import STACKINGS, SimulationSettings

    if stacking not in STACKINGS:
        raise UsageError(f"--stacking must be one of {', '.join(STACKINGS)}, not {stacking!r}")
    start, stop = parse_range(two_theta, "--range")
    if not 0 <= start < stop <= 180:
        raise UsageError(f"--range {two_theta} must lie within 0:180 degrees")
    settings = SimulationSettings(start=start, stop=stop, step=step,
                                  radiation=str(wavelength) if wavelength else radiation, shape=profile,
                                  eta=eta, fwhm=fwhm, uvw=_uvw(uvw), crystallite_size=size,
                                  normalize=not absolute, b_iso=b_iso, monochromator_two_theta=mono,
                                  symmetry=symmetry, symprec=symprec, structure_type=structure_type,
                                  stacking=stacking)
    settings.parsed_radiation(), settings.profile()  # usage errors now, before any work
    return settings


def _uvw(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        u, v, w = (float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"--uvw must be three numbers U,V,W, got {text!r}") from None
    return u, v, w


def _inputs(structures: list[str], from_list: str | None, env: Env) -> list[tuple[str, str | None]]:
    from spectool.io.inputs import expand_inputs, read_path_list

    specs = list(structures)
    if from_list is not None:
        if from_list == "-":
            specs += read_path_list(env.stdin)
        else:
            with open(from_list, "rb") as f:
                specs += read_path_list(f, from_list)
    if not specs:
        raise UsageError("no structures given: name files or folders, or use --from-list")
    return expand_inputs(specs, STRUCTURE_SUFFIXES)


def _shard(paths: list, shard: str | None) -> list:
    """Contiguous part I of N, so shards merged in order equal one run."""
    if shard is None:
        return paths
    try:
        index, count = (int(v) for v in shard.split("/"))
    except ValueError:
        raise UsageError(f"--shard must be I/N, got {shard!r}") from None
    if not 0 <= index < count:
        raise UsageError(f"--shard {shard}: I must be within 0..N-1")
    lo, hi = len(paths) * index // count, len(paths) * (index + 1) // count
    return paths[lo:hi]


def _run(env, paths, settings, label, table, output, workers, fmt, shard) -> None:
    from spectool.spectra import Axis, SetMeta
    from spectool.io.sets import create_set, history_record
    from spectool.xrd.simulate import rows_to_chunk

    labels = _labeler(label, table)
    radiation = settings.parsed_radiation()
    meta = SetMeta(axis=Axis(settings.grid(), "two_theta", "deg"), kind="xrd", wavelength=radiation.wavelength,
                   radiation=settings.radiation)
    params = {**settings.to_json(), "wavelengths": list(radiation.wavelengths), "weights": list(radiation.weights),
              "label": label, "shard": shard}
    record = history_record("simulate", params, [p for p, _ in paths if len(paths) <= 1000])
    batch, pending = Batch(env, noun="structure"), []
    parallel = workers if sum(problem is None for _, problem in paths) >= 2 else 1
    with worker_pool(parallel) as pool, single_blas_thread(), create_set(output, meta, env, record, fmt) as out, \
            env.progress("simulate", len(paths)) as advance:
        for path, results in _simulate_all(paths, settings, pool, workers):
            advance(1)
            for item in results:
                with batch.item(path):
                    if isinstance(item, SpectoolError):
                        raise item
                    for message in item.messages:
                        env.debug(f"{path}: {message}")
                    pending.append(item)
            if len(pending) >= ROWS_PER_WRITE:
                out.append(rows_to_chunk(pending), [labels(r) for r in pending])
                pending = []
        if pending:
            out.append(rows_to_chunk(pending), [labels(r) for r in pending])
        if not batch.ok:
            batch.finish()  # nothing usable: raises before the output is published
    env.info(f"simulate: {batch.ok} pattern(s) written to {output}")
    batch.finish()


def _labeler(rule: str, table: dict[str, str] | None):
    """row → class label: by the CSV ``table`` when there is one, else by ``rule``."""
    from spectool.io.labels import label_from_table
    from spectool.xrd.simulate import label_of

    if table is not None:
        return lambda row: label_from_table(table, row.path, row.id)
    return lambda row: label_of(row, rule)


def _simulate_all(paths, settings, pool, workers: int) -> Iterator[tuple[str, list]]:
    """(path, results) in input order; in ``pool`` when there is one."""
    from functools import partial

    from spectool.errors import FormatError
    from spectool.xrd.simulate import simulate_file

    good = [p for p, problem in paths if problem is None]
    problems = {p: problem for p, problem in paths if problem is not None}
    chunksize = max(1, min(64, len(good) // (workers * 8)))
    work = simulate_file if pool is None else _simulate_file_in_worker
    results = pool_map(pool, partial(work, settings=settings), good, chunksize=chunksize)
    for path, problem in paths:
        yield path, ([FormatError(problem, path)] if path in problems else next(results))


def single_blas_thread():
    """A context in which BLAS runs on one thread: simulation's matrix products are small, and
    BLAS threads on them only burn CPU time (about half as much again for ``spectool simulate``)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def _simulate_file_in_worker(path: str, settings) -> list:
    """``simulate_file`` in a pool worker, whose BLAS keeps one thread for the worker's life."""
    from spectool.xrd.simulate import simulate_file

    _worker_blas_thread()
    return simulate_file(path, settings)


@lru_cache(maxsize=1)
def _worker_blas_thread() -> None:
    single_blas_thread()
