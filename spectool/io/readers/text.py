"""Column text: ``.xy .xye .dat .txt .csv .chi .asc .dpt .prn`` and RRUFF ``##KEY=value`` files.

Comment lines (``# ! ; %``) and free header lines before the numbers are kept as header
text; separators are comma, tab, semicolon or spaces, with decimal commas where the
export uses them (``1,5;300`` or ``12,5<TAB>300``). Columns are x, y and an optional σ.
Units and quantity come from the header words ("2theta", "cm-1", "raman", "eV", "µm", "nm" …);
a wavelength axis in µm, or in nm reaching the mid-IR (≥ 2500 nm), is an IR spectrum.
A RRUFF file (``##RRUFFID=``) is Raman, IR or XRD as its name or ``##DESCRIPTION`` says
(``…__Raman__532__…`` gives the laser line too, into ``meta['laser_nm']``).
"""

from __future__ import annotations

import io
import re

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers._common import decode_text, first_float
from spectool.io.readers.base import Scan, finalize, register_reader
from spectool.xrd.radiation import anode_wavelength

SUFFIXES = (".xy", ".xye", ".dat", ".txt", ".csv", ".chi", ".asc", ".dpt", ".prn")
COMMENT = ("#", "!", ";", "%", "//")
_SPLIT_WS = re.compile(r"[\s]+")


def _fields(line: str) -> list[float] | None:
    """Numbers of one data line, or None if it is not all numbers (≥ 2 needed)."""
    if ";" in line:
        parts = [p.replace(",", ".") for p in line.split(";")]
    elif "\t" in line:
        parts = [p.replace(",", ".") for p in line.split("\t")]
    elif "," in line:
        parts = line.split(",")
        if not _all_float(parts):
            parts = [p.replace(",", ".") for p in _SPLIT_WS.split(line)]
    else:
        parts = _SPLIT_WS.split(line)
    parts = [p.strip() for p in parts if p.strip()]
    if len(parts) < 2 or not _all_float(parts):
        return None
    return [float(p) for p in parts]


def _all_float(parts: list[str]) -> bool:
    try:
        [float(p) for p in parts if p.strip()]
    except ValueError:
        return False
    return True


def _is_comment(line: str) -> bool:
    return line.startswith(COMMENT) and not line.startswith("##")


def _split_blocks(lines: list[str], name: str):
    """Yield ``(header_lines, keys, rows, line_numbers)`` per block of numbers."""
    header: list[str] = []
    pending: list[str] = []  # comments after numbers: header of the next block or more text
    keys: dict[str, str] = {}
    rows: list[list[float]] = []
    where: list[int] = []
    gap = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            gap = bool(rows)
            continue
        if line.startswith("##"):
            key, _, value = line[2:].partition("=")
            if key.strip().upper() == "END":
                break
            keys[key.strip().upper()] = value.strip()
            continue
        if _is_comment(line):
            (pending if rows else header).append(line.lstrip("#!;%/ "))
            gap = bool(rows)
            continue
        values = _fields(line)
        if values is None:
            if rows:
                raise FormatError(f"not a line of numbers: {line[:60]!r}", name, number)
            header.append(line)
            continue
        if rows and gap and values[0] <= rows[-1][0]:
            yield header, keys, rows, where
            header, rows, where = [], [], []
        header, pending, gap = header + pending, [], False
        rows.append(values)
        where.append(number)
    if rows:
        yield header, keys, rows, where


def _columns(rows: list[list[float]] | np.ndarray, where: list[int] | None, name: str) -> np.ndarray:
    """(L, 2|3) array; a row with fewer than 2 values or a changed count is an error."""
    if isinstance(rows, np.ndarray):  # already checked by the C parser
        return rows[:, : 3 if rows.shape[1] == 3 else 2]
    width = len(rows[0])
    for row, line in zip(rows, where):
        if len(row) != width:
            raise FormatError(f"{len(row)} columns where the data before had {width}",
                              name, line)
    data = np.array(rows, dtype=np.float64)
    return data[:, : 3 if width == 3 else 2]


def _check_axis(x: np.ndarray, cols: np.ndarray, where: list[int], name: str) -> None:
    """Raise with the line number of the first non-finite value or out-of-order axis point."""
    bad = np.flatnonzero(~np.all(np.isfinite(cols), axis=1))
    if bad.size:
        raise FormatError("value is not finite (NaN or inf)", name, where[bad[0]])
    steps = np.diff(x)
    if steps.size == 0:
        return
    sign = 1.0 if steps[0] > 0 else -1.0
    wrong = np.flatnonzero(steps * sign <= 0)
    if wrong.size:
        i = int(wrong[0])
        what = "repeated" if steps[i] == 0 else "out of order (axis not monotonic)"
        raise FormatError(f"axis value {x[i + 1]:g} is {what}", name, where[i + 1])


_UNIT_RULES = (  # (pattern in lower-case header text, quantity, units, kind)
    (r"raman", "raman_shift", "1/cm", "raman"),
    (r"cm-1|cm\^-1|cm⁻¹|1/cm|wavenumber|cm\*\*-1", "wavenumber", "1/cm", "ftir"),
    (r"2[\s-]?theta|2θ|two[_\s-]?theta|2-?th\b|twotheta|angle", "two_theta", "deg", "xrd"),
    (r"\bkev\b", "energy", "keV", "other"),
    (r"\bev\b|energy", "energy", "eV", "other"),
    (r"\bq\b|q\s*\(|1/a\b|nm-1|a\^-1", "q", "1/A", "other"),
    (r"µm|\bum\b|micron|micrometer", "wavelength", "um", "ftir"),
    (r"\bnm\b|wavelength", "wavelength", "nm", "other"),
)
MID_IR_NM = 2500.0  # a wavelength axis in nm reaching this far is an IR spectrum, not UV-Vis


_STATEMENT = re.compile(r"(wavelength|lambda|λ)[^0-9\n]{0,20}[0-9.]+\s*(å|a|angstrom|nm)?", re.IGNORECASE)


def _without_statements(text: str) -> str:
    """Header text minus statements of the source's wavelength (``wavelength 1.5406 A``), which
    describe the instrument, not the axis."""
    return _STATEMENT.sub(" ", text)


def _axis_kind(text: str, suffix: str, x: np.ndarray) -> tuple[str, str, str, bool]:
    """(quantity, units, kind, guessed) from header words, the suffix and the axis range."""
    low = text.lower()
    for pattern, quantity, units, kind in _UNIT_RULES:
        if re.search(pattern, low):
            if quantity == "wavenumber" and "raman" in low:
                return "raman_shift", "1/cm", "raman", False
            if quantity == "energy" and re.search(r"xanes|xafs|exafs|\bxas\b|\bmu\b", low):
                kind = "xanes"
            if units == "nm" and float(np.nanmax(x)) >= MID_IR_NM:
                kind = "ftir"
            return quantity, units, kind, False
    if suffix == ".dpt" or float(np.nanmax(np.abs(x))) > 180.0:
        return "wavenumber", "1/cm", "ftir", True
    return "two_theta", "deg", "xrd", suffix not in (".xy", ".xye", ".chi")


_SIGNALS = ((r"absorbance", "absorbance"), (r"transmittance|%t\b", "transmittance"),
            (r"reflectance", "reflectance"), (r"\bcps\b|counts/s", "cps"), (r"\bcounts?\b", "counts"))


def _signal(text: str) -> str | None:
    """What the y column holds, from whole header words ("Rutherford County" is no count)."""
    low = text.lower()
    for pattern, signal in _SIGNALS:
        if re.search(pattern, low):
            return signal
    return None


def _wavelength(header: list[str], keys: dict[str, str], kind: str, meta: dict):
    """(wavelength Å, radiation) from header lines such as ``wavelength = 1.5406``."""
    candidates = [f"{k}={v}" for k, v in keys.items()] + header
    for line in candidates:
        low = line.lower()
        keyword = re.search(r"wavelength|lambda|λ", low)
        if keyword:
            value = first_float(line[keyword.end():])
            if value is None or value <= 0:
                continue
            if kind in ("raman", "ftir") or "laser" in low or value > 10:
                meta["laser_nm"] = value
                continue
            return value, None
    for line in candidates:
        m = re.search(r"\b(Cu|Co|Mo|Fe|Cr|Ag)[\s-]*K", line)
        if m and kind == "xrd":
            meta["wavelength_from"] = "anode"
            return anode_wavelength(m.group(1)), f"{m.group(1)}Ka1"
    return None, None


def _meta(header: list[str], keys: dict[str, str], signal: str | None) -> dict:
    meta: dict = {"header": header[:20]} if header else {}
    if signal:
        meta["signal"] = signal
    for key, field in (("NAMES", "sample"), ("RRUFFID", "rruff_id"),
                       ("IDEAL CHEMISTRY", "formula"), ("LOCALITY", "locality")):
        if keys.get(key):
            meta[field] = keys[key]
    for line in header:
        m = re.match(r"(?i)sample(?:\s*name)?\s*[:=]\s*(.+)", line)
        if m and "sample" not in meta:
            meta["sample"] = m.group(1).strip()
    return meta


_RRUFF_NAME = re.compile(r"__(Raman|Infrared|IR|Powder)__(?:(\d{3,4})__)?", re.IGNORECASE)


def _rruff(keys: dict[str, str], name: str) -> tuple[tuple[str, str, str, bool] | None, float | None]:
    """A RRUFF file's axis (quantity, units, kind, guessed) and laser line (nm) from its file name
    (``Mineral__R050409__Raman__532__…``) or ``##DESCRIPTION``; (None, None) for other files."""
    if "RRUFFID" not in keys:
        return None, None
    m = _RRUFF_NAME.search(name.rsplit("/", 1)[-1])
    what = (m.group(1) if m else keys.get("DESCRIPTION", "")).lower()
    laser = float(m.group(2)) if m and m.group(2) else None
    if "raman" in what:
        return ("raman_shift", "1/cm", "raman", False), laser
    if "infrared" in what or what == "ir":
        return ("wavenumber", "1/cm", "ftir", False), None
    return None, None


def _scan(block, name: str, suffix: str, index: int) -> Scan:
    header, keys, rows, where = block
    cols = _columns(rows, where, name)
    x = cols[:, 0]
    if where is not None:
        _check_axis(x, cols, where, name)
    text = " ".join(header + [f"{k} {v}" for k, v in keys.items()])
    rruff, laser = _rruff(keys, name)
    quantity, units, kind, guessed = rruff or _axis_kind(_without_statements(text), suffix, x)
    meta = _meta(header, keys, _signal(text))
    if laser is not None:
        meta["laser_nm"] = laser
    meta["scan_index"] = index
    if guessed:
        meta["axis_guessed"] = True
    if units == "keV":
        x, units = x * 1000.0, "eV"
    wavelength, radiation = _wavelength(header, keys, kind, meta)
    sigma = cols[:, 2] if cols.shape[1] == 3 else None
    scan = Scan(x, cols[:, 1], sigma, quantity, units, kind, wavelength, radiation, meta,
                format="text")
    return finalize(scan, name)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot >= 0 else ""


def sniff_text(head: bytes, name: str) -> bool:
    """Text with at least one line of ≥ 2 numbers in the first bytes (the first 4 kB decide most files)."""
    if b"\x00" in head:
        return False
    return _has_numbers(head[:4096], len(head) > 4096) or (
        len(head) > 4096 and _has_numbers(head, len(head) >= 65536))


def _has_numbers(head: bytes, cut: bool) -> bool:
    """Whether one of the first 400 lines is numbers; ``cut``: the last line may be incomplete."""
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    lines = text.splitlines()[:-1] if cut else text.splitlines()
    return any(_fields(ln.strip()) for ln in lines[:400] if ln.strip() and not _is_comment(ln))


#: A blank or comment line among the numbers: a second block or notes, for the line-by-line reader.
_INTERRUPTION = re.compile(r"\n[ \t\ufeff]*(?:\n|[#!;%]|//)")


def _preamble(lines: list[str], name: str):
    """(index of the first line of numbers, its header block) by the line-by-line rules; None if none."""
    for number, raw in enumerate(lines):
        line = raw.strip().lstrip("\ufeff")
        if line and not line.startswith("#") and not _is_comment(line) and _fields(line) is not None:
            block = next(_split_blocks(lines[:number + 1], name), None)
            return (number, block) if block is not None and block[3] == [number + 1] else None
    return None


def _c_options(line: str) -> tuple[str | None, str]:
    """(delimiter, what a comma becomes) for numpy's C parser, split as :func:`_fields` splits ``line``."""
    if ";" in line:
        return ";", "."
    if "\t" in line:
        return "\t", "."
    if "," in line:
        return (",", "") if _all_float(line.split(",")) else (None, ".")
    return None, ""


def _read_fast(lines: list[str], name: str) -> list[Scan] | None:
    """The one block of a plain column file through numpy's C parser (``loadtxt``) after the header.

    None where the line-by-line reader must decide: several blocks, comments among the numbers, a
    field the C parser refuses, non-finite or unordered values (the slow pass names the line).
    """
    found = _preamble(lines, name)
    if found is None:
        return None
    start, (header, keys, rows, _) = found
    body = "\n".join(lines[start:]).rstrip()
    if _INTERRUPTION.search(body):
        return None
    delimiter, comma = _c_options(lines[start])
    if comma:
        body = body.replace(",", comma)
    try:
        cols = np.loadtxt(io.StringIO(body), delimiter=delimiter, comments=None, ndmin=2, dtype=np.float64)
    except ValueError:
        return None
    if cols.shape[1] != len(rows[0]) or not np.all(np.isfinite(cols)):
        return None
    steps = np.diff(cols[:, 0])
    if not (np.all(steps > 0) or np.all(steps < 0)):
        return None
    return [_scan((header, keys, cols, None), name, _suffix(name), 0)]


@register_reader("text", SUFFIXES, sniff_text, "column text (x, y[, sigma]); RRUFF; FIT2D .chi")
def read_text(data: bytes, name: str) -> list[Scan]:
    """Parse column text into one Scan per block of numbers.

    Returns scans with ``x`` (L,), ``y`` (L,), ``sigma`` (L,) when a third column exists.
    A plain file (header, then one block of numbers) is read by numpy's C parser; anything
    else, and any file it refuses, line by line (errors name the line).
    """
    text = decode_text(data, name)
    lines = text.splitlines()
    return _read_fast(lines, name) or read_lines(lines, name)


def read_lines(lines: list[str], name: str) -> list[Scan]:
    """The line-by-line reader: every block of numbers, errors with their line number."""
    blocks = list(_split_blocks(lines, name))
    if not blocks:
        raise FormatError("no numeric data", name)
    first_header = blocks[0][0]
    return [_scan(b if i == 0 else (first_header + b[0], *b[1:]), name, _suffix(name), i)
            for i, b in enumerate(blocks)]
