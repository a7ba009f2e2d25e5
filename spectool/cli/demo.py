"""``spectool demo``: the whole pipeline end to end, on CPU, in a few minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from spectool.cli.app import app
from spectool.cli.common import SeedOpt, command
from spectool.env import Env

TYPES = "B1,B3,B4,C1,C4,C2"  # rock salt, zincblende, wurtzite, fluorite, rutile, pyrite
EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "examples" / "example.xy"
EXAMPLE_TYPE = "C4"  # the example is a simulated rutile TiO2 (tools/make_example.py)
RECIPE = ["-s", "baseline:method=snip", "-s", "normalize:method=max"]  # what predict replays on raw scans


@command(app, "demo")
def demo(
    env: Env,
    directory: Annotated[Optional[str], typer.Option("--dir", metavar="DIR",
                                                     help="Work in DIR and keep it [default: a temporary folder].")] = None,
    seed: SeedOpt = 0,
) -> None:
    """Run the pipeline end to end: a corpus of six structure types → simulate → augment → preprocess → train a logistic-regression classifier → predict the example scan (a simulated rutile) → explain it with a picture.

    Prints each command as it runs and where every output lies, and fails unless the model names the example's
    structure type (C4, rutile) first. The training patterns get backgrounds and counting noise, then the recipe
    predict replays on raw scans (SNIP baseline, max normalisation), so they look like the prepared scan. Takes
    about a minute on CPU.
    """
    import tempfile
    from contextlib import ExitStack

    with ExitStack() as stack:
        work = Path(directory) if directory else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spectool-demo-")))
        work.mkdir(parents=True, exist_ok=True)
        for label, argv in _steps(work, seed):
            _run_step(env, label, argv)
        env.info(f"demo: the example is a simulated rutile, type {EXAMPLE_TYPE}; the model named "
                 f"{_named(work / 'predicted.h5')} first")
        env.info(f"demo: done; outputs in {work}" + ("" if directory else " (removed on exit: use --dir to keep)"))
        for name in ("corpus/types.csv", "sim.h5", "train.h5", "model.safetensors", "predicted.h5", "maps.h5",
                     "pictures"):
            env.info(f"  {work / name}")


def _steps(work: Path, seed: int) -> list[tuple[str, list[str]]]:
    corpus, model = work / "corpus", work / "model.safetensors"
    return [
        ("a corpus of hypothetical compounds of six structure types",
         ["corpus", "prototypes", "-o", str(corpus), "--types", TYPES, "--per-type", "6", "--seed", str(seed), "--force"]),
        ("their powder patterns (Cu Kα, 5–90° 2θ)",
         ["simulate", str(corpus / "train"), "--label", "parent", "-o", str(work / "sim.h5")]),
        ("physics-informed variants, with backgrounds and counting noise",
         ["augment", str(work / "sim.h5"), "-n", "20", "--preset", "both", "--seed", str(seed), "-o", str(work / "aug.h5")]),
        ("the recipe a raw scan will go through", ["preprocess", str(work / "aug.h5"), *RECIPE, "-o", str(work / "train.h5")]),
        ("a logistic-regression classifier", ["train", str(work / "train.h5"), "--model", "logreg", "--seed", str(seed),
                                            "--label-info", str(corpus / "types.csv"), "--label-columns",
                                            "strukturbericht,pearson,prototype_formula", "-o", str(model)]),
        ("the example scan (a simulated rutile with background and noise)",
         ["predict", "-m", str(model), "--top", "3", str(EXAMPLE), "-o", str(work / "predicted.h5")]),
        ("what the model looked at", ["explain", "-m", str(model), str(EXAMPLE), "-o", str(work / "maps.h5"),
                                      "--png", str(work / "pictures")]),
    ]


def _run_step(env: Env, label: str, argv: list[str]) -> None:
    from spectool.cli.main import run
    from spectool.errors import SpectoolError

    env.info(f"demo: {label}\n  $ spectool {' '.join(argv)}")
    status = run(argv + ([] if env.verbosity else ["-q"]) if argv[0] != "predict" else argv)
    if status != 0:
        raise SpectoolError(f"demo step `spectool {argv[0]}` failed (exit {status})")


def _named(predicted: Path) -> str:
    """The label predict gave the example first; an error unless it is the example's type."""
    from spectool.env import Env
    from spectool.errors import SpectoolError
    from spectool.io.sets import open_set

    with open_set(str(predicted), Env()) as reader:
        chunk = reader.read_rows(0, 1, peaks=False)
        named = reader.meta.label_names[int(chunk.y[0])]
    if named != EXAMPLE_TYPE:
        raise SpectoolError(f"the demo's model named the example {named}, not {EXAMPLE_TYPE} (rutile)", predicted)
    return named
