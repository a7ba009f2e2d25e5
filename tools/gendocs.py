"""Generate man/ and completions/ from the CLI, or check that the committed ones match.

    python tools/gendocs.py --write     # regenerate
    python tools/gendocs.py --check     # exit 1 with a diff if anything drifted

Man pages come from help2man (a Debian package, needed only here) over the plain
(non-rich) help at a fixed width and date, so the output is reproducible.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01: pages do not change with the day they are built
COMPLETIONS = {"bash": "spectool.bash", "zsh": "_spectool", "fish": "spectool.fish"}


def subcommands() -> dict[str, str]:
    """Man page name → one-line summary, from the app itself: ``info`` for ``spectool info``,
    ``corpus`` and ``corpus-prototypes`` for a group and its commands."""
    return {"-".join(path): summary for path, summary in _commands()}


def _commands() -> list[tuple[tuple[str, ...], str]]:
    """(command path, summary) of every subcommand, groups and their commands included."""
    sys.path.insert(0, str(ROOT))
    from typer.main import get_command

    from spectool.cli.app import app

    out = []

    def walk(group, prefix: tuple[str, ...]) -> None:
        for name, cmd in sorted(group.commands.items()):
            out.append((prefix + (name,), (cmd.help or name).strip().splitlines()[0].rstrip(".")))
            if hasattr(cmd, "commands"):
                walk(cmd, prefix + (name,))

    walk(get_command(app), ())
    return out


def completions() -> dict[str, str]:
    from spectool.cli.completion import completion_script

    return {COMPLETIONS[shell]: completion_script(shell) for shell in COMPLETIONS}


def man_pages(shim_dir: Path) -> dict[str, str]:
    """``spectool.1`` and ``spectool-CMD.1`` texts."""
    pages = {"spectool.1": _help2man("spectool", "spectra to explainable classifiers, from the shell", shim_dir)}
    for path, summary in _commands():
        pages[f"spectool-{'-'.join(path)}.1"] = _help2man(" ".join(("spectool",) + path), summary, shim_dir)
    return pages


def _help2man(program: str, summary: str, shim_dir: Path) -> str:
    from spectool import __version__

    env = {**os.environ, "PATH": f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "TYPER_USE_RICH": "0", "COLUMNS": "80", "TERMINAL_WIDTH": "80",
           "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "NO_COLOR": "1"}
    out = subprocess.run(["help2man", "--no-info", "--no-discard-stderr", f"--version-string={__version__}",
                          "--include", str(ROOT / "man" / "spectool.h2m"), "-n", summary, program],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout


def _shim(directory: Path) -> None:
    """A ``spectool`` on PATH that runs this checkout with this interpreter."""
    script = directory / "spectool"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m spectool "$@"\n')
    script.chmod(0o755)


def generate(with_man: bool) -> dict[Path, str]:
    files = {ROOT / "completions" / name: text for name, text in completions().items()}
    if with_man:
        with tempfile.TemporaryDirectory() as tmp:
            _shim(Path(tmp))
            files.update({ROOT / "man" / name: text for name, text in man_pages(Path(tmp)).items()})
    return files


def drift(files: dict[Path, str]) -> list[str]:
    """Unified diffs of generated vs committed files (empty when in sync)."""
    diffs = []
    for path, text in files.items():
        old = path.read_text() if path.exists() else ""
        if old != text:
            diffs.append("".join(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                      str(path), f"{path} (generated)", n=1)))
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    with_man = shutil.which("help2man") is not None
    if not with_man:
        print("gendocs: help2man not found; man pages skipped (apt-get install help2man)", file=sys.stderr)
    files = generate(with_man)
    if args.check:
        diffs = drift(files)
        sys.stdout.write("".join(diffs))
        if diffs:
            print("gendocs: out of date; run: python tools/gendocs.py", file=sys.stderr)
        return 1 if diffs else 0
    for path, text in files.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
