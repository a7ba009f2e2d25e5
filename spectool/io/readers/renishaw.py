"""Renishaw WiRE ``.wdf`` (Raman) through ``renishaw_wdf`` (Renishaw's own reader, Apache-2.0).

The library reads the header (point and spectrum counts, laser wavenumber, title, measurement
type), the x list with its unit and, for maps, the X/Y stage positions (data origins, µm). The
spectra themselves are the DATA section's float32 rows, read here with numpy in one pass
(``Wdf.spectrum`` unpacks one tuple per spectrum). A single spectrum, a series and a map all give
one Scan per collected spectrum (``ncollected`` of ``nspectra``; an interrupted map keeps what it
measured), with ``meta['map_x_um']``/``['map_y_um']`` for map points. The x list in Raman shift
gives a ``raman_shift`` axis; in absolute wavenumbers or nm it is kept as such (the ``raman_shift``
preprocess step converts with the laser line, ``meta['laser_nm']`` = 10⁷ / laser wavenumber).
Multitrack files (one x list per track) are refused. ``wdf`` is imported lazily.

Before the library walks the section chain, every section header is checked (size ≥ 16 bytes:
a zero size would make its walk loop forever), and the DATA section must hold the spectra the
header states (else the file is truncated).
"""

from __future__ import annotations

import io
import struct

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers._common import library, positive
from spectool.io.readers.base import Scan, finalize, register_reader

MAGIC = b"WDF1"
HEADER = 512
SECTION = 16
DATA_ID = 0x41544144  # 'DATA'
MULTITRACK = 1 << 3
#: WdfDataUnit name of the x list → (quantity, units)
X_UNITS = {"RamanShift": ("raman_shift", "1/cm"), "Wavenumber": ("wavenumber", "1/cm"),
           "Nanometre": ("wavelength", "nm"), "Micron": ("wavelength", "um")}


def sniff_wdf(head: bytes, name: str) -> bool:
    return head.startswith(MAGIC)


def _sections(data: bytes, name: str) -> dict[int, tuple[int, int]]:
    """Section id → (offset, size) of its first instance, walking the whole chain.

    The last section may run past the end of the file (real files do, by a few bytes); the DATA
    section is checked against what is there when it is read."""
    found: dict[int, tuple[int, int]] = {}
    pos = 0
    while pos + SECTION <= len(data):
        ident, _, size = struct.unpack_from("<IIQ", data, pos)
        if size < SECTION:
            raise FormatError(f"section at byte {pos} states a size of {size} bytes", name)
        found.setdefault(ident, (pos, size))
        pos += size
    return found


def _rows(data: bytes, section: tuple[int, int], header, name: str) -> np.ndarray:
    """(ncollected, npoints) float32 view of the DATA section."""
    n, points = header.ncollected, header.npoints
    offset, size = section
    held = min(size, len(data) - offset) - SECTION
    if not 0 < n <= header.nspectra or points < 3:
        raise FormatError(f"header states {n} of {header.nspectra} spectra of {points} points", name)
    if n * points * 4 > held:
        raise FormatError(f"file is truncated ({n} spectra × {points} points need {n * points * 4} bytes; "
                          f"the DATA section holds {held})", name)
    return np.frombuffer(data, "<f4", n * points, offset + SECTION).reshape(n, points)


def _positions(reader, lib, n: int, name: str) -> dict[str, np.ndarray]:
    """Map X/Y stage positions (µm) of the first ``n`` spectra, from the data origins."""
    try:
        origins = reader.origins
        out = {}
        for key, field in ((lib.WdfDataType.Spatial_X, "map_x_um"), (lib.WdfDataType.Spatial_Y, "map_y_um")):
            if key in origins and origins[key].dataunit == lib.WdfDataUnit.Micron:
                out[field] = np.asarray(origins[key][0:n], float)
    except Exception as exc:  # noqa: BLE001 - whatever the library raises on a broken section
        raise FormatError(f"its map positions (ORIGIN section) are unreadable: {type(exc).__name__}: {exc}",
                          name) from None
    return out


def _meta(header, lib) -> dict:
    meta = {"sample": header.title or None, "laser_nm": None, "signal": None}
    laser = positive(float(header.laser_wavenumber))
    if laser:
        meta["laser_nm"] = round(1e7 / laser, 4)
    try:
        meta["signal"] = lib.WdfDataUnit(header.units_).name.lower()
        meta["measurement"] = lib.WdfType(header.type_).name.lower()
    except ValueError:
        pass
    return {k: v for k, v in meta.items() if v is not None}


def _axis(reader, header, name: str) -> tuple[np.ndarray, str, str]:
    if header.flags_ & MULTITRACK:
        raise FormatError("multitrack WDF files (one x list per track) are not supported", name)
    xlist = reader.xlist()
    if xlist.units.name not in X_UNITS or len(xlist) != header.npoints:
        raise FormatError(f"x list of {len(xlist)} values in {xlist.units.name} for {header.npoints} "
                          "points (not a calibrated Raman axis)", name)
    return (np.asarray(xlist, float), *X_UNITS[xlist.units.name])


def _parse(data: bytes, rows_at: tuple[int, int], name: str):
    """(rows (N, L) float32, x (L,), quantity, units, meta, map positions) through the library."""
    lib = library("wdf", "renishaw_wdf", "WDF", name)
    reader = lib.Wdf()
    reader.open_fd(io.BytesIO(data))
    header = reader.hdr
    x, quantity, units = _axis(reader, header, name)
    rows = _rows(data, rows_at, header, name)
    places = _positions(reader, lib, len(rows), name) if header.type_ == lib.WdfType.Map else {}
    return rows, x, quantity, units, _meta(header, lib), places


@register_reader("wdf", (".wdf",), sniff_wdf, "Renishaw WiRE .wdf (Raman; maps give one spectrum per point)")
def read_wdf(data: bytes, name: str) -> list[Scan]:
    """Parse WDF bytes; one Scan per collected spectrum (map point, series member).

    Returns scans with ``x`` (L,) ascending (Raman shift in cm⁻¹ for most files) and ``y`` (L,) in
    the file's intensity unit (``meta['signal']``, usually counts).
    """
    if len(data) < HEADER or not data.startswith(MAGIC):
        raise FormatError("not a Renishaw WDF file (no WDF1 header)", name)
    sections = _sections(data, name)
    if DATA_ID not in sections:
        raise FormatError("no DATA section", name)
    try:
        rows, x, quantity, units, meta, places = _parse(data, sections[DATA_ID], name)
    except FormatError:
        raise
    except Exception as exc:  # the library's own errors on malformed sections (struct, enum values, seeks)
        raise FormatError(f"malformed WDF file: {type(exc).__name__}: {exc}", name) from None
    with np.errstate(invalid="ignore"):  # a signalling NaN warns in the cast; finalize names it
        spectra = rows.astype(np.float64)
    scans = []
    for i, y in enumerate(spectra):
        where = {field: float(at[i]) for field, at in places.items() if i < len(at)}
        scan = Scan(x.copy(), y, None, quantity, units, "raman", None, None,
                    dict(meta, scan_index=i, **where), format="wdf")
        scans.append(finalize(scan, name))
    return scans
