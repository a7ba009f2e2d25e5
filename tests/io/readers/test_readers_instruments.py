"""IR and Raman instrument files: a real Renishaw map (Si-map.wdf, Renishaw's Apache-2.0 test file; NOTICE),
and Bruker OPUS and Thermo OMNIC .spa files built in their documented layouts (tests/io/readers/writers.py).
The OPUS and SPA readers were also checked at development time on real files that are GPL-licensed and so
not committed (orange-spectroscopy's peach_juice.0 and sample1.spa)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spectool.errors import FormatError
from spectool.io.inputs import expand_inputs
from spectool.io.readers import SCAN_SUFFIXES, read_scans
from tests.io.readers import writers

SI_MAP = Path(__file__).parents[2] / "data" / "scans" / "Si-map.wdf"
SERIES = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 3.0, 9.0, 5.0, 6.0]])


def test_a_real_renishaw_map_gives_every_point_with_the_silicon_line_at_520():
    scans = read_scans(SI_MAP)
    assert len(scans) == 88 and {len(s) for s in scans} == {575}
    first = scans[0]
    assert (first.quantity, first.units, first.kind, first.format) == ("raman_shift", "1/cm", "raman", "wdf")
    assert first.meta["laser_nm"] == pytest.approx(532.0, abs=0.01)  # 18,797 cm⁻¹ in the header
    assert first.meta["signal"] == "counts" and first.meta["measurement"] == "map"
    lines = [s.x[np.argmax(s.y)] for s in scans]
    assert np.all(np.abs(np.array(lines) - 520.0) <= 2.0)
    xs = {s.meta["map_x_um"] for s in scans}
    ys = {s.meta["map_y_um"] for s in scans}
    assert len(xs) * len(ys) == 88 and [s.meta["scan_index"] for s in scans] == list(range(88))


def test_wdf_rows_are_the_library_s_spectra():
    wdf = pytest.importorskip("wdf")
    scans = read_scans(SI_MAP)
    with wdf.Wdf(str(SI_MAP)) as reader:
        for i in (0, 41, 87):
            np.testing.assert_array_equal(scans[i].y, np.array(reader.spectrum(i))[::-1])


def test_opus_prefers_the_absorbance_block():
    (scan,) = read_scans(writers.opus(), "film.0")
    assert (scan.quantity, scan.units, scan.kind, scan.format) == ("wavenumber", "1/cm", "ftir", "opus")
    np.testing.assert_allclose(scan.y, writers.Y[::-1])  # stored 1008 → 1000 cm⁻¹, read ascending
    assert scan.meta["signal"] == "absorbance" and scan.meta["block"] == "Absorbance"
    assert scan.meta["sample"] == "polystyrene film" and scan.meta["instrument"] == "TENSOR 27"
    assert set(scan.meta["blocks"]) == {"Absorbance", "Sample Spectrum", "Sample Interferogram"}


def test_opus_without_a_result_gives_the_sample_single_channel_and_never_an_interferogram():
    (scan,) = read_scans(writers.opus(absorbance=False), "film.1")
    assert scan.meta["signal"] == "single_beam"
    np.testing.assert_allclose(scan.y, 10 * writers.Y[::-1])
    with pytest.raises(FormatError, match="no spectrum block.*Sample Interferogram") as info:
        read_scans(writers.opus(absorbance=False, sample_channel=False), "igram.0")
    assert info.value.path == "igram.0"


def test_an_opus_data_series_gives_one_scan_per_spectrum():
    scans = read_scans(writers.opus(absorbance=False, sample_channel=False, series=SERIES), "kinetics.1001")
    assert len(scans) == 2 and scans[1].meta["scan_index"] == 1
    np.testing.assert_allclose([s.y for s in scans], SERIES[:, ::-1])


def test_opus_numbered_names_are_a_suffix_and_folders_pick_them_up(tmp_path):
    assert ".<n>" in SCAN_SUFFIXES
    for name in ("a.0", "b.12", "c.1001"):
        (tmp_path / name).write_bytes(writers.opus())
    (tmp_path / "notes.txt.bak").write_text("not a scan")
    (tmp_path / "run.log.1").write_text("a rotated log, numbered too\n")  # a folder walk passes over it
    found = [Path(p).name for p, problem in expand_inputs([str(tmp_path)], SCAN_SUFFIXES) if not problem]
    assert found == ["a.0", "b.12", "c.1001"]
    assert [Path(p).name for p, _ in expand_inputs([str(tmp_path / "run.log.1")], SCAN_SUFFIXES)] == ["run.log.1"]
    with pytest.raises(FormatError, match="not a Bruker OPUS file"):
        read_scans(b"\x00" * 64, "broken.0")  # no magic: the numbered suffix still names the reader


@pytest.mark.parametrize("x_unit, y_unit, quantity, units, kind, signal", [
    (1, 17, "wavenumber", "1/cm", "ftir", "absorbance"),
    (1, 16, "wavenumber", "1/cm", "ftir", "transmittance"),
    (4, 17, "wavelength", "um", "ftir", "absorbance"),
    (32, 31, "raman_shift", "1/cm", "raman", "raman_intensity"),
    (3, 17, "wavelength", "nm", "other", "absorbance"),
], ids=["cm-1 A", "cm-1 %T", "um A", "Raman shift", "nm UV-Vis"])
def test_spa_axis_and_signal_from_the_header_codes(x_unit, y_unit, quantity, units, kind, signal):
    (scan,) = read_scans(writers.spa(x_unit=x_unit, y_unit=y_unit), "s.spa")
    assert (scan.quantity, scan.units, scan.kind, scan.meta["signal"]) == (quantity, units, kind, signal)
    np.testing.assert_allclose(scan.x, [1000, 1002, 1004, 1006, 1008])
    np.testing.assert_allclose(scan.y, writers.Y[::-1])
    assert scan.meta["sample"] == "polystyrene film" and scan.meta["acquired"].startswith("2015-04-01")


def test_spa_with_two_spectra_and_an_interferogram():
    assert len(read_scans(writers.spa(spectra=2), "two.spa")) == 2
    with pytest.raises(FormatError, match="interferogram"):
        read_scans(writers.spa(x_unit=2), "igram.spa")


@pytest.mark.parametrize("make, cuts, name", [
    (SI_MAP.read_bytes, (7, 1000, 150_000, 204_000), "map.wdf"),  # header; DATA (512–202,928); XLIST after it
    (writers.opus, (23, 100, 0.5, -5), "film.0"),
    (writers.spa, (20, 300, 0.5, -5), "film.spa"),
], ids=["wdf", "opus", "spa"])
def test_a_truncated_file_is_one_format_error_naming_it(make, cuts, name):
    data = make()
    for cut in cuts:
        end = int(cut * len(data)) if isinstance(cut, float) else cut if cut > 0 else len(data) + cut
        with pytest.raises(FormatError) as info:
            read_scans(data[:end], name)
        assert info.value.path == name and "\n" not in str(info.value)


def test_a_wdf_cut_in_its_trailing_metadata_still_gives_its_spectra():
    """Real files end with a section a few bytes short (orange-spectroscopy's test file does): what the
    reader uses (header, DATA, XLIST, ORIGIN) is whole, so the spectra are read."""
    assert len(read_scans(SI_MAP.read_bytes()[:-5], "map.wdf")) == 88


@pytest.mark.parametrize("module, data, name", [
    ("wdf", None, "map.wdf"), ("brukeropus", writers.opus(), "film.0"),
], ids=["renishaw_wdf", "brukeropus"])
def test_a_missing_library_is_one_line(monkeypatch, module, data, name):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as when it is not installed
    with pytest.raises(FormatError, match=f"pip install {'renishaw_wdf' if module == 'wdf' else 'brukeropus'}"):
        read_scans(SI_MAP.read_bytes() if data is None else data, name)
