"""IR and Raman text: a real RRUFF file (trimmed; NOTICE) and two-column exports in cm⁻¹, nm or µm,
transmittance or absorbance, ascending or descending."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectool.io.readers import read_scans

RRUFF = Path(__file__).parents[2] / "data" / "scans" / \
    "Kyanite__R040119__Raman__532__0__unoriented__Raman_Data_Processed__19710.txt"


def test_a_real_rruff_raman_file_names_its_mineral_and_laser():
    (scan,) = read_scans(RRUFF)
    assert (scan.quantity, scan.units, scan.kind) == ("raman_shift", "1/cm", "raman")
    assert scan.meta["laser_nm"] == 532.0  # only in the file name
    assert scan.meta["sample"] == "Kyanite" and scan.meta["rruff_id"] == "R040119"
    assert scan.meta["formula"] == "Al_2_OSiO_4_" and not scan.meta.get("axis_guessed")
    assert "signal" not in scan.meta  # "Rutherford County" is not a count
    assert len(scan) == 61 and scan.x[0] == pytest.approx(152.5545)


def test_the_laser_reaches_the_spectra_the_recipes_see():
    from spectool.env import Env
    from spectool.io.spectra import iter_spectra

    ((_, item),) = list(iter_spectra([str(RRUFF)], Env()))
    assert item.kind == "raman" and item.laser_nm == 532.0


def test_a_rruff_infrared_file_is_ftir(tmp_path):
    path = tmp_path / "Quartz__R040031__Infrared__Infrared_Data_Processed__1.txt"
    path.write_text("##NAMES=Quartz\n##RRUFFID=R040031\n" + "".join(f"{x}, {0.5 + x / 1e4}\n" for x in (400, 800, 1200))
                    + "##END=\n")
    (scan,) = read_scans(path)
    assert (scan.quantity, scan.kind) == ("wavenumber", "ftir") and "laser_nm" not in scan.meta


def _write(path: Path, header: str, x: np.ndarray, y: np.ndarray, sep: str = ",") -> Path:
    path.write_text(header + "".join(f"{a:.6g}{sep}{b:.6g}\n" for a, b in zip(x, y)))
    return path


@pytest.mark.parametrize("header, x, quantity, units, kind, signal", [
    ("wavenumber (cm-1),%T\n", np.linspace(4000, 600, 50), "wavenumber", "1/cm", "ftir", "transmittance"),
    ("Wavenumber [cm^-1]\tAbsorbance\n", np.linspace(600, 4000, 50), "wavenumber", "1/cm", "ftir", "absorbance"),
    ("wavelength (um),transmittance\n", np.linspace(2.5, 16.0, 50), "wavelength", "um", "ftir", "transmittance"),
    ("Wavelength (µm);Absorbance\n", np.linspace(16.0, 2.5, 50), "wavelength", "um", "ftir", "absorbance"),
    ("wavelength nm,absorbance\n", np.linspace(2500, 16000, 50), "wavelength", "nm", "ftir", "absorbance"),
    ("wavelength nm,absorbance\n", np.linspace(200, 800, 50), "wavelength", "nm", "other", "absorbance"),
], ids=["cm-1 desc %T", "cm-1 asc A", "um asc T", "um desc A", "nm mid-IR", "nm UV-Vis"])
def test_two_column_ir_exports(tmp_path, header, x, quantity, units, kind, signal):
    sep = "\t" if "\t" in header else ";" if ";" in header else ","
    y = 50 + 40 * np.cos(x / x.max() * 7)
    (scan,) = read_scans(_write(tmp_path / "ir.csv", header, x, y, sep))
    assert (scan.quantity, scan.units, scan.kind, scan.meta.get("signal")) == (quantity, units, kind, signal)
    assert np.all(np.diff(scan.x) > 0)
    order = np.argsort(x)
    np.testing.assert_allclose(scan.y, y[order], rtol=1e-5)
    assert scan.meta.get("descending", False) == bool(x[0] > x[-1])
