"""Instrument formats: XRDML, Bruker RAW/BRML, Rigaku RAS/RASX, GSAS (+ .prm), JCAMP-DX,
and the dispatcher ``read_scans``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spectool.errors import FormatError
from spectool.io.readers import SCAN_SUFFIXES, list_readers, read_scans
from spectool.io.readers.bruker import read_bruker_raw
from spectool.io.readers.gsas import choose_prm, parse_prm
from tests.io.readers import writers

DATA = Path(__file__).resolve().parents[2] / "data" / "scans"
Y = writers.Y.astype(float)


# --- XRDML -------------------------------------------------------------------------------

def test_xrdml_two_scans_list_positions_and_attenuation():
    first, second = read_scans(DATA / "two_scans.xrdml")
    assert first.meta["kalpha2"] == 1.544426 and first.meta["ratio"] == 0.5
    assert first.meta["count_time"] == 2.0 and first.meta["sample"] == "corundum"
    np.testing.assert_allclose(second.x, [30.0, 30.1, 30.3, 30.6])
    np.testing.assert_allclose(second.y, [5, 6, 70, 8])  # 7 counts × attenuation 10


def test_xrdml_cps_option_divides_by_counting_time():
    scan = read_scans(DATA / "two_scans.xrdml", cps=True)[0]
    np.testing.assert_allclose(scan.y, [50, 60, 70, 65, 55])
    assert scan.meta["signal"] == "cps"


def test_xrdml_namespace_2x_is_read():
    data = (DATA / "two_scans.xrdml").read_bytes().replace(b"XRDMeasurement/1.5",
                                                           b"XRDMeasurement/2.1")
    assert len(read_scans(data, "v21.xrdml")) == 2


def test_truncated_xml_names_file_and_line():
    data = (DATA / "two_scans.xrdml").read_bytes()[:900]
    with pytest.raises(FormatError, match="malformed XML") as info:
        read_scans(data, "cut.xrdml")
    assert info.value.path == "cut.xrdml" and info.value.line is not None


def test_xrdml_position_count_mismatch():
    data = (DATA / "two_scans.xrdml").read_bytes().replace(b"30.0 30.1 30.3 30.6", b"30.0 30.1")
    with pytest.raises(FormatError, match="2 positions for 4"):
        read_scans(data, "bad.xrdml")


# --- Bruker ------------------------------------------------------------------------------

@pytest.mark.parametrize("make, version", [(writers.raw1, 1), (writers.raw2, 2),
                                           (writers.raw3, 3), (writers.raw4, 4)])
def test_bruker_raw_versions(make, version):
    (scan,) = read_scans(make(), "s.raw")
    np.testing.assert_allclose(scan.x, 10.0 + 0.02 * np.arange(5), atol=1e-6)
    np.testing.assert_allclose(scan.y, Y)
    assert scan.meta["raw_version"] == version and scan.format == "bruker_raw"
    assert scan.wavelength == pytest.approx(1.5406 if version < 3 else 1.540598, abs=1e-6)


def test_raw4_two_theta_start_comes_from_the_2theta_drive_record():
    (scan,) = read_bruker_raw(writers.raw4(start=5.0, two_theta_start=20.0), "s.raw")
    assert scan.x[0] == 20.0 and scan.meta["sample"] == "quartz-1"
    assert scan.meta["kalpha2"] == 1.544426 and scan.radiation == "CuKa1"


def test_raw3_metadata():
    (scan,) = read_bruker_raw(writers.raw3(), "s.raw")
    assert scan.meta["sample"] == "corundum" and scan.meta["count_time"] == 2.0


@pytest.mark.parametrize("make", [writers.raw1, writers.raw2, writers.raw3, writers.raw4])
def test_truncated_raw_raises(make):
    data = make()
    with pytest.raises(FormatError) as info:
        read_bruker_raw(data[:-6], "cut.raw")
    assert info.value.path == "cut.raw"


def test_brml_and_zip_that_is_not_brml():
    (scan,) = read_scans(writers.brml(), "s.brml")
    np.testing.assert_allclose(scan.y, Y)
    assert scan.wavelength == 1.540598 and scan.meta["count_time"] == 1.5
    other = writers._zip({"a.txt": b"hello", "b.txt": b"world"})
    with pytest.raises(FormatError, match="not a known scan format") as info:
        read_scans(other, "fake.brml")
    assert info.value.path == "fake.brml"


def test_broken_zip():
    with pytest.raises(FormatError, match="zip"):
        read_scans(writers.brml()[:200], "cut.brml")


# --- Rigaku ------------------------------------------------------------------------------

def test_ras_two_blocks_with_attenuation():
    first, second = read_scans(DATA / "two_blocks.ras")
    np.testing.assert_allclose(first.y, [100, 110, 150, 105])
    assert first.meta["count_time"] == pytest.approx(0.6) and first.meta["sample"] == "ZnO powder"
    assert second.meta["scan_index"] == 1 and len(second) == 3


def test_ras_without_end_marker():
    text = (DATA / "two_blocks.ras").read_text().split("*RAS_INT_END")[0]
    with pytest.raises(FormatError, match="RAS_INT_END"):
        read_scans(text.encode(), "cut.ras")


def test_rasx():
    (scan,) = read_scans(writers.rasx(), "s.rasx")
    assert scan.meta["sample"] == "silicon" and scan.meta["signal"] == "cps"
    assert scan.meta["kalpha2"] == 1.544414


# --- GSAS --------------------------------------------------------------------------------

def test_gsas_std_with_named_prm_beside(tmp_path):
    for f in ("xray_std.gsa", "xray_inst.prm", "neutron_esd.prm"):
        shutil.copy(DATA / f, tmp_path / f)
    (scan,) = read_scans(tmp_path / "xray_std.gsa")
    assert scan.wavelength == 1.5405 and scan.meta["kalpha2"] == 1.5443
    assert len(scan) == 12 and scan.y[-1] == 441
    np.testing.assert_allclose(scan.sigma[-2:], np.sqrt([400 / 2, 441 / 2]))


def test_gsas_neutron_is_not_xray():
    (scan,) = read_scans(DATA / "neutron_esd.gda")
    assert scan.kind == "other" and scan.radiation == "neutron" and scan.wavelength == 1.909
    np.testing.assert_allclose(scan.x[:2], [20.0, 20.05])
    np.testing.assert_allclose(scan.sigma[:2], [18.3, 18.5])


def test_gsas_tof():
    (scan,) = read_scans(DATA / "tof_slog.gsa", prm=DATA / "neutron_esd.prm")
    assert (scan.quantity, scan.units, scan.kind) == ("tof", "us", "other")
    assert scan.wavelength is None


def test_gsas_without_prm_is_unknown_radiation():
    (scan,) = read_scans((DATA / "xray_std.gsa").read_bytes(), "x.gsa")
    assert scan.wavelength is None and scan.meta["probe"] == "xray"  # "X-ray" in the title


def test_fxye_zip_uses_header_wavelength():
    data = writers.zipped("synchrotron.fxye", (DATA / "synchrotron.fxye").read_bytes())
    (scan,) = read_scans(data, "synchrotron.fxye.zip")
    assert scan.wavelength == 0.413 and scan.x[0] == 0.5


def test_gsas_truncated_bank():
    text = (DATA / "xray_std.gsa").read_text().rsplit("\n", 2)[0]
    with pytest.raises(FormatError, match="truncated") as info:
        read_scans(text.encode(), "cut.gsa")
    assert info.value.line == 4


def test_prm_parsing_and_choice():
    xray = (DATA / "xray_inst.prm").read_text()
    neutron = (DATA / "neutron_esd.prm").read_text()
    assert parse_prm(xray) == {"htype": "PXCR", "wavelength": 1.5405, "kalpha2": 1.5443,
                               "ratio": 0.5}
    candidates = {"INST_XRY.PRM": xray, "inst_d1a.prm": neutron, "other_scan.prm": xray}
    assert choose_prm("a.xra", "title\nBANK 1", candidates) == "INST_XRY.PRM"
    assert choose_prm("a.cwn", "title\nBANK 1", candidates) == "inst_d1a.prm"
    assert choose_prm("other_scan.fxye", "t", candidates) == "other_scan.prm"


# --- JCAMP-DX ----------------------------------------------------------------------------

def test_jcamp_compound_file():
    raman, ir = read_scans(DATA / "compound.jdx")
    assert raman.kind == "raman" and raman.quantity == "raman_shift"
    assert ir.kind == "ftir" and ir.meta["signal"] == "absorbance"
    np.testing.assert_allclose(ir.x, [1000, 4000 / 3, 2000, 4000])  # 1e4 / µm, ascending


def test_jcamp_garbage_after_header():
    bad = b"##TITLE=x\n##JCAMP-DX=4.24\n##XYDATA=(X++(Y..Y))\nzz yy\n##END=\n"
    with pytest.raises(FormatError):
        read_scans(bad, "bad.jdx")


# --- dispatch ----------------------------------------------------------------------------

def test_unrecognised_format():
    with pytest.raises(FormatError, match="unrecognised format") as info:
        read_scans(b"\x89PNG\r\n\x1a\n\x00\x00", "image.png")
    assert info.value.path == "image.png"


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match="cannot read"):
        read_scans(tmp_path / "nope.xy")


def test_content_wins_over_suffix():
    assert read_scans(writers.raw4(), "named.xy")[0].format == "bruker_raw"
    assert read_scans((DATA / "neutron_esd.gda").read_bytes(), "x.raw")[0].format == "gsas"


def test_registry_and_suffixes():
    names = [r.name for r in list_readers()]
    assert names[-1] == "text" and {"xrdml", "bruker_raw", "brml", "gsas", "jcamp", "wdf", "opus", "spa"} <= set(names)
    assert {".xrdml", ".raw", ".brml", ".ras", ".rasx", ".fxye", ".jdx", ".xy", ".chi", ".wdf", ".spa", ".<n>"} <= set(
        SCAN_SUFFIXES)


def test_import_is_cheap():
    code = ("import sys, spectool.io.readers; heavy = {'scipy', 'pandas', 'pymatgen', 'torch', "
            "'jcamp', 'wdf', 'brukeropus'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_only_gsas_data_lists_its_folder_for_instrument_files(tmp_path, monkeypatch):
    import spectool.io.readers as readers

    calls = []
    real = readers._prm_beside
    monkeypatch.setattr(readers, "_prm_beside", lambda path: calls.append(path) or real(path))
    for name in ("simple.xy", "two_scans.xrdml", "two_blocks.ras"):
        shutil.copy(DATA / name, tmp_path / name)
        read_scans(tmp_path / name)
    assert calls == []  # a folder of 1,000 text scans was listed 1,000 times
    shutil.copy(DATA / "xray_std.gsa", tmp_path / "xray_std.gsa")
    shutil.copy(DATA / "xray_inst.prm", tmp_path / "xray_inst.prm")
    assert read_scans(tmp_path / "xray_std.gsa") and len(calls) == 1
