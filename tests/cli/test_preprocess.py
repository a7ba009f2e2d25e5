"""``spectool preprocess`` on real scan files: steps in order, one axis, recipe recorded and replayable."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from spectool.env import Env
from spectool.io.spectra import iter_spectra
from spectool.signal.ops import Context
from spectool.signal.recipe import Recipe, history_steps
from tests.conftest import run_cli


def _scan(path, wavelength, two_theta_peaks, start=5.0, stop=80.0, step=0.01):
    x = np.arange(start, stop + step / 2, step)
    y = 50 + 30 * np.exp(-x / 40) + sum(1000 * np.exp(-0.5 * ((x - c) / 0.05) ** 2) for c in two_theta_peaks)
    header = f"# wavelength {wavelength} A\n" if wavelength else ""
    path.write_text(header + "# 2theta counts\n" + "".join(f"{a:.4f} {b:.3f}\n" for a, b in zip(x, y)))
    return path


@pytest.fixture
def scans(tmp_path):
    d_spacings = np.array([3.2, 2.5, 1.9])
    cu = 2 * np.degrees(np.arcsin(1.54056 / (2 * d_spacings)))
    mo = 2 * np.degrees(np.arcsin(0.70930 / (2 * d_spacings)))
    return {"cu": _scan(tmp_path / "cu.xy", 1.54056, cu), "mo": _scan(tmp_path / "mo.xy", 0.7093, mo, 3, 40),
            "bare": _scan(tmp_path / "bare.xy", None, cu), "peaks_cu": cu}


def _read(path):
    with h5py.File(path) as f:
        return (f["entry/data/X"][:], f["entry/data/axis"][:], [json.loads(h) for h in f["entry/history"][:]],
                [s.decode() for s in f["entry/samples/id"][:]])


def test_recipe_replayed_on_the_raw_scan_gives_the_same_array(scans, tmp_path):
    out = tmp_path / "pp.h5"
    res = run_cli("preprocess", str(scans["cu"]), "-s", "savgol:window=21,order=3", "-s", "baseline:method=snip",
                  "-s", "normalize:method=max", "--grid", "10:70:0.02", "-o", str(out))
    assert res.returncode == 0, res.stderr
    X, axis, history, _ = _read(out)
    assert X.shape == (1, 3001) and axis[0] == 10 and axis[-1] == pytest.approx(70)
    recipe = Recipe.from_json(history_steps(history))
    assert [step.name for step in recipe.steps] == ["savgol", "baseline", "normalize", "resample"]
    (_, item), = iter_spectra([str(scans["cu"])], Env())  # the scan as predict reads it
    (y,), replay_axis = recipe.apply(item.X, item.axis, Context(item.wavelength, item.laser_nm, item.kind))
    np.testing.assert_array_equal(y, X[0])
    np.testing.assert_array_equal(replay_axis.values, axis)


def test_mo_scan_onto_a_cu_grid_through_bragg(scans, tmp_path):
    out = tmp_path / "pp.h5"
    res = run_cli("preprocess", str(scans["mo"]), str(scans["cu"]), "-s", "bragg:to_wavelength=1.54056",
                  "--grid", "10:70:0.01", "-s", "normalize", "-o", str(out))
    assert res.returncode == 0, res.stderr
    X, axis, _, ids = _read(out)
    assert ids == ["mo", "cu"]
    for centre in scans["peaks_cu"]:
        window = np.abs(axis - centre) < 0.03
        assert X[0][window].max() > 0.5 and X[1][window].max() > 0.5
    with h5py.File(out) as f:  # the rows are now at the Cu wavelength, and say so
        assert f["entry/instrument/wavelength"][()] == pytest.approx(1.54056)
        np.testing.assert_allclose(f["entry/samples/wavelength"][:], 1.54056)


def test_a_set_keeps_its_radiation_unless_bragg_moves_it(tmp_path):
    from spectool.env import Env
    from spectool.spectra import Axis, Chunk, SetMeta
    from spectool.io.sets import create_set, open_set

    source = tmp_path / "mo.h5"
    meta = SetMeta(axis=Axis(np.linspace(5, 40, 351), "two_theta", "deg"), kind="xrd", wavelength=0.71073,
                   radiation="MoKa")
    with create_set(str(source), meta, Env()) as out:
        out.append(Chunk(np.random.default_rng(0).random((2, 351), dtype=np.float32)))
    for steps, wavelength, radiation in ((["-s", "normalize"], 0.71073, "MoKa"),
                                         (["-s", "bragg:to_wavelength=1.54056", "--grid", "10:80:0.1"],
                                          1.54056, None)):
        res = run_cli("preprocess", str(source), *steps, "-o", str(tmp_path / "pp.h5"))
        assert res.returncode == 0, res.stderr
        with open_set(str(tmp_path / "pp.h5"), Env()) as reader:
            assert (reader.meta.wavelength, reader.meta.radiation) == (pytest.approx(wavelength), radiation)


def test_a_scan_without_wavelength_is_named_and_skipped(scans, tmp_path):
    out = tmp_path / "pp.h5"
    res = run_cli("preprocess", str(scans["bare"]), str(scans["cu"]), "-s", "bragg", "--grid", "10:70:0.02",
                  "-o", str(out))
    assert res.returncode == 1
    assert f"spectool: error: {scans['bare']}" in res.stderr.decode()
    assert _read(out)[3] == ["cu"]
    res = run_cli("preprocess", str(scans["bare"]), "-s", "bragg", "--from-wavelength", "1.5406",
                  "--grid", "10:70:0.02", "-o", str(out))
    assert res.returncode == 0, res.stderr


def test_inputs_on_different_axes_need_a_resample(scans, tmp_path):
    out = tmp_path / "pp.h5"
    res = run_cli("preprocess", str(scans["cu"]), str(scans["mo"]), "-o", str(out))
    assert res.returncode == 1 and b"resample" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["-s", "savgol:window=4"], "window"), (["-s", "nosuchstep"], "unknown operation"),
    (["--grid", "10:5:1"], "grid"), (["-s", "noise"], "augment"),
])
def test_bad_steps_are_usage_errors(scans, tmp_path, args, message):
    res = run_cli("preprocess", str(scans["cu"]), *args, "-o", str(tmp_path / "x.h5"))
    assert res.returncode == 2 and message in res.stderr.decode().lower()
    assert not (tmp_path / "x.h5").exists()


def test_recipe_file_and_like(scans, tmp_path):
    recipe = tmp_path / "recipe.json"
    first = tmp_path / "first.h5"
    res = run_cli("preprocess", str(scans["cu"]), "-s", "baseline:method=snip", "--grid", "20:60:0.05",
                  "--save-recipe", str(recipe), "-o", str(first))
    assert res.returncode == 0, res.stderr
    again = tmp_path / "again.h5"
    res = run_cli("preprocess", str(scans["cu"]), "--recipe", str(recipe), "-o", str(again))
    assert res.returncode == 0
    np.testing.assert_array_equal(_read(first)[0], _read(again)[0])
    like = tmp_path / "like.h5"
    assert run_cli("preprocess", str(scans["mo"]), "--like", str(first), "-o", str(like)).returncode == 0
    np.testing.assert_array_equal(_read(like)[1], _read(first)[1])
