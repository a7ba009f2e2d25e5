"""man/ and completions/ are generated from the CLI; they must match what is committed."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def _gendocs():
    spec = importlib.util.spec_from_file_location("gendocs", ROOT / "tools" / "gendocs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_has_a_man_page():
    gendocs = _gendocs()
    missing = [name for name in gendocs.subcommands() if not (ROOT / "man" / f"spectool-{name}.1").exists()]
    assert not missing, f"no man page for {missing}: run python tools/gendocs.py"


def test_completions_are_in_sync():
    gendocs = _gendocs()
    diffs = gendocs.drift({ROOT / "completions" / n: t for n, t in gendocs.completions().items()})
    assert not diffs, "completions drifted; run python tools/gendocs.py\n" + "".join(diffs)


def test_zsh_completion_registers_from_fpath():
    assert (ROOT / "completions" / "_spectool").read_text().startswith("#compdef spectool")


def test_man_pages_are_in_sync():
    gendocs = _gendocs()
    files = gendocs.generate()
    diffs = gendocs.drift(files)
    assert not diffs, "man pages drifted; run python tools/gendocs.py\n" + "".join(diffs)
    page = (ROOT / "man" / "spectool-info.1").read_text()
    assert '.SH "EXIT STATUS"' in page and ".SH ENVIRONMENT" in page


def test_man_pages_are_ascii_with_groff_escapes_for_symbols():
    pages = {p.name: p.read_bytes() for p in (ROOT / "man").glob("*.1")}
    assert all(text.isascii() and b"??" not in text for text in pages.values())
    simulate = pages["spectool-simulate.1"].decode()
    assert r"onto one 2\[u03B8] grid" in simulate and r"Debye\[u2013]Waller" in simulate


def test_roff_escapes_what_groff_would_take_as_requests():
    roff = _gendocs().roff
    assert roff(".hidden -v \\ 2θ") == r"\&.hidden \-v \e 2\[u03B8]"
