"""Test-time writers for the binary and zip formats, following the published layouts.

Bruker RAW offsets follow xylib's bruker_raw.cpp (DIFFRAC^plus XCH manual, appendix A);
.brml and .rasx follow the member names and XML element names the instruments write.
"""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np

Y = np.array([100.0, 150.0, 400.0, 180.0, 120.0], dtype=np.float32)


def _put(buf: bytearray, offset: int, fmt: str, *values) -> None:
    struct.pack_into(fmt, buf, offset, *values)


def _text(buf: bytearray, offset: int, text: str, length: int) -> None:
    raw = text.encode("latin-1")[:length]
    buf[offset:offset + len(raw)] = raw


def raw4(y=Y, start=10.0, step=0.02, two_theta_start=None) -> bytes:
    """RAW4.00: 61-byte header, a type-30 tube record, one range with a type-50 2θ record."""
    head = bytearray(61)
    head[:7] = b"RAW4.00"
    tube = bytearray(120)
    _put(tube, 0, "<II", 30, 120)
    _put(tube, 72, "<5d", 1.5418, 1.540598, 1.544426, 1.39225, 0.5)
    _text(tube, 116, "Cu", 4)
    var = bytearray(60)
    _put(var, 0, "<II", 10, 60)
    _text(var, 12, "SampleID", 24)
    _text(var, 36, "quartz-1", 24)
    drive = bytearray(64)
    _put(drive, 0, "<III", 50, 64, 1)
    _text(drive, 12, "2Theta", 24)
    _put(drive, 56, "<d", start if two_theta_start is None else two_theta_start)
    rng = bytearray(160)
    _text(rng, 32, "Locked Coupled", 24)
    _put(rng, 72, "<ddIf", start, step, len(y), 1.5)
    _put(rng, 100, "<ff", 40.0, 40.0)
    _put(rng, 112, "<d", 1.540598)
    _put(rng, 136, "<II", 4, len(drive))
    return bytes(head + tube + var + rng + drive) + np.asarray(y, "<f4").tobytes()


def raw3(y=Y, start=10.0, step=0.02) -> bytes:
    """RAW1.01: 712-byte file header, one 304-byte range header, float32 counts."""
    head = bytearray(712)
    head[:7] = b"RAW1.01"
    _put(head, 8, "<II", 1, 1)
    _text(head, 326, "corundum", 60)
    _text(head, 608, "Cu", 4)
    _put(head, 616, "<5d", 1.5418, 1.540598, 1.544426, 1.39225, 0.5)
    rng = bytearray(304)
    _put(rng, 0, "<II", 304, len(y))
    _put(rng, 8, "<dd", start / 2, start)
    _put(rng, 176, "<d", step)
    _put(rng, 192, "<f", 2.0)
    _put(rng, 240, "<d", 1.540598)
    _put(rng, 252, "<II", 4, 0)
    return bytes(head + rng) + np.asarray(y, "<f4").tobytes()


def raw1(y=Y, start=10.0, step=0.02) -> bytes:
    """RAW version 1 (``"RAW "``): one range, 152-byte range header after the step count."""
    buf = bytearray(4 + 152)
    buf[:4] = b"RAW "
    _put(buf, 4, "<IffII", len(y), 1.0, step, 0, 0)
    _put(buf, 24, "<f", start)
    _text(buf, 40, "old sample", 32)
    _put(buf, 72, "<ff", 1.5406, 1.5444)
    _put(buf, 152, "<I", 0)
    return bytes(buf) + np.asarray(y, "<f4").tobytes()


def raw2(y=Y, start=10.0, step=0.02) -> bytes:
    """RAW2: 256-byte file header, one range with a 48-byte header."""
    buf = bytearray(256 + 48)
    buf[:4] = b"RAW2"
    _put(buf, 4, "<H", 1)
    _text(buf, 188, "Cu", 2)
    _put(buf, 190, "<fff", 1.5406, 1.5444, 0.5)
    _put(buf, 256, "<HH", 48, len(y))
    _put(buf, 264, "<fff", 1.0, step, start)
    return bytes(buf) + np.asarray(y, "<f4").tobytes()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def brml(y=Y, start=10.0, step=0.02) -> bytes:
    """A .brml: ``Experiment0/RawData0.xml`` with one ``Datum`` (time,1,2θ,θ,counts) per step."""
    rows = "".join(f"<Datum>1.5,1,{start + i * step:.4f},{(start + i * step) / 2:.4f},{v:g}"
                   f"</Datum>" for i, v in enumerate(y))
    xml = (f'<?xml version="1.0"?><RawData><FixedInformation><Instrument><PrimaryTracks>'
           f'<TrackInfoData><MountedOptics><InfoData><Tube><WaveLengthAlpha1 Value="1.540598" '
           f'Unit="A"/><WaveLengthAlpha2 Value="1.544426" Unit="A"/><WaveLengthRatio '
           f'Value="0.5"/><TubeMaterial>Cu</TubeMaterial></Tube></InfoData></MountedOptics>'
           f'</TrackInfoData></PrimaryTracks></Instrument></FixedInformation><DataRoutes>'
           f'<DataRoute><ScanInformation VisibleName="Coupled TwoTheta/Theta"><TimePerStep>1.5'
           f'</TimePerStep><ScanAxes><ScanAxisInfo AxisName="TwoTheta"><Start>{start}</Start>'
           f'<Increment>{step}</Increment></ScanAxisInfo></ScanAxes></ScanInformation>{rows}'
           f'</DataRoute></DataRoutes></RawData>')
    return _zip({"Experiment0/RawData0.xml": xml.encode(), "DataContainer.xml": b"<D/>"})


def rasx(y=Y, start=10.0, step=0.02) -> bytes:
    """A .rasx: ``Data0/Profile0.txt`` (2θ, counts, attenuation) + measurement conditions."""
    profile = "".join(f"{start + i * step:.4f}\t{v:g}\t1\r\n" for i, v in enumerate(y))
    xml = ('<?xml version="1.0" encoding="utf-8"?><MeasurementConditions><GeneralInformation>'
           '<SampleName>silicon</SampleName></GeneralInformation><HWConfigurations>'
           '<XrayGenerator><TargetName>Cu</TargetName><WavelengthKalpha1>1.540593'
           '</WavelengthKalpha1><WavelengthKalpha2>1.544414</WavelengthKalpha2>'
           '</XrayGenerator></HWConfigurations><ScanInformation><AxisName>TwoThetaTheta'
           '</AxisName><IntensityUnit>cps</IntensityUnit></ScanInformation>'
           '</MeasurementConditions>')
    return _zip({"Data0/Profile0.txt": b"\xef\xbb\xbf" + profile.encode(),
                 "Data0/MesurementConditions0.xml": xml.encode()})


def zipped(name: str, data: bytes) -> bytes:
    """A zip holding a single file (``.fxye.zip``)."""
    return _zip({name: data})


def spa(y=Y, first=1008.0, last=1000.0, x_unit=1, y_unit=17, title="polystyrene film", spectra=1) -> bytes:
    """A Thermo OMNIC .spa as spectool/io/readers/omnic.py documents the layout: magic, title at 30,
    entry count at 294, directory at 304 (key, offset, length), a key-2 header and key-3 float32
    values per spectrum; a key-27 history section that readers skip."""
    values = np.asarray(y, "<f4").tobytes()
    header = bytearray(140)
    _put(header, 4, "<I", len(y))
    _put(header, 8, "<B", x_unit)
    _put(header, 12, "<B", y_unit)
    _put(header, 16, "<ff", first, last)
    sections = [(27, b"collected by a test\x00\x00")] + [(2, bytes(header)), (3, values)] * spectra
    head = bytearray(304 + 16 * len(sections))
    head[:18] = b"Spectral Data File"
    _text(head, 30, title, 255)
    _put(head, 294, "<HI", len(sections), 3_637_000_000)
    body, offset = b"", len(head)
    for k, (key, data) in enumerate(sections):
        _put(head, 304 + 16 * k, "<HII", key, offset + len(body), len(data))
        body += data
    return bytes(head) + body


OPUS_MAGIC = b"\n\n\xfe\xfe"
SERIES_INFO = "<8i4d2i7d2i2d"  # brukeropus' per-spectrum info record of a data series (STRUCT_3D_INFO_BLOCK)


def opus_type(*codes: int) -> int:
    """The directory's int32 block type from its six codes (2, 2, 6, 7, 2, 3 bits, low first)."""
    shifts = (0, 2, 4, 10, 17, 19)
    return sum(code << shift for code, shift in zip(codes, shifts))


def opus_params(**values) -> bytes:
    """A parameter block: ``KEY\\0``, int16 type (0 int32, 1 float64, 2 string), int16 size in
    2-byte words, the value; ``END`` closes it."""
    out = b""
    for key, value in values.items():
        if isinstance(value, int):
            code, raw = 0, struct.pack("<i", value)
        elif isinstance(value, float):
            code, raw = 1, struct.pack("<d", value)
        else:
            raw = value.encode("latin-1") + b"\x00"
            code, raw = 2, raw + b"\x00" * (len(raw) % 2)
        out += key.upper().encode() + b"\x00" + struct.pack("<hh", code, len(raw) // 2) + raw
    return out + b"END\x00" + b"\x00" * 4


def _status(y, fxv: float, lxv: float, dxu: str) -> bytes:
    return opus_params(DPF=1, NPT=len(y), FXV=fxv, LXV=lxv, CSF=1.0, MXY=float(np.max(y)),
                       MNY=float(np.min(y)), DXU=dxu)


def _series(rows) -> bytes:
    """A data-series block: six int32 (version, spectra, offset, data size, info size, store-table
    entries), one store-table entry, then each spectrum followed by its info record."""
    rows = np.asarray(rows, "<f4")
    info = struct.calcsize(SERIES_INFO)
    head = struct.pack("<6i2i", 0, len(rows), 32, rows.shape[1] * 4, info, 1, 1, len(rows))
    return head + b"".join(r.tobytes() + bytes(info) for r in rows)


def opus(y=Y, fxv=1008.0, lxv=1000.0, sample_channel=True, absorbance=True, series=None) -> bytes:
    """A Bruker OPUS file in the layout brukeropus reads: a 24-byte header (magic, version, directory
    offset, directory size, block count), the directory (type, size in 4-byte words, offset per
    block), sample parameters, and data blocks each with its data-status parameter block: an
    absorbance spectrum (``absorbance``), the sample single channel (``sample_channel``, values 10×
    the absorbance), an interferogram (x in points), and ``series`` rows as an AB data series."""
    y = np.asarray(y, np.float32)
    blocks = [((0, 0, 10, 0, 0, 0), opus_params(SNM="polystyrene film", SFM="film", INS="TENSOR 27"))]
    igram = np.linspace(-1, 1, 16, dtype=np.float32)
    blocks += [((3, 1, 0, 2, 0, 0), igram.tobytes()), ((3, 1, 1, 2, 0, 0), _status(igram, 0.0, 15.0, "PNT"))]
    if sample_channel:
        blocks += [((3, 1, 0, 1, 0, 0), (10 * y).tobytes()), ((3, 1, 1, 1, 0, 0), _status(10 * y, fxv, lxv, "WN"))]
    if absorbance:
        blocks += [((3, 3, 0, 4, 0, 0), y.tobytes()), ((3, 3, 1, 4, 0, 0), _status(y, fxv, lxv, "WN"))]
    if series is not None:
        blocks += [((3, 3, 0, 4, 0, 2), _series(series)), ((3, 3, 1, 4, 0, 2), _status(series[0], fxv, lxv, "WN"))]
    size = 12 * (len(blocks) + 1)
    offset, body, entries = 24 + size, b"", [(opus_type(0, 0, 0, 13, 0, 0), size // 4, 24)]
    for codes, data in blocks:
        data += b"\x00" * (-len(data) % 4)
        entries.append((opus_type(*codes), len(data) // 4, offset + len(body)))
        body += data
    head = OPUS_MAGIC + struct.pack("<dIII", 920622.0, 24, len(entries), len(entries))
    return head + b"".join(struct.pack("<3i", *e) for e in entries) + body
