"""JCAMP-DX ``.jdx/.dx`` (IR, Raman, UV-Vis) through the ``jcamp`` package (MIT).

``jcamp`` decodes AFFN and ASDF (SQZ/DIF/DUP) data and applies XFACTOR/YFACTOR; this module
maps the labelled records onto a Scan: ``##XUNITS`` 1/CM → wavenumber (Raman: raman_shift),
MICROMETERS / NANOMETERS → converted to 1/cm for IR and Raman, kept in nm for UV-Vis;
``##YUNITS`` → ``meta['signal']``; ``##DATA TYPE`` → kind. A compound file (``DATA TYPE=LINK``)
gives one Scan per block. ``jcamp`` is imported lazily.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers._common import decode_text
from spectool.io.readers.base import Scan, finalize, register_reader


def _kind(block: dict) -> str:
    dtype = str(block.get("data type", block.get("datatype", ""))).upper()
    if "RAMAN" in dtype:
        return "raman"
    if "INFRARED" in dtype or dtype.startswith("IR"):
        return "ftir"
    return "other"


def _signal(yunits: str) -> str | None:
    y = yunits.upper()
    for word, signal in (("ABSORBANCE", "absorbance"), ("TRANSMITTANCE", "transmittance"),
                         ("REFLECTANCE", "reflectance"), ("KUBELKA", "kubelka_munk"),
                         ("COUNT", "counts"), ("ARBITRARY", "arbitrary")):
        if word in y:
            return signal
    return yunits.lower() or None


def _axis(x: np.ndarray, xunits: str, kind: str) -> tuple[np.ndarray, str, str]:
    """(x, quantity, units): IR/Raman axes in 1/cm, UV-Vis wavelengths in nm."""
    u = xunits.upper().replace(" ", "")
    spectro = kind in ("ftir", "raman")
    if u in ("1/CM", "CM-1", "CM^-1", "WAVENUMBERS"):
        return x, "raman_shift" if kind == "raman" else "wavenumber", "1/cm"
    if u in ("MICROMETERS", "UM", "MICRONS"):
        return (1e4 / x, "wavenumber", "1/cm") if spectro else (x * 1e3, "wavelength", "nm")
    if u in ("NANOMETERS", "NM"):
        return (1e7 / x, "wavenumber", "1/cm") if spectro else (x, "wavelength", "nm")
    return x, xunits.lower() or "x", xunits.lower() or "arb"


def _scan(block: dict, name: str, index: int) -> Scan:
    x = np.asarray(block.get("x", []), dtype=np.float64)
    y = np.asarray(block.get("y", []), dtype=np.float64)
    if x.size == 0 or x.shape != y.shape:
        raise FormatError(f"JCAMP block {index + 1} holds no XY data", name)
    kind = _kind(block)
    if np.any(x <= 0) and str(block.get("xunits", "")).upper() in ("MICROMETERS", "NANOMETERS"):
        raise FormatError("wavelength axis must be positive", name)
    x, quantity, units = _axis(x, str(block.get("xunits", "")), kind)
    meta = {"sample": str(block.get("title", "")).strip() or None, "scan_index": index,
            "signal": _signal(str(block.get("yunits", ""))),
            "data_type": block.get("data type")}
    scan = Scan(x, y, None, quantity, units, kind, None, None,
                {k: v for k, v in meta.items() if v is not None}, format="jcamp")
    return finalize(scan, name)


def _parse(lines: list[str], name: str) -> dict:
    """Call ``jcamp.read`` with every warning and exception turned into FormatError."""
    try:
        import jcamp
    except Exception as exc:  # a broken install must not escape as ImportError
        raise FormatError(f"the jcamp package is needed for JCAMP-DX files ({exc})", name) \
            from None
    said = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(said):
        warnings.simplefilter("error")
        try:
            parsed = jcamp.read(lines)
        except Warning as exc:
            raise FormatError(f"JCAMP-DX check failed: {exc}", name) from None
        except Exception as exc:  # jcamp raises ValueError, IndexError, KeyError, …
            raise FormatError(f"malformed JCAMP-DX: {type(exc).__name__}: {exc}", name) \
                from None
    complaint = said.getvalue().strip()  # jcamp prints its X/Y checks: our stdout carries results
    if complaint:
        raise FormatError(f"JCAMP-DX check failed: {complaint.splitlines()[0]}", name)
    return parsed


MIN_POINTS_BOUND = 1_000_000  # NPOINTS any file may state; beyond it, 64 per byte of the file
_NPOINTS = re.compile(r"^##NPOINTS=\s*([0-9.eE+-]+)", re.MULTILINE)
_BIG_DUP = re.compile(r"^[^#].*?[S-Zs][0-9]{6,}", re.MULTILINE)  # ASDF: repeat the last value 10^5+ times


def _check_sizes(text: str, name: str) -> None:
    """Refuse point counts the file cannot hold before ``jcamp`` allocates them (it makes
    ``linspace(FIRSTX, LASTX, NPOINTS)`` and expands DUP repeat counts as stated)."""
    bound = max(MIN_POINTS_BOUND, 64 * len(text))
    for m in _NPOINTS.finditer(text):
        try:
            n = float(m.group(1))
        except ValueError:
            continue
        if not 0 <= n <= bound:
            raise FormatError(f"##NPOINTS={m.group(1)} is more than a {len(text)}-character file holds", name)
    if _BIG_DUP.search(text):
        raise FormatError("a DUP repeat count of a million or more: not a real spectrum", name)


def sniff_jcamp(head: bytes, name: str) -> bool:
    text = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    return text.startswith(b"##TITLE") and b"##JCAMP" in text


@register_reader("jcamp", (".jdx", ".dx", ".jcamp"), sniff_jcamp, "JCAMP-DX (IR/Raman/UV)")
def read_jcamp(data: bytes, name: str) -> list[Scan]:
    """Parse JCAMP-DX bytes; one Scan per data block (children of a compound file)."""
    text = decode_text(data, name)
    if "##" not in text[:4096]:
        raise FormatError("no ##LABEL= records: not JCAMP-DX", name)
    _check_sizes(text, name)
    parsed = _parse(text.splitlines(True), name)
    blocks = [c for c in parsed.get("children", []) if isinstance(c, dict)] or [parsed]
    blocks = [b for b in blocks if len(b.get("x", [])) > 0]
    if not blocks:
        raise FormatError("no numeric data", name)
    return [_scan(b, name, i) for i, b in enumerate(blocks)]
