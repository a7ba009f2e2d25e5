"""Rigaku ``.ras`` (text: ``*RAS_HEADER_START … *RAS_INT_START … *RAS_INT_END``) and
``.rasx`` (zip: ``Data0/Profile0.txt`` + ``Data0/MesurementConditions0.xml``).

Data lines are ``2θ  intensity  [attenuation factor]``; the factor (1 when no attenuator was
in) multiplies the intensity. Wavelengths (Å) come from ``*HW_XG_WAVE_LENGTH_ALPHA1`` /
``ALPHA2`` / ``BETA`` or the XML ``WavelengthKalpha1`` … elements.
"""

from __future__ import annotations

import re

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers._common import (find_value, first_float, open_zip,
                                         parse_xml, positive, zip_member)
from spectool.io.readers.base import Scan, finalize, register_reader
from spectool.xrd.radiation import anode_wavelength

_KEY = re.compile(r'^\*(\w+)\s*(?:"(.*)"|(.*))$')


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "shift_jis"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _profile(lines: list[tuple[int, str]], name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """(x, y, attenuated) from ``(line_no, text)`` rows of 2θ, counts[, factor]."""
    rows = []
    for number, line in lines:
        parts = line.replace(",", " ").split()
        try:
            values = [float(p) for p in parts[:3]]
        except ValueError:
            raise FormatError(f"not a line of numbers: {line[:60]!r}", name, number) from None
        if len(values) < 2:
            raise FormatError("a data line needs angle and intensity", name, number)
        rows.append(values + [1.0] * (3 - len(values)))
    if not rows:
        raise FormatError("no numeric data", name)
    table = np.array(rows)
    attenuated = bool(np.any(table[:, 2] != 1.0))
    return table[:, 0], table[:, 1] * table[:, 2], attenuated


def _ras_meta(header: dict[str, str]) -> tuple[float | None, str | None, dict]:
    """(wavelength Å, radiation, meta) from a RAS header."""
    get = header.get
    ka1 = positive(first_float(get("HW_XG_WAVE_LENGTH_ALPHA1")))
    anode = (get("HW_XG_TARGET_NAME") or "").strip() or None
    meta = {"sample": get("FILE_SAMPLE") or get("FILE_COMMENT"),
            "kalpha2": positive(first_float(get("HW_XG_WAVE_LENGTH_ALPHA2"))),
            "kbeta": positive(first_float(get("HW_XG_WAVE_LENGTH_BETA"))),
            "scan_axis": get("MEAS_SCAN_AXIS_X"),
            "signal": "cps" if "cps" in (get("MEAS_SCAN_UNIT_Y") or "").lower() else "counts"}
    speed = positive(first_float(get("MEAS_SCAN_SPEED")))
    step = positive(first_float(get("MEAS_SCAN_STEP")))
    if speed and step and "deg/min" in (get("MEAS_SCAN_SPEED_UNIT") or "deg/min"):
        meta["count_time"] = 60.0 * step / speed
    wavelength = ka1 or anode_wavelength(anode)
    return wavelength, f"{anode}Ka1" if anode else None, {k: v for k, v in meta.items() if v}


def _axis(scan_axis: str | None) -> tuple[str, str]:
    axis = re.sub(r"[\s\-_/]", "", (scan_axis or "TwoThetaTheta").lower())
    if "twotheta" in axis or "2theta" in axis or axis == "":
        return "two_theta", "xrd"
    return axis, "other"


def _ras_block(header: dict, lines: list, name: str, index: int) -> Scan:
    x, y, attenuated = _profile(lines, name)
    wavelength, radiation, meta = _ras_meta(header)
    meta.update(scan_index=index, attenuation_applied=attenuated)
    quantity, kind = _axis(meta.get("scan_axis"))
    scan = Scan(x, y, None, quantity, "deg", kind, wavelength, radiation, meta, format="ras")
    return finalize(scan, name)


def _ras_blocks(text: str, name: str):
    """Yield ``(header, data_lines)`` for each header/intensity section."""
    header: dict[str, str] = {}
    lines: list[tuple[int, str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line == "*RAS_INT_START":
            lines = []
        elif line == "*RAS_INT_END":
            if lines is None:
                raise FormatError("*RAS_INT_END without *RAS_INT_START", name, number)
            yield dict(header), lines
            lines = None
        elif line == "*RAS_HEADER_START":
            header = {}
        elif lines is not None and line and not line.startswith("*"):
            lines.append((number, line))
        elif line.startswith("*") and (m := _KEY.match(line)):
            header[m.group(1)] = (m.group(2) if m.group(2) is not None else m.group(3)).strip()
    if lines is not None:
        raise FormatError("file ends inside an intensity block (no *RAS_INT_END)", name)


def sniff_ras(head: bytes, name: str) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"*RAS_DATA_START") or b"*RAS_HEADER_START" \
        in head[:4096]


@register_reader("ras", (".ras",), sniff_ras, "Rigaku RAS (text)")
def read_ras(data: bytes, name: str) -> list[Scan]:
    """Parse a ``.ras`` file: one Scan per ``*RAS_INT_START`` block."""
    if b"\x00" in data[:65536]:
        raise FormatError("binary content where RAS text was expected", name)
    blocks = list(_ras_blocks(_decode(data), name))
    if not blocks:
        raise FormatError("no *RAS_INT_START … *RAS_INT_END block", name)
    return [_ras_block(h, lines, name, i) for i, (h, lines) in enumerate(blocks)]


# --- .rasx --------------------------------------------------------------------------------

def _rasx_meta(xml: bytes | None, name: str) -> tuple[float | None, str | None, dict]:
    if xml is None:
        return None, None, {}
    root = parse_xml(xml, name)
    ka1 = positive(first_float(find_value(root, "WavelengthKalpha1")))
    anode = find_value(root, "TargetName")
    meta = {"kalpha2": positive(first_float(find_value(root, "WavelengthKalpha2"))),
            "kbeta": positive(first_float(find_value(root, "WavelengthKbeta"))),
            "sample": find_value(root, "SampleName"),
            "scan_axis": find_value(root, "AxisName"),
            "signal": "cps" if "cps" in (find_value(root, "IntensityUnit") or "").lower()
            else "counts"}
    return ka1 or anode_wavelength(anode), f"{anode}Ka1" if anode else None, \
        {k: v for k, v in meta.items() if v}


def sniff_rasx(head: bytes, name: str) -> bool:
    return head.startswith(b"PK\x03\x04") and b"Profile" in head[:65536]


@register_reader("rasx", (".rasx",), sniff_rasx, "Rigaku RASX (zip: profile text + XML)")
def read_rasx(data: bytes, name: str) -> list[Scan]:
    """Parse a ``.rasx`` zip: each ``Data<N>/Profile<M>.txt`` becomes a Scan."""
    zf = open_zip(data, name)
    names = zf.namelist()
    profiles = sorted(m for m in names if re.search(r"Profile\d*\.txt$", m))
    if not profiles:
        raise FormatError("zip archive holds no Profile*.txt: not a .rasx", name)
    scans = []
    for member in profiles:
        folder = member.rsplit("/", 1)[0] + "/" if "/" in member else ""
        conds = [m for m in names if m.startswith(folder) and "Conditions" in m and m.endswith(
            ".xml")]
        xml = zip_member(zf, sorted(conds)[0], name) if conds else None
        text = _decode(zip_member(zf, member, name))
        lines = [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
        x, y, attenuated = _profile(lines, f"{name}:{member}")
        wavelength, radiation, meta = _rasx_meta(xml, f"{name}:{member}")
        meta.update(scan_index=len(scans), member=member, attenuation_applied=attenuated)
        quantity, kind = _axis(meta.get("scan_axis"))
        scans.append(finalize(Scan(x, y, None, quantity, "deg", kind, wavelength, radiation,
                                   meta, format="rasx"), name))
    return scans
