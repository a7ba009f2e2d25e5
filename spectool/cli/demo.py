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


@command(app, "demo")
def demo(
    env: Env,
    directory: Annotated[Optional[str], typer.Option("--dir", metavar="DIR",
                                                     help="Work in DIR and keep it [default: a temporary folder].")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 15,
    seed: SeedOpt = 0,
) -> None:
    """Run the pipeline end to end: a corpus of six structure types → simulate → augment → train a small ViT → predict the example scan (rutile) → explain it with a picture.

    Prints each command as it runs and where every output lies. Takes a minute or two on CPU.
    """
    import tempfile
    from contextlib import ExitStack

    with ExitStack() as stack:
        work = Path(directory) if directory else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spectool-demo-")))
        work.mkdir(parents=True, exist_ok=True)
        for label, argv in _steps(work, epochs, seed):
            _run_step(env, label, argv)
        env.info(f"demo: done; outputs in {work}" + ("" if directory else " (removed on exit: use --dir to keep)"))
        for name in ("corpus/types.csv", "sim.h5", "train.h5", "model.safetensors", "maps.h5", "pictures"):
            env.info(f"  {work / name}")


def _steps(work: Path, epochs: int, seed: int) -> list[tuple[str, list[str]]]:
    corpus, model = work / "corpus", work / "model.safetensors"
    return [
        ("a corpus of hypothetical compounds of six structure types",
         ["corpus", "prototypes", "-o", str(corpus), "--types", TYPES, "--per-type", "6", "--seed", str(seed), "--force"]),
        ("their powder patterns (Cu Kα, 5–90° 2θ)",
         ["simulate", str(corpus / "train"), "--label", "parent", "-o", str(work / "sim.h5")]),
        ("physics-informed variants", ["augment", str(work / "sim.h5"), "-n", "20", "--preset", "both", "--without",
                                       "background", "--seed", str(seed), "-o", str(work / "train.h5")]),
        ("a small ViT", ["train", str(work / "train.h5"), "--model", "vit", "--patch", "120", "--dim", "32", "--depth",
                         "2", "--heads", "2", "--epochs", str(epochs), "--batch-size", "32", "--patience", "0", "--seed", str(seed), "--scan-step",
                         "baseline:method=snip", "--label-info", str(corpus / "types.csv"), "--label-columns",
                         "strukturbericht,pearson,prototype_formula", "-o", str(model)]),
        ("the example scan (a simulated rutile with background and noise)",
         ["predict", "-m", str(model), "--top", "3", str(EXAMPLE)]),
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
