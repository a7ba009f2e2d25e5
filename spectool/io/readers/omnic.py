"""Thermo OMNIC ``.spa``: one IR or Raman spectrum (or several, in the same layout) per file.

No maintained reader library installs cleanly (spectrochempy-omnic imports ``requests`` without
declaring it and fetches URLs; omnicreader ships one compiled wheel without a licence), so this is a
small reader of the layout that OMNIC's users have published (Orange's SPAReader, SpectroChemPy's
read_omnic, both read for the layout only), all little-endian:

- bytes 0–17: ``Spectral Data File`` (the magic); 30–285: the title, NUL-terminated;
- 294: uint16, the number of directory entries; 296: uint32, acquisition time in seconds since
  1899-12-31 00:00 UTC;
- 304 + 16 k: directory entry k: uint16 key, uint32 offset (+2), uint32 length (+6) of its section;
- key 2, the spectrum header: uint32 point count (+4), uint8 x unit (+8: 1 cm⁻¹, 2 data points,
  3 nm, 4 µm, 32 Raman shift cm⁻¹), uint8 y unit (+12: 11 %R, 12 log(1/R), 15 single beam,
  16 %T, 17 absorbance, 20 Kubelka–Munk, 22 V, 26 photoacoustic, 31 Raman intensity),
  float32 first and last x (+16, +20), the axis evenly spaced between them;
- key 3: the intensities, float32, one per point.

Each (key 2, key 3) pair in directory order is one Scan. An interferogram (x in data points) is
refused. Validated at development time on a real OMNIC file (``sample1.spa`` of the GPL-licensed
orange-spectroscopy wheel, not committed); the tests build files in this layout.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers._common import cstring, unpack
from spectool.io.readers.base import Scan, finalize, register_reader
from spectool.io.readers.text import MID_IR_NM

MAGIC = b"Spectral Data File"
DIRECTORY = 304
ENTRY = 16
MAX_ENTRIES = 4096
HEADER_KEY, DATA_KEY = 2, 3
#: x unit code → (quantity, units)
X_UNITS = {1: ("wavenumber", "1/cm"), 3: ("wavelength", "nm"), 4: ("wavelength", "um"),
           32: ("raman_shift", "1/cm")}
Y_UNITS = {11: "reflectance", 12: "log_1_over_r", 15: "single_beam", 16: "transmittance",
           17: "absorbance", 20: "kubelka_munk", 22: "volts", 26: "photoacoustic", 31: "raman_intensity"}
EPOCH = dt.datetime(1899, 12, 31, tzinfo=dt.timezone.utc)


def sniff_spa(head: bytes, name: str) -> bool:
    return head.startswith(MAGIC)


def _directory(data: bytes, name: str) -> list[tuple[int, int, int]]:
    """(key, offset, length) of every directory entry, each section inside the file."""
    (count,) = unpack("<H", data, 294, name)
    if not 0 < count <= MAX_ENTRIES:
        raise FormatError(f"SPA directory holds {count} entries", name)
    entries = []
    for k in range(count):
        key, offset, length = unpack("<HII", data, DIRECTORY + ENTRY * k, name)
        if offset + length > len(data):
            raise FormatError(f"file is truncated (section {k + 1}, key {key}, ends at byte "
                              f"{offset + length}; the file has {len(data)})", name)
        entries.append((key, offset, length))
    return entries


def _header(data: bytes, offset: int, name: str) -> tuple[int, int, int, float, float]:
    """(points, x unit code, y unit code, first x, last x) of a key-2 section."""
    (n,) = unpack("<I", data, offset + 4, name)
    (xu,) = unpack("<B", data, offset + 8, name)
    (yu,) = unpack("<B", data, offset + 12, name)
    first, last = unpack("<ff", data, offset + 16, name)
    return n, xu, yu, first, last


def _kind(quantity: str, units: str, yu: int, x: np.ndarray) -> str:
    if quantity == "raman_shift" or Y_UNITS.get(yu) == "raman_intensity":
        return "raman"
    if units == "nm" and float(np.max(x)) < MID_IR_NM:
        return "other"
    return "ftir"


def _scan(data: bytes, header: tuple[int, int, int], values: tuple[int, int, int], meta: dict,
          name: str) -> Scan:
    n, xu, yu, first, last = _header(data, header[1], name)
    if xu == 2:
        raise FormatError("an interferogram (x in data points), not a spectrum", name)
    if xu not in X_UNITS:
        raise FormatError(f"unknown x unit code {xu} in the spectrum header", name)
    if not 3 <= n <= values[2] // 4:
        raise FormatError(f"the header states {n} points; the data section holds {values[2] // 4}", name)
    if not (np.isfinite(first) and np.isfinite(last)) or first == last:
        raise FormatError(f"axis from {first:g} to {last:g} is not a range", name)
    quantity, units = X_UNITS[xu]
    x = np.linspace(first, last, n)
    y = np.frombuffer(data, "<f4", n, values[1]).astype(np.float64)
    meta = dict(meta, signal=Y_UNITS.get(yu, f"code {yu}"))
    scan = Scan(x, y, None, quantity, units, _kind(quantity, units, yu, x), None, None, meta, format="spa")
    return finalize(scan, name)


def _meta(data: bytes, name: str) -> dict:
    meta = {"sample": cstring(data, 30, 256) or None}
    (seconds,) = unpack("<I", data, 296, name)
    if seconds:
        meta["acquired"] = (EPOCH + dt.timedelta(seconds=seconds)).isoformat()
    return {k: v for k, v in meta.items() if v}


@register_reader("spa", (".spa",), sniff_spa, "Thermo OMNIC .spa (IR/Raman)")
def read_spa(data: bytes, name: str) -> list[Scan]:
    """Parse OMNIC ``.spa`` bytes; one Scan per spectrum header and data section pair.

    Returns scans with ``x`` (L,) ascending in cm⁻¹ (IR, Raman shift), nm or µm, ``y`` (L,) as
    stored; ``meta['signal']`` names the y unit (absorbance, transmittance, …).
    """
    if not data.startswith(MAGIC):
        raise FormatError("not a Thermo OMNIC .spa file (no 'Spectral Data File' magic)", name)
    entries = _directory(data, name)
    headers = [e for e in entries if e[0] == HEADER_KEY]
    values = [e for e in entries if e[0] == DATA_KEY]
    if not headers or len(headers) != len(values):
        raise FormatError(f"{len(headers)} spectrum header(s) and {len(values)} data section(s)", name)
    meta = _meta(data, name)
    return [_scan(data, h, v, dict(meta, scan_index=i), name) for i, (h, v) in enumerate(zip(headers, values))]
