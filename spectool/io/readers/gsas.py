"""GSAS powder data (``.gsa .gsas .xra .fxye .raw .cwn .gda``) and GSAS instrument files.

A title line, optional ``#`` comments, then one ``BANK n nchan nrec bintyp c1 c2 c3 c4 [layout]``
record per bank. Constant-wavelength binning (``CONST``/``CONS``) is in centidegrees 2θ;
layouts ``STD`` (10 × ``I2,F6`` per line: counter count and intensity), ``ESD``
(5 × ``F8,F8``: intensity, σ), ``FXY``/``FXYE`` (x in centidegrees or µs, y, σ). Time of
flight (``SLOG`` binning or a ``PNT`` instrument) gives ``quantity='tof'`` in µs.

The radiation and wavelength live in a separate instrument-parameter file (``.prm``):
``INS   HTYPE   PXCR`` (P = powder, X/N = X-ray/neutron, C/T = constant λ/TOF) and
``INS  1 ICONS  λ1 λ2 zero … ratio``. :func:`read_gsas` takes its text as ``prm``.
"""

from __future__ import annotations

import re

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers._common import decode_text, first_float, positive
from spectool.io.readers.base import Scan, finalize, register_reader

SUFFIXES = (".gsa", ".gsas", ".gss", ".xra", ".fxye", ".fxy", ".raw", ".cwn", ".gda", ".esd",
            ".std")
LAYOUTS = ("FXYE", "FXY", "ESD", "STD", "ALT")


def parse_prm(text: str, bank: int = 1) -> dict:
    """Instrument parameters → {'htype', 'wavelength', 'kalpha2', 'ratio'} (Å; keys optional)."""
    out: dict = {}
    for line in text.splitlines():
        tokens = line.split()
        if len(tokens) >= 3 and tokens[0] == "INS" and tokens[1] == "HTYPE":
            out["htype"] = tokens[2].upper()
        elif len(tokens) >= 4 and tokens[0] == "INS" and tokens[2] == "ICONS" \
                and tokens[1] == str(bank):
            values = [first_float(t) for t in tokens[3:]]
            out["wavelength"] = positive(values[0])
            if len(values) > 1 and positive(values[1]):
                out["kalpha2"], out["ratio"] = values[1], values[-1]
    return {k: v for k, v in out.items() if v is not None}


def choose_prm(name: str, text_head: str, candidates: dict[str, str]) -> str | None:
    """Pick the instrument file for a data file among ``{file name: text}`` beside it.

    Preference: the name given on the data file's second line, the same stem, the only
    candidate, then a shared ``inst*`` file (before another scan's own .prm) whose radiation
    (X-ray/neutron) matches the data file's hints.
    """
    if not candidates:
        return None
    lower = {k.lower(): k for k in candidates}
    second = text_head.splitlines()[1:2]
    if second and second[0].lower().startswith("inst") and ":" in second[0]:
        wanted = second[0].split(":", 1)[1].strip().strip("[]").lower()
        if wanted.rsplit("/", 1)[-1] in lower:
            return lower[wanted.rsplit("/", 1)[-1]]
    stem = name.lower().rsplit("/", 1)[-1].split(".")[0]
    for key, original in lower.items():
        if key.split(".")[0] == stem:
            return original
    if re.search(r"(?i)wavelength\s*[=:]", text_head):
        return None  # the data file states its own wavelength; an unrelated .prm must not win
    if len(candidates) == 1:
        return next(iter(candidates))
    want = "N" if _neutron_hint(name, text_head) else "X"
    generic = sorted(candidates, key=lambda k: not k.lower().startswith("inst"))
    for key in generic:  # INST_XRY.PRM-style shared files before other scans' own .prm
        if parse_prm(candidates[key]).get("htype", "PX")[1:2] == want:
            return key
    return None


def _neutron_hint(name: str, head: str) -> bool:
    return name.lower().endswith(".cwn") or "neutron" in head[:200].lower()


def _std(lines, nchan: int, name: str):
    """STD layout: (y, sigma) from ``I2,F6`` fields, σ = √(y / n_counters)."""
    y, n = [], []
    for number, line in lines:
        for i in range(0, min(len(line), 80), 8):
            chunk = line[i:i + 8]
            if not chunk.strip():
                break
            try:
                n.append(int(chunk[:2]) if chunk[:2].strip() else 1)
                y.append(float(chunk[2:]))
            except ValueError:
                raise FormatError(f"bad STD field {chunk!r}", name, number) from None
    y_arr, n_arr = np.array(y[:nchan]), np.maximum(np.array(n[:nchan], dtype=float), 1.0)
    return y_arr, np.sqrt(np.clip(y_arr, 0, None) / n_arr)


def _esd(lines, nchan: int, name: str):
    """ESD layout: (y, sigma) from 5 × ``F8,F8`` per line."""
    values = []
    for number, line in lines:
        for i in range(0, min(len(line), 80), 16):
            chunk = line[i:i + 16]
            if not chunk.strip():
                break
            try:
                values.append((float(chunk[:8]), float(chunk[8:16] or "nan")))
            except ValueError:
                raise FormatError(f"bad ESD field {chunk!r}", name, number) from None
    table = np.array(values[:nchan]).reshape(-1, 2)
    return table[:, 0], table[:, 1]


def _fxy(lines, columns: int, name: str) -> np.ndarray:
    """FXY(E) layout: (n, columns) table of x, y[, σ]."""
    rows = []
    for number, line in lines:
        parts = line.split()
        try:
            rows.append([float(p) for p in parts[:columns]])
        except ValueError:
            raise FormatError(f"not a line of numbers: {line[:60]!r}", name, number) from None
        if len(rows[-1]) < columns:
            raise FormatError(f"expected {columns} columns", name, number)
    return np.array(rows).reshape(-1, columns)


def _banks(lines: list[str], name: str):
    """Yield ``(bank line number, tokens, data lines)``; data lines are (number, text)."""
    starts = [i for i, ln in enumerate(lines) if ln.startswith("BANK")]
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        body = []
        for j in range(start + 1, end):
            line = lines[j].rstrip("\r\n")
            if "\x1a" in line or line.startswith("TIME_MAP"):
                break
            if line.strip() and not line.startswith("#"):
                body.append((j + 1, line))
        yield start + 1, lines[start].split(), body


def _probe(inst: dict, bintyp: str, name: str, head: str) -> str:
    """'xray', 'neutron' (constant λ), 'tof', or 'unknown'."""
    htype = inst.get("htype", "")
    if bintyp in ("SLOG", "RALF", "TIME_MAP") or htype[1:3] == "NT":
        return "tof"
    if htype[1:2] == "N" or (not htype and _neutron_hint(name, head)):
        return "neutron"
    if htype[1:2] == "X" or inst.get("wavelength") or re.search(r"x-?ray", head[:200], re.I):
        return "xray"
    return "unknown"


def _axis(tokens, layout, probe, table, n, name, line) -> np.ndarray:
    """x (n,): degrees 2θ for constant λ, µs for TOF."""
    bintyp = tokens[4].upper()
    if layout.startswith("FXY"):
        return table[:, 0] if probe == "tof" else table[:, 0] / 100.0
    coefs = [first_float(t) for t in tokens[5:8]] + [None, None, None]
    if bintyp in ("CONST", "CONS") and coefs[0] is not None and coefs[1]:
        x = coefs[0] + coefs[1] * np.arange(n)
        return x if probe == "tof" else x / 100.0
    if bintyp == "SLOG" and coefs[0] and coefs[2]:
        return coefs[0] * (1.0 + coefs[2]) ** np.arange(n)
    raise FormatError(f"unsupported GSAS binning {bintyp!r} for layout {layout}", name, line)


def _bank_scan(bank, inst: dict, title: str, comments: str, name: str, index: int) -> Scan:
    line, tokens, body = bank
    if len(tokens) < 5:
        raise FormatError("BANK record needs: BANK n nchan nrec bintyp …", name, line)
    layout = next((t.upper() for t in reversed(tokens) if t.upper() in LAYOUTS), "STD")
    nchan = int(first_float(tokens[2]) or 0)
    probe = _probe(inst, tokens[4].upper(), name, title + comments)
    if layout in ("STD", "ESD"):
        y, sigma = (_std if layout == "STD" else _esd)(body, nchan, name)
        if y.size < nchan:
            raise FormatError(f"bank holds {y.size} of its {nchan} points (truncated?)", name,
                              body[-1][0] if body else line)
        table = None
    elif layout in ("FXY", "FXYE"):
        table = _fxy(body, 3 if layout == "FXYE" else 2, name)
        y, sigma = table[:, 1], (table[:, 2] if layout == "FXYE" else None)
    else:
        raise FormatError(f"GSAS {layout} layout is not supported", name, line)
    x = _axis(tokens, layout, probe, table, y.size, name, line)
    return _make(x, y, sigma, inst, probe, title, comments, tokens[1], index, name)


def _make(x, y, sigma, inst, probe, title, comments, bank, index, name) -> Scan:
    wavelength = inst.get("wavelength")
    if wavelength is None and probe in ("xray", "unknown"):
        m = re.search(r"(?i)wavelength\s*[=:]\s*([0-9.]+)", comments)
        wavelength = positive(first_float(m.group(1))) if m else None
    meta = {"sample": title.strip(), "bank": bank, "scan_index": index, "signal": "counts",
            "probe": probe}
    meta.update({k: v for k, v in inst.items() if k in ("kalpha2", "ratio", "htype")})
    tof = probe == "tof"
    kind = "xrd" if probe in ("xray", "unknown") else "other"
    radiation = {"neutron": "neutron", "tof": "neutron"}.get(probe)
    scan = Scan(x, y, sigma, "tof" if tof else "two_theta", "us" if tof else "deg", kind,
                None if tof else wavelength, radiation, meta, format="gsas")
    return finalize(scan, name)


def _instrument(prm: str | None, tokens: list[str]) -> dict:
    """Parameters of this bank from the .prm text (bank 1's if it has none of its own)."""
    if not prm:
        return {}
    number = first_float(tokens[1]) if len(tokens) > 1 else None
    inst = parse_prm(prm, int(number) if number and number < 1000 else 1)
    return inst if "wavelength" in inst else {**parse_prm(prm, 1), **inst}


def sniff_gsas(head: bytes, name: str) -> bool:
    text = head[:8192].decode("latin-1")
    return any(ln.startswith("BANK") and len(ln.split()) >= 5
               for ln in text.splitlines()[1:80])


@register_reader("gsas", SUFFIXES, sniff_gsas, "GSAS powder data (STD/ESD/FXY/FXYE banks)")
def read_gsas(data: bytes, name: str, prm: str | None = None) -> list[Scan]:
    """Parse GSAS powder data into one Scan per BANK; ``prm`` is the instrument file text.

    Without ``prm`` the radiation is taken from hints (``# … wavelength = λ`` comments,
    "neutron" in the title, TOF binning); otherwise ``meta['probe']`` is ``'unknown'``.
    """
    text = decode_text(data, name)
    lines = text.splitlines()
    if not lines:
        raise FormatError("no numeric data", name)
    comments = "\n".join(ln for ln in lines[:200] if ln.startswith("#"))
    scans = []
    for bank in _banks(lines, name):
        inst = _instrument(prm, bank[1])
        scans.append(_bank_scan(bank, inst, lines[0], comments, name, len(scans)))
    if not scans:
        raise FormatError("no BANK record: not GSAS powder data", name)
    return scans


