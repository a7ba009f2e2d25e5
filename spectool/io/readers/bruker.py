"""Bruker/Siemens DIFFRAC ``.raw`` (RAW1 ``"RAW "``, RAW2, RAW3 ``"RAW1.01"``, RAW4 ``"RAW4.00"``)
and ``.brml`` (zip of XML).

Binary layouts follow xylib's ``bruker_raw.cpp`` (DIFFRAC^plus XCH manual, appendix A) and
the field offsets cross-checked by GSAS-II and geddes: all little-endian; intensities are
float32 per step, ``x = start + step·i`` in degrees 2θ. Every range (block) is one Scan.
"""

from __future__ import annotations

import re

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers._common import (cstring, find_all, find_value,
                                         first_float, open_zip, parse_xml, positive, unpack,
                                         zip_member)
from spectool.io.readers.base import Scan, finalize, register_reader
from spectool.xrd.radiation import anode_wavelength

MAX_RANGES = 4096
RAW_MAGIC = (b"RAW1.01", b"RAW4.00", b"RAW2", b"RAW ")


def _floats(data: bytes, offset: int, steps: int, stride: int, name: str) -> np.ndarray:
    """``steps`` float32 intensities, one per ``stride`` bytes from ``offset``, (steps,)."""
    if steps <= 0 or stride < 4 or offset + steps * stride > len(data):
        raise FormatError(f"range of {steps} points at offset {offset} runs past the end "
                          f"of the file ({len(data)} bytes)", name)
    block = np.frombuffer(data, dtype=np.uint8, count=steps * stride, offset=offset)
    return block.reshape(steps, stride)[:, :4].copy().view("<f4").ravel().astype(np.float64)


def _make(x0: float, step: float, y: np.ndarray, wl: dict, meta: dict, name: str) -> Scan:
    """Scan from a start/step axis (deg) and Bruker wavelength fields."""
    if not (np.isfinite(x0) and np.isfinite(step)) or step == 0:
        raise FormatError(f"bad axis start {x0!r} / step {step!r}", name)
    x = x0 + step * np.arange(y.size)
    anode = wl.get("anode") or None
    wavelength = positive(wl.get("alpha1")) or positive(wl.get("used")) \
        or anode_wavelength(anode)
    for key in ("kalpha2", "ratio"):
        if positive(wl.get(key)):
            meta[key] = wl[key]
    meta.setdefault("signal", "counts")
    scan = Scan(x, y, None, "two_theta", "deg", "xrd", wavelength,
                f"{anode}Ka1" if anode else None, meta, format="bruker_raw")
    return finalize(scan, name)


def _raw1(data: bytes, name: str) -> list[Scan]:
    """RAW version 1 (``"RAW "``): ranges chained by a 'following range' flag."""
    scans, at, more = [], 4, 1
    while more and len(scans) < MAX_RANGES:
        (steps,) = unpack("<I", data, at, name)
        if scans and data[at:at + 4] == b"RAW ":
            at += 4
            (steps,) = unpack("<I", data, at, name)
        t, step, _, _, x0 = unpack("<ffIIf", data, at + 4, name)
        ka1, ka2 = unpack("<ff", data, at + 68, name)
        (more,) = unpack("<I", data, at + 148, name)
        y = _floats(data, at + 152, steps, 4, name)
        meta = {"scan_index": len(scans), "sample": cstring(data, at + 36, 32),
                "count_time": t, "raw_version": 1}
        scans.append(_make(x0, step, y, {"alpha1": ka1, "kalpha2": ka2}, meta, name))
        at += 152 + 4 * steps
    return scans


def _raw2(data: bytes, name: str) -> list[Scan]:
    """RAW version 2: a 256-byte file header, then ranges with their own header length."""
    (count,) = unpack("<H", data, 4, name)
    ka1, ka2, ratio = unpack("<fff", data, 190, name)
    wl = {"alpha1": ka1, "kalpha2": ka2, "ratio": ratio, "anode": cstring(data, 188, 2)}
    scans, at = [], 256
    for index in range(count):
        hlen, steps = unpack("<HH", data, at, name)
        t, step, x0 = unpack("<fff", data, at + 8, name)
        if hlen < 48:
            raise FormatError(f"range header length {hlen} is too small", name)
        y = _floats(data, at + hlen, steps, 4, name)
        meta = {"scan_index": index, "count_time": t, "raw_version": 2}
        scans.append(_make(x0, step, y, wl, meta, name))
        at += hlen + 4 * steps
    return scans


def _raw3(data: bytes, name: str) -> list[Scan]:
    """RAW1.01 (version 3): 712-byte file header, then ranges of 304-byte headers."""
    (count,) = unpack("<I", data, 12, name)
    if not 1 <= count <= MAX_RANGES:
        raise FormatError(f"implausible range count {count}", name)
    _, ka1, ka2, _, ratio = unpack("<5d", data, 616, name)
    wl = {"alpha1": ka1, "kalpha2": ka2, "ratio": ratio, "anode": cstring(data, 608, 4)}
    sample = cstring(data, 326, 60)
    scans, at = [], 712
    for index in range(count):
        hlen, steps = unpack("<II", data, at, name)
        (x0,) = unpack("<d", data, at + 16, name)
        (step,) = unpack("<d", data, at + 176, name)
        (t,) = unpack("<f", data, at + 192, name)
        (used,) = unpack("<d", data, at + 240, name)
        stride, extra = unpack("<II", data, at + 252, name)
        if not 260 <= hlen <= 1 << 20 or extra > 1 << 20:
            raise FormatError(f"range header length {hlen} / extra {extra} is implausible", name)
        stride = stride or 4
        y = _floats(data, at + hlen + extra, steps, stride, name)
        meta = {"scan_index": index, "sample": sample, "count_time": t, "raw_version": 3}
        scans.append(_make(x0, step, y, dict(wl, used=used), meta, name))
        at += hlen + extra + steps * stride
    return scans


def _raw4_globals(data: bytes, at: int, kind: int, length: int, wl: dict, info: dict,
                  name: str) -> None:
    """Interpret one RAW4 file-level record (10: a named value, 30: the tube)."""
    if kind == 10 and length >= 36:
        info[cstring(data, at + 12, 24)] = cstring(data, at + 36, length - 36)
    elif kind == 30 and length >= 120:
        _, ka1, ka2, _, ratio = unpack("<5d", data, at + 72, name)
        wl.update(alpha1=ka1, kalpha2=ka2, ratio=ratio, anode=cstring(data, at + 116, 4))


def _raw4_range(data: bytes, at: int, name: str):
    """One RAW4 range at ``at``: (start, step, y, meta, end offset)."""
    scan_type = cstring(data, at + 32, 24)
    x0, step, steps, t = unpack("<ddIf", data, at + 72, name)
    (used,) = unpack("<d", data, at + 112, name)
    stride, hsize = unpack("<II", data, at + 136, name)
    if stride < 4 or hsize > 1 << 20:
        raise FormatError(f"bad RAW4 range: {stride}-byte points, {hsize}-byte header", name)
    sub, end_header = at + 160, at + 160 + hsize
    while sub + 8 <= end_header:
        kind, length = unpack("<II", data, sub, name)
        if length < 8:
            raise FormatError(f"RAW4 record at offset {sub} has length {length}", name)
        if kind == 50 and length >= 64 and cstring(data, sub + 12, 24) == "2Theta":
            (x0,) = unpack("<d", data, sub + 56, name)
        sub += length
    y = _floats(data, end_header, steps, stride, name)
    meta = {"scan_type": scan_type, "count_time": t, "used_lambda": used}
    return x0, step, y, meta, end_header + steps * stride


def _raw4(data: bytes, name: str) -> list[Scan]:
    """RAW4.00: 61-byte header, typed records (type, length), ranges start with type 0/160."""
    wl: dict = {}
    info: dict = {}
    scans, at = [], 61
    while at + 4 <= len(data) and len(scans) < MAX_RANGES:
        (kind,) = unpack("<I", data, at, name)
        if kind in (0, 160):
            x0, step, y, meta, at = _raw4_range(data, at, name)
            meta.update(scan_index=len(scans), raw_version=4,
                        sample=info.get("SampleID") or info.get("SampleName"))
            scans.append(_make(x0, step, y, dict(wl, used=meta["used_lambda"]),
                               {k: v for k, v in meta.items() if v is not None}, name))
            continue
        (length,) = unpack("<I", data, at + 4, name)
        if length < 8:
            raise FormatError(f"RAW4 record at offset {at} has length {length}", name)
        _raw4_globals(data, at, kind, length, wl, info, name)
        at += length
    if not scans:
        raise FormatError("RAW4 file holds no measurement range", name)
    return scans


def sniff_raw(head: bytes, name: str) -> bool:
    return head.startswith(RAW_MAGIC)


@register_reader("bruker_raw", (".raw",), sniff_raw, "Bruker/Siemens RAW v1, v2, v3 (1.01), v4")
def read_bruker_raw(data: bytes, name: str) -> list[Scan]:
    """Parse Bruker RAW bytes into one Scan per range (y as stored: counts per step)."""
    for magic, parse in ((b"RAW1.01", _raw3), (b"RAW4.00", _raw4), (b"RAW2", _raw2),
                         (b"RAW ", _raw1)):
        if data.startswith(magic):
            return parse(data, name)
    raise FormatError("not a Bruker RAW file (no RAW magic)", name)


# --- .brml --------------------------------------------------------------------------------

def _brml_wavelengths(root) -> dict:
    def value(tag):
        for el in find_all(root, tag):
            v = first_float(el.get("Value") or el.text)
            if v is not None:
                return v * (10.0 if "nm" in (el.get("Unit") or "") else 1.0)
        return None
    return {"alpha1": value("WaveLengthAlpha1") or value("WaveLengthAverage"),
            "kalpha2": value("WaveLengthAlpha2"), "ratio": first_float(
                find_value(root, "WaveLengthRatio")), "anode": find_value(root, "TubeMaterial")}


def _brml_route(route, wl: dict, name: str, index: int) -> Scan | None:
    """One ``DataRoute``: ``Datum`` = ``time,1,2θ,θ,counts`` per step; None if not a scan."""
    rows = [d.text.split(",") for d in find_all(route, "Datum") if d.text]
    try:
        table = np.array([[float(v) for v in r[:5]] for r in rows if len(r) >= 5])
    except ValueError:
        raise FormatError("a <Datum> holds something that is not a number", name) from None
    if table.ndim != 2 or table.shape[0] < 3:
        return None
    y = table[:, 4] if np.ptp(table[:, 4]) > 0 else table[:, 3]
    step = first_float(find_value(route, "Increment")) or 0.0
    meta = {"scan_index": index, "count_time": first_float(find_value(route, "TimePerStep")),
            "scan_type": (find_all(route, "ScanInformation") or [route])[0].get("VisibleName")}
    scan = _make(table[0, 2], 1.0, y, wl, {k: v for k, v in meta.items() if v is not None},
                 name)
    scan.x = table[:, 2].copy()
    scan.meta["step"] = step
    scan.format = "brml"
    return finalize(scan, name)


def sniff_brml(head: bytes, name: str) -> bool:
    return head.startswith(b"PK\x03\x04") and b"RawData" in head[:65536]


@register_reader("brml", (".brml",), sniff_brml, "Bruker BRML (zip of XML)")
def read_brml(data: bytes, name: str) -> list[Scan]:
    """Parse a ``.brml`` zip: every ``*/RawData<N>.xml`` data route becomes a Scan."""
    zf = open_zip(data, name)
    members = sorted((m for m in zf.namelist() if re.search(r"RawData\d*\.xml$", m)),
                     key=lambda m: [int(d) for d in re.findall(r"\d+", m)])
    if not members:
        raise FormatError("zip archive holds no RawData*.xml: not a .brml", name)
    scans = []
    for member in members:
        root = parse_xml(zip_member(zf, member, name), f"{name}:{member}")
        wl = _brml_wavelengths(root)
        for route in find_all(root, "DataRoute"):
            scan = _brml_route(route, wl, name, len(scans))
            if scan is not None:
                scan.meta["member"] = member
                scans.append(scan)
    if not scans:
        raise FormatError("no scan data (<Datum> rows) in the .brml", name)
    return scans
