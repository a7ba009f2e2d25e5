"""One contract for every registered scan reader (STYLE.md: the scikit-learn habit).

Each reader gets a valid sample and golden values; a new reader without a sample here fails
``test_every_reader_has_a_sample``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectool.errors import FormatError
from spectool.io.readers import READERS  # noqa: F401  (registers every reader)
from spectool.io.readers.base import READERS as REGISTRY
from tests.io.readers import writers

DATA = Path(__file__).resolve().parents[2] / "data" / "scans"

# reader → (sample bytes, file name, golden: n, x0, x_last, y[:3], wavelength, kind)
SAMPLES = {
    "text": (DATA / "simple.xy", (5, 10.0, 10.08, [100, 110, 130], 1.5406, "xrd")),
    "xrdml": (DATA / "two_scans.xrdml", (5, 20.0, 20.08, [100, 120, 140], 1.540598, "xrd")),
    "ras": (DATA / "two_blocks.ras", (4, 30.0, 30.06, [100, 110, 150], 1.540593, "xrd")),
    "gsas": (DATA / "synchrotron.fxye", (5, 0.5, 0.504, [387.774303, 413.94119, 419.633262],
                                        0.413, "xrd")),
    "jcamp": (DATA / "ir_transmittance.jdx", (5, 3996.0, 4000.0, [0.94, 0.93, 0.92], None,
                                              "ftir")),
    "bruker_raw": ((writers.raw4(), "sample.raw"),
                   (5, 10.0, 10.08, [100, 150, 400], 1.540598, "xrd")),
    "brml": ((writers.brml(), "sample.brml"), (5, 10.0, 10.08, [100, 150, 400], 1.540598, "xrd")),
    "rasx": ((writers.rasx(), "sample.rasx"), (5, 10.0, 10.08, [100, 150, 400], 1.540593, "xrd")),
    "wdf": (DATA / "Si-map.wdf", (575, 53.361473083496094, 957.444091796875, [13.42725182, 7.46175385, 7.46391678],
                                  None, "raman")),
    "opus": ((writers.opus(), "sample.0"), (5, 1000.0, 1008.0, [120, 180, 400], None, "ftir")),
    "spa": ((writers.spa(), "sample.spa"), (5, 1000.0, 1008.0, [120, 180, 400], None, "ftir")),
}


def sample(reader: str) -> tuple[bytes, str]:
    source = SAMPLES[reader][0]
    if isinstance(source, Path):
        return source.read_bytes(), source.name
    return source


READER_NAMES = sorted(REGISTRY)


def test_every_reader_has_a_sample():
    assert set(REGISTRY) <= set(SAMPLES)


@pytest.mark.parametrize("reader", READER_NAMES)
def test_valid_sample_meets_the_scan_contract(reader):
    data, name = sample(reader)
    before = bytes(data)
    scans = REGISTRY[reader].read(data, name)
    assert data == before and scans
    for scan in scans:
        assert scan.x.dtype == np.float64 and scan.y.shape == scan.x.shape
        assert np.all(np.isfinite(scan.x)) and np.all(np.isfinite(scan.y))
        assert np.all(np.diff(scan.x) > 0)
        assert scan.sigma is None or scan.sigma.shape == scan.x.shape
        assert isinstance(scan.quantity, str) and isinstance(scan.units, str)
        assert scan.kind in ("xrd", "ftir", "raman", "xanes", "other")
        assert scan.wavelength is None or 0 < scan.wavelength < 10


@pytest.mark.parametrize("reader", READER_NAMES)
def test_golden_values(reader):
    data, name = sample(reader)
    n, x0, x1, y3, wavelength, kind = SAMPLES[reader][1]
    scan = REGISTRY[reader].read(data, name)[0]
    assert len(scan) == n
    np.testing.assert_allclose([scan.x[0], scan.x[-1]], [x0, x1], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(scan.y[:3], y3, rtol=1e-6)
    assert scan.kind == kind
    assert scan.wavelength == pytest.approx(wavelength) if wavelength else scan.wavelength is None


@pytest.mark.parametrize("reader", READER_NAMES)
def test_deterministic(reader):
    data, name = sample(reader)
    a, b = REGISTRY[reader].read(data, name), REGISTRY[reader].read(data, name)
    for s, t in zip(a, b):
        np.testing.assert_array_equal(s.x, t.x)
        np.testing.assert_array_equal(s.y, t.y)
        assert s.meta == t.meta


@pytest.mark.parametrize("reader", READER_NAMES)
def test_empty_input_raises_format_error(reader):
    with pytest.raises(FormatError) as info:
        REGISTRY[reader].read(b"", "empty.dat")
    assert info.value.path == "empty.dat"


@pytest.mark.parametrize("reader", READER_NAMES)
def test_garbage_raises_format_error(reader):
    garbage = np.random.default_rng(7).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    with pytest.raises(FormatError) as info:
        REGISTRY[reader].read(garbage, "garbage.bin")
    assert info.value.path is not None and info.value.path.startswith("garbage.bin")


@pytest.mark.parametrize("reader", READER_NAMES)
def test_truncated_or_mutated_input_gives_scans_or_format_error(reader):
    data, name = sample(reader)
    rng = np.random.default_rng(11)
    variants = [data[:cut] for cut in (7, 61, len(data) // 2, len(data) - 3)]
    for _ in range(30):
        buf = bytearray(data)
        for pos in rng.integers(0, len(buf), 3):
            buf[pos] = int(rng.integers(0, 256))
        variants.append(bytes(buf))
    for variant in variants:
        try:
            scans = REGISTRY[reader].read(variant, name)
        except FormatError as exc:
            assert exc.path is not None
            continue
        for scan in scans:
            assert np.all(np.isfinite(scan.x)) and np.all(np.diff(scan.x) > 0)
