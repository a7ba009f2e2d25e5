"""Bruker OPUS files (``.0``, ``.1``, … numbered; told by their magic bytes) through ``brukeropus`` (MIT).

brukeropus decodes the header, the block directory, the parameter blocks and the data blocks, and
pairs each data block with its data-status parameters (``NPT``, ``FXV``, ``LXV``, ``CSF``, ``DXU``);
its ``Data``/``DataSeries`` classes give x and y. An OPUS file holds several spectra of one
measurement (single channels, interferograms, phase, the result); the reader returns the result,
preferring absorbance (AB), then transmittance, Raman, reflectance, Kubelka–Munk, log(1/R), ATR,
photoacoustic, emission, and the sample single channel last. Interferograms, phase and reference
blocks are never chosen. A data series (3-D block: a time or map series) gives one Scan per
spectrum. The x axis in wavenumbers (``DXU=WN``) is kept, in µm (``MI``) kept as a wavelength
axis, log wavenumber (``LGW``) converted to cm⁻¹. Raman blocks are taken to hold the Raman shift
(not checked on a real FT-Raman file). ``meta``: ``signal``, ``block`` (the block's label), ``blocks``
(every data block's label), ``sample`` (``SNM``), ``sample_form`` (``SFM``), ``instrument`` (``INS``).

Only parameter and data blocks are parsed (reports and text are skipped), and each is checked
before brukeropus sees it: a data-series header stating more spectra than the file holds, or a
point count beyond its block, would make it allocate (or loop) by the stated amount.
"""

from __future__ import annotations

import contextlib
import io
import struct

import numpy as np

from spectool.errors import FormatError
from spectool.io.readers._common import library, unpack
from spectool.io.readers.base import NUMBERED, Scan, finalize, register_reader

MAGIC = b"\n\n\xfe\xfe"
MAX_BLOCKS = 1 << 16
#: data type code (block type[3] mod 32) → signal, in order of preference
RESULTS = {4: "absorbance", 5: "transmittance", 10: "raman_intensity", 12: "reflectance", 6: "kubelka_munk",
           15: "log_reflectance", 16: "atr", 17: "photoacoustic", 11: "emission", 1: "single_beam"}
SAMPLE, REFERENCE = 1, 2
SERIES_HEAD = 24  # version, blocks, offset, data size, info size, store-table entries (int32 each)


def sniff_opus(head: bytes, name: str) -> bool:
    return head.startswith(MAGIC)


def _blocks(data: bytes, opus, name: str) -> list:
    """The parameter and data blocks of the directory, parsed; each inside the file."""
    _, start, max_blocks, _ = unpack("<dIII", data, 4, name)
    if not 0 < max_blocks <= MAX_BLOCKS or start + 12 * max_blocks > len(data):
        raise FormatError(f"OPUS directory of {max_blocks} entries at byte {start} lies outside the "
                          f"{len(data)}-byte file (truncated?)", name)
    blocks = []
    for block_type, size, begin in opus.parse_directory(data[start:start + 12 * max_blocks]):
        if size < 0 or begin + size > len(data):
            raise FormatError(f"file is truncated (a block ends at byte {begin + size}; the file has "
                              f"{len(data)})", name)
        block = opus.FileBlock(filebytes=data, block_type=block_type, size=size, start=begin)
        wanted = block.is_param() or block.is_data() or block.is_data_series()
        if wanted and not block.is_report() and _safe_series(block, data[begin:begin + size]):
            block.parse()
            if not block.parse_error:
                blocks.append(block)
    return blocks


def _safe_series(block, raw: bytes) -> bool:
    """False for a data-series block whose header states more than the block holds."""
    if not block.is_data_series():
        return True
    if len(raw) < SERIES_HEAD:
        return False
    _, count, offset, size, info, table = struct.unpack_from("<6i", raw)
    return (0 < count and 4 <= size and 0 <= info and 0 <= table <= len(raw) // 8
            and SERIES_HEAD <= offset <= len(raw) and count * size <= 4 * len(raw))


def _status_ok(status: dict, points: int) -> bool:
    """The data-status parameters give a usable axis for ``points`` stored values."""
    npt, fxv, lxv, csf = (status.get(k) for k in ("npt", "fxv", "lxv", "csf"))
    numbers = isinstance(npt, int) and all(isinstance(v, (int, float)) for v in (fxv, lxv, csf))
    return (numbers and 3 <= npt <= points and np.isfinite([fxv, lxv, csf]).all() and fxv != lxv
            and status.get("dpf", 1) == 1 and status.get("dxu") in ("WN", "MI", "LGW"))


def _stored(block) -> int:
    values = block.data["y"] if isinstance(block.data, dict) else block.data
    return int(np.shape(values)[-1]) if values is not None else 0


def _rank(pair) -> tuple[int, int]:
    data = pair[0]
    code, channel = data.type[3] % 32, data.type[3] // 32
    order = list(RESULTS)
    return (order.index(code) if code in RESULTS else len(order), channel)


def _usable(pair) -> bool:
    data, status = pair
    code = data.type[3] % 32
    if code not in RESULTS or data.type[1] == REFERENCE or (code == 1 and data.type[1] != SAMPLE):
        return False
    return isinstance(status.data, dict) and _status_ok(status.data, _stored(data))


def _axis(spectrum) -> tuple[np.ndarray, str, str]:
    unit = spectrum.params.dxu
    if unit == "MI":
        return np.asarray(spectrum.x, float), "wavelength", "um"
    x = np.exp(spectrum.x) if unit == "LGW" else spectrum.x
    return np.asarray(x, float), "wavenumber", "1/cm"


def _scans(spectrum, signal: str, meta: dict, name: str) -> list[Scan]:
    x, quantity, units = _axis(spectrum)
    kind = "raman" if signal == "raman_intensity" else "ftir"
    if kind == "raman" and quantity == "wavenumber":
        quantity = "raman_shift"
    rows = np.atleast_2d(np.asarray(spectrum.y, float))
    scans = []
    for i, y in enumerate(rows):
        scan = Scan(x.copy(), y, None, quantity, units, kind, None, None,
                    dict(meta, signal=signal, scan_index=i), format="opus")
        scans.append(finalize(scan, name))
    return scans


def _meta(blocks, chosen, pairs) -> dict:
    params: dict = {}
    for block in blocks:
        if block.is_sm_param() and isinstance(block.data, dict):
            params.update(block.data)
    meta = {"block": chosen.get_label(), "blocks": [d.get_label() for d, _ in pairs]}
    for key, field in (("snm", "sample"), ("sfm", "sample_form"), ("ins", "instrument")):
        value = params.get(key)
        if isinstance(value, str) and value.strip():
            meta[field] = value.strip()
    return meta


def _spectrum(data: bytes, opus, name: str):
    """(Data or DataSeries of the preferred block, its signal, meta) through brukeropus."""
    blocks = _blocks(data, opus, name)
    pairs = opus.pair_data_and_status_blocks(blocks)
    candidates = sorted((p for p in pairs if _usable(p)), key=_rank)
    if not candidates:
        labels = ", ".join(d.get_label() for d, _ in pairs) or "none"
        raise FormatError(f"no spectrum block with a wavenumber axis (data blocks: {labels})", name)
    block, status = candidates[0]
    meta = _meta(blocks, block, pairs)
    kind = opus.DataSeries if block.is_data_series() else opus.Data
    return kind(block, status, key=block.get_data_key(), vel=0), RESULTS[block.type[3] % 32], meta


@register_reader("opus", (NUMBERED,), sniff_opus, "Bruker OPUS .0, .1, … (IR; the AB block preferred)")
def read_opus(data: bytes, name: str) -> list[Scan]:
    """Parse OPUS bytes; the preferred result block as one Scan (one per spectrum of a series).

    Returns scans with ``x`` (L,) ascending in cm⁻¹ (or µm), ``y`` (L,) scaled by ``CSF``.
    """
    if not data.startswith(MAGIC):
        raise FormatError("not a Bruker OPUS file (no OPUS magic bytes)", name)
    opus = library("brukeropus.file", "brukeropus", "OPUS", name)
    with contextlib.redirect_stdout(io.StringIO()):  # brukeropus prints some complaints
        try:
            spectrum, signal, meta = _spectrum(data, opus, name)
        except FormatError:
            raise
        except Exception as exc:  # the library's own errors on malformed blocks
            raise FormatError(f"malformed OPUS file: {type(exc).__name__}: {exc}", name) from None
    return _scans(spectrum, signal, meta, name)
