"""Scan readers: measured spectra from instrument and database files → :class:`Scan` lists.

:func:`read_scans` is the one entry point that touches the file system: it reads the bytes,
sniffs the content (magic bytes, first lines) with the suffix only as a tie-breaker, and,
for GSAS data, looks for the instrument-parameter file (``.prm``) beside it. The parsers
themselves are pure ``bytes → list[Scan]`` functions registered in
:data:`spectool.io.readers.base.READERS`. Importing this package pulls in numpy and the
standard library only.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

from spectool.errors import FormatError
from spectool.io.readers import (bruker, gsas, jcamp_dx, omnic, opus, renishaw, rigaku, text,  # noqa: F401
                                 xrdml)  # (each registers its reader)
from spectool.io.readers._common import open_zip, to_cps, zip_member
from spectool.io.readers.base import NUMBERED, READERS, ReaderSpec, Scan, suffix_of

__all__ = ["read_scans", "list_readers", "SCAN_SUFFIXES", "Scan", "FormatError"]

#: Sniffing order: binary magic first, generic column text last.
PRIORITY = ("bruker_raw", "brml", "rasx", "wdf", "opus", "spa", "xrdml", "ras", "jcamp", "gsas", "text")
HEAD = 65536
MAX_PRM = 1 << 20


def list_readers() -> list[ReaderSpec]:
    """Registered readers in sniffing order."""
    order = {n: i for i, n in enumerate(PRIORITY)}
    return sorted(READERS.values(), key=lambda r: order.get(r.name, len(PRIORITY) - 0.5))


SCAN_SUFFIXES: tuple[str, ...] = tuple(sorted({s for r in READERS.values() for s in r.suffixes}
                                              | {".zip"}))


def _pick(head: bytes, name: str) -> ReaderSpec:
    """The reader for this content: sniffers first, the suffix breaks ties and is the fallback."""
    suffix = suffix_of(name)
    matches = [r for r in list_readers() if _sniff(r, head, name)]
    for spec in matches:
        if suffix in spec.suffixes:
            return spec
    if matches:
        return matches[0]
    by_suffix = [r for r in list_readers() if suffix in r.suffixes]
    if by_suffix:
        return by_suffix[0]
    raise FormatError(f"unrecognised format (suffix {suffix or 'none'}; `spectool formats` lists "
                      "what spectool reads)", name)


def claims_numbered(head: bytes, name: str) -> bool:
    """Whether a reader registered for numeric suffixes (:data:`~spectool.io.readers.base.NUMBERED`)
    recognises a file by its first bytes ``head``."""
    return any(_sniff(r, head, name) for r in list_readers() if NUMBERED in r.suffixes)


def _sniff(spec: ReaderSpec, head: bytes, name: str) -> bool:
    try:
        return bool(spec.sniff(head, name))
    except Exception:  # a sniffer is a guess; a failing guess is a "no"
        return False


def _from_zip(data: bytes, name: str, prms: Callable[[], dict[str, str]], depth: int) -> list[Scan]:
    """A zip that is neither .brml nor .rasx: read its single member."""
    zf = open_zip(data, name)
    names = zf.namelist()
    if any("RawData" in n for n in names):
        return READERS["brml"].read(data, name)
    if any("Profile" in n and n.endswith(".txt") for n in names):
        return READERS["rasx"].read(data, name)
    files = [n for n in names if not n.endswith("/")]
    if len(files) != 1 or depth > 0:
        raise FormatError(f"zip archive with {len(files)} members is not a known scan format "
                          "(not .brml/.rasx, nor a single zipped scan)", name)
    return _dispatch(zip_member(zf, files[0], name), f"{name}:{files[0]}", prms, None, depth + 1)


def _dispatch(data: bytes, name: str, prms: Callable[[], dict[str, str]], prm: str | None,
              depth: int = 0) -> list[Scan]:
    """Read ``data`` with the reader its content calls for; ``prms()`` lists the instrument-parameter
    files a GSAS file may need (called only for GSAS data: listing a big folder per scan is slow)."""
    if not data:
        raise FormatError("empty file: no numeric data", name)
    head = data[:HEAD]
    if head.startswith(b"PK\x03\x04"):
        return _from_zip(data, name, prms, depth)
    spec = _pick(head, name)
    if spec.name != "gsas":
        return spec.read(data, name)
    head_text = head[:4096].decode("latin-1")
    if prm is None:
        found = prms()
        prm = found.get(gsas.choose_prm(name, head_text, found) or "")
    return gsas.read_gsas(data, name, prm=prm)


def _prm_beside(path: Path) -> dict[str, str]:
    """Instrument-parameter files (``*.prm``, any case) in the data file's folder."""
    found = {}
    try:
        for p in sorted(path.parent.iterdir()):
            if p.suffix.lower() == ".prm" and p.is_file() and p.stat().st_size < MAX_PRM:
                found[p.name] = p.read_bytes().decode("latin-1")
    except OSError:
        return {}
    return found


def read_scans(path_or_bytes: str | Path | bytes, name: str | None = None, *,
               prm: str | Path | None = None, cps: bool = False) -> list[Scan]:
    """Read every scan in a file (or in bytes, e.g. from stdin).

    Parameters
    ----------
    path_or_bytes : a path, or the file content as bytes (``name`` then names it in messages
        and gives the suffix hint).
    prm : a GSAS instrument-parameter file (path) for GSAS data; by default one beside the
        data file is used (same stem, the name on the file's second line, or the only one).
    cps : divide counts by the counting time per step where the file states it.

    Returns
    -------
    list of Scan, each with ``x`` (L,) ascending, ``y`` (L,), optional ``sigma`` (L,).

    Raises
    ------
    FormatError : unreadable, unrecognised or invalid content (with path and, for text, line).
    """
    prms: Callable[[], dict[str, str]] = dict
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, name = bytes(path_or_bytes), name or "<bytes>"
    else:
        path = Path(path_or_bytes)
        name = name or str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FormatError(f"cannot read: {exc.strerror or exc}", name) from None
        if prm is None:
            prms = partial(_prm_beside, path)
    prm_text = _read_prm(prm, name) if prm is not None else None
    try:
        scans = _dispatch(data, name, prms, prm_text)
    except FormatError:
        raise
    except (Exception, RecursionError) as exc:  # safety net: a reader bug is still a FormatError
        raise FormatError(f"cannot parse ({type(exc).__name__}: {exc})", name) from None
    for scan in scans:
        scan.source = name
        if cps:
            to_cps(scan)
    return scans


def _read_prm(prm: str | Path, name: str) -> str:
    try:
        return Path(prm).read_bytes().decode("latin-1")
    except OSError as exc:
        raise FormatError(f"cannot read instrument file {prm}: {exc.strerror or exc}", name) \
            from None
