"""PANalytical ``.xrdml`` (XRDMeasurement schema 1.x–2.x), read with the standard library.

Each ``xrdMeasurement/scan`` becomes one Scan. The 2θ axis comes from ``startPosition`` /
``endPosition`` or ``listPositions``; intensities from ``intensities`` or ``counts``
(multiplied by ``beamAttenuationFactors`` when present). ``usedWavelength`` gives Kα1, Kα2,
Kβ and the Kα2/Kα1 ratio; ``commonCountingTime`` (s) lands in ``meta['count_time']``.
"""

from __future__ import annotations

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers._common import (child, children, find_all,
                                         find_value, first_float, local, parse_xml, positive)
from spectool.io.readers.base import Scan, finalize, register_reader
from spectool.xrd.radiation import anode_wavelength


def _numbers(el, what: str, name: str) -> np.ndarray:
    """Whitespace-separated floats of an element's text, (n,) float64."""
    try:
        return np.array((el.text or "").split(), dtype=np.float64)
    except ValueError:
        raise FormatError(f"{what} holds something that is not a number", name) from None


def wavelengths(measurement) -> dict:
    """``usedWavelength`` → {'wavelength', 'kalpha2', 'kbeta', 'ratio', 'intended'} (Å)."""
    used = child(measurement, "usedWavelength")
    out: dict = {}
    if used is None:
        return out
    for tag, key in (("kAlpha1", "wavelength"), ("kAlpha2", "kalpha2"), ("kBeta", "kbeta"),
                     ("ratioKAlpha2KAlpha1", "ratio")):
        el = child(used, tag)
        value = first_float(el.text) if el is not None else None
        if value is not None:
            out[key] = value
    if used.get("intended"):
        out["intended"] = used.get("intended")
    return out


def _axis(points, n: int, name: str) -> tuple[np.ndarray, str]:
    """2θ (or the first scanned axis) positions (n,) and the axis name."""
    positions = children(points, "positions")
    if not positions:
        raise FormatError("scan has no <positions>", name)
    chosen = next((p for p in positions if p.get("axis") == "2Theta"), positions[0])
    listed = child(chosen, "listPositions")
    if listed is not None:
        x = _numbers(listed, "listPositions", name)
    else:
        start = first_float(getattr(child(chosen, "startPosition"), "text", None))
        end = first_float(getattr(child(chosen, "endPosition"), "text", None))
        if start is None or end is None:
            raise FormatError("positions need startPosition/endPosition or listPositions", name)
        x = np.linspace(start, end, n) if n > 1 else np.array([start])
    if x.size != n:
        raise FormatError(f"{x.size} positions for {n} intensities", name)
    return x, chosen.get("axis", "2Theta")


def _intensity(points, name: str) -> tuple[np.ndarray, str]:
    """(y, signal) from <intensities> or <counts>, with attenuation factors applied."""
    el = child(points, "intensities")
    if el is None:
        el = child(points, "counts")
    if el is None:
        raise FormatError("scan has neither <intensities> nor <counts>", name)
    y = _numbers(el, local(el.tag), name)
    unit = (el.get("unit") or "counts").lower()
    att = child(points, "beamAttenuationFactors")
    if att is not None:
        factors = _numbers(att, "beamAttenuationFactors", name)
        if factors.size == y.size:
            y = y * factors
        elif factors.size != 1 or factors[0] != 1.0:
            raise FormatError(f"{factors.size} attenuation factors for {y.size} points", name)
    return y, "cps" if "cps" in unit or "second" in unit else "counts"


def _sample(root) -> str | None:
    """Sample name (or id) from the top-level ``<sample>``."""
    sample = child(root, "sample")
    for tag in ("name", "id"):
        text = getattr(child(sample, tag), "text", None)
        if text and text.strip():
            return text.strip()
    return None


def _scan(scan_el, measurement, root, name: str, index: int) -> Scan:
    points = child(scan_el, "dataPoints")
    if points is None:
        raise FormatError("scan has no <dataPoints>", name)
    y, signal = _intensity(points, name)
    x, axis = _axis(points, y.size, name)
    meta = {k: v for k, v in wavelengths(measurement).items() if k != "wavelength"}
    meta.update(signal=signal, scan_index=index, scan_axis=scan_el.get("scanAxis"),
                axis=axis, sample=_sample(root))
    time = first_float(getattr(child(points, "commonCountingTime"), "text", None))
    if positive(time):
        meta["count_time"] = time
    anode = find_value(measurement, "anodeMaterial")
    wavelength = wavelengths(measurement).get("wavelength") or anode_wavelength(anode)
    two_theta = axis.lower() in ("2theta", "2theta-omega", "omega-2theta")
    scan = Scan(x, y, None, "two_theta" if two_theta else axis.lower(), "deg",
                "xrd" if two_theta else "other", wavelength,
                f"{anode}Ka1" if anode else None, {k: v for k, v in meta.items() if v not in (None, "")},
                format="xrdml")
    return finalize(scan, name)


def sniff_xrdml(head: bytes, name: str) -> bool:
    return b"<xrdMeasurements" in head[:4096]


@register_reader("xrdml", (".xrdml",), sniff_xrdml, "PANalytical XRDML (XML, schema 1.x-2.x)")
def read_xrdml(data: bytes, name: str) -> list[Scan]:
    """Parse XRDML bytes into one Scan per ``<scan>``; y in counts (or cps as stored)."""
    root = parse_xml(data, name)
    if local(root.tag) != "xrdMeasurements":
        raise FormatError(f"root element is <{local(root.tag)}>, not <xrdMeasurements>", name)
    scans = []
    for measurement in find_all(root, "xrdMeasurement"):
        for scan_el in children(measurement, "scan"):
            scans.append(_scan(scan_el, measurement, root, name, len(scans)))
    if not scans:
        raise FormatError("no <scan> in the XRDML file", name)
    return scans
