"""``spectool simulate`` and ``spectool merge`` from the command line, on real files and pipes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from tests.conftest import INTERRUPTED, ROOT, default_sigint, run_cli


def _write_cifs(folder):
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.cif import CifWriter

    folder.mkdir(parents=True, exist_ok=True)
    structures = {
        "NaCl": Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "Si": Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]]),
        "CsCl": Structure.from_spacegroup("Pm-3m", Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "TiO2": Structure.from_spacegroup("P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"],
                                          [[0, 0, 0], [0.3053, 0.3053, 0]]),
        "ZnO": Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(3.25, 5.207), ["Zn", "O"],
                                         [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]),
    }
    for name, structure in structures.items():
        CifWriter(structure).write_file(folder / f"{name}.cif")
    return sorted(folder.glob("*.cif"))


@pytest.fixture(scope="module")
def cifs(tmp_path_factory):
    return _write_cifs(tmp_path_factory.mktemp("cifs") / "cubic")


def _read(path):
    with h5py.File(path) as f:
        return {"X": f["entry/data/X"][:], "y": f["entry/labels/y"][:],
                "names": [n.decode() for n in f["entry/labels/names"][:]],
                "ids": [s.decode() for s in f["entry/samples/id"][:]],
                "two_theta": f["entry/peaks/two_theta"][:], "offsets": f["entry/peaks/offsets"][:],
                "hkl": f["entry/peaks/hkl"][:], "cell": f["entry/samples/cell"][:]}


def test_simulate_writes_patterns_sticks_and_labels(cifs, tmp_path):
    out = tmp_path / "sim.h5"
    result = run_cli("simulate", str(cifs[0].parent), "-o", str(out), "--label", "stem")
    assert result.returncode == 0, result.stderr
    data = _read(out)
    assert data["X"].shape == (5, 4251) and np.allclose(data["X"].max(axis=1), 1.0)
    assert data["names"] == ["CsCl", "NaCl", "Si", "TiO2", "ZnO"] and data["ids"] == data["names"]
    nacl = data["ids"].index("NaCl")
    lo, hi = data["offsets"][nacl], data["offsets"][nacl + 1]
    d200 = 5.64 / 2
    two_theta_200 = 2 * np.degrees(np.arcsin(1.54184 / (2 * d200)))
    assert np.min(np.abs(data["two_theta"][lo:hi] - two_theta_200)) < 1e-6
    np.testing.assert_allclose(data["cell"][nacl], [5.64, 5.64, 5.64, 90, 90, 90], atol=1e-6)


def test_workers_do_not_change_the_output(cifs, tmp_path):
    one, two = tmp_path / "one.h5", tmp_path / "two.h5"
    assert run_cli("simulate", *map(str, cifs), "-o", str(one)).returncode == 0
    assert run_cli("simulate", *map(str, cifs), "-o", str(two), "--workers", "2").returncode == 0
    a, b = _read(one), _read(two)
    for key in ("X", "y", "two_theta", "offsets", "hkl"):
        np.testing.assert_array_equal(a[key], b[key])


def test_shards_merged_equal_one_run(cifs, tmp_path):
    whole = tmp_path / "whole.h5"
    run_cli("simulate", *map(str, cifs), "-o", str(whole), "--label", "crystal-system")
    shards = []
    for i in range(3):
        shards.append(tmp_path / f"shard{i}.h5")
        res = run_cli("simulate", *map(str, cifs), "-o", str(shards[-1]), "--label", "crystal-system",
                      "--shard", f"{i}/3")
        assert res.returncode == 0, res.stderr
    merged = tmp_path / "merged.h5"
    assert run_cli("merge", *map(str, shards), "-o", str(merged)).returncode == 0
    a, b = _read(whole), _read(merged)
    assert [a["names"][k] for k in a["y"]] == [b["names"][k] for k in b["y"]]
    for key in ("X", "two_theta", "offsets", "hkl", "cell"):
        np.testing.assert_array_equal(a[key], b[key])


def test_bad_items_are_named_and_the_rest_written(cifs, tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("data_x\n_cell_length_a 5\nthis is not a cif\n")
    out = tmp_path / "sim.h5"
    res = run_cli("simulate", str(cifs[0]), str(bad), str(tmp_path / "missing.cif"), "-o", str(out))
    assert res.returncode == 1
    err = res.stderr.decode()
    assert f"spectool: error: {bad}" in err and "missing.cif: no such file" in err
    assert _read(out)["X"].shape[0] == 1


def test_nothing_usable_writes_nothing(tmp_path):
    bad = tmp_path / "bad.cif"
    bad.write_text("not a cif at all")
    out = tmp_path / "sim.h5"
    res = run_cli("simulate", str(bad), "-o", str(out))
    assert res.returncode == 2 and not out.exists()
    assert list(tmp_path.iterdir()) == [bad]


def test_no_reflection_in_range_is_reported(cifs, tmp_path):
    res = run_cli("simulate", str(cifs[0]), "--range", "0.1:1", "-o", str(tmp_path / "x.h5"))
    assert res.returncode == 2 and b"no reflection" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--range", "90:5"], "empty"), (["--radiation", "Unobtainium"], "radiation"),
    (["--shard", "3/3"], "shard"), (["--uvw", "1,2"], "uvw"), (["--profile", "square"], "shape"),
    (["--no-symmetry", "--label", "spacegroup"], "no-symmetry"),
])
def test_usage_errors_before_any_work(cifs, tmp_path, args, message):
    res = run_cli("simulate", str(cifs[0]), "-o", str(tmp_path / "x.h5"), *args)
    assert res.returncode == 2 and message in res.stderr.decode().lower()
    assert not (tmp_path / "x.h5").exists()


def test_no_symmetry_leaves_the_space_group_labels_empty(cifs, tmp_path):
    with_sg, without = tmp_path / "a.h5", tmp_path / "b.h5"
    assert run_cli("simulate", *map(str, cifs[:2]), "-o", str(with_sg), "-q").returncode == 0
    assert run_cli("simulate", *map(str, cifs[:2]), "-o", str(without), "-q", "--no-symmetry").returncode == 0
    with h5py.File(with_sg) as a, h5py.File(without) as b:
        assert a["entry/samples/spacegroup_number"][:].tolist() == [221, 225]
        assert b["entry/samples/spacegroup_number"][:].tolist() == [0, 0]
        np.testing.assert_array_equal(a["entry/data/X"][:], b["entry/data/X"][:])


def test_from_list_on_stdin_and_output_to_a_pipe(cifs):
    listing = "\n".join(map(str, cifs[:2])).encode()
    sim = subprocess.Popen([sys.executable, "-m", "spectool", "simulate", "--from-list", "-", "-o", "-", "-q"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    info = subprocess.Popen([sys.executable, "-m", "spectool", "info", "--json", "-"], stdin=sim.stdout,
                            stdout=subprocess.PIPE, cwd=ROOT)
    sim.stdin.write(listing)
    sim.stdin.close()
    sim.stdout.close()
    out = info.communicate(timeout=120)[0]
    assert sim.wait(60) == 0 and info.returncode == 0
    assert b'"n": 2' in out


def test_label_table_and_doublet(cifs, tmp_path):
    table = tmp_path / "labels.csv"
    table.write_text("id,label\nNaCl,rocksalt\nSi.cif,diamond\n")
    out = tmp_path / "sim.h5"
    res = run_cli("simulate", str(cifs[1]), str(cifs[2]), "--label", str(table), "--radiation", "CuKa12",
                  "--fwhm", "0.05", "-o", str(out))
    assert res.returncode == 0, res.stderr
    data = _read(out)
    assert [data["names"][k] for k in data["y"]] == ["rocksalt", "diamond"]
    grid = np.linspace(5, 90, 4251)
    nacl = data["X"][0]
    d = 5.64 / np.sqrt(4 + 4 + 4)  # (222)
    for wavelength in (1.54056, 1.54439):
        centre = 2 * np.degrees(np.arcsin(wavelength / (2 * d)))
        window = np.abs(grid - centre) < 0.03
        assert nacl[window].max() > 0.01, f"no peak at {centre:.3f}° for λ={wavelength}"


def test_ctrl_c_leaves_no_output(cifs, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(map(str, cifs * 4000)))  # ~20,000 patterns: tens of seconds if not stopped
    out = tmp_path / "sim.h5"
    proc = subprocess.Popen([sys.executable, "-m", "spectool", "simulate", "--from-list", str(listing), "-o",
                             str(out)], stderr=subprocess.PIPE, cwd=ROOT, preexec_fn=default_sigint)
    deadline = time.time() + 60  # interrupt once the output is being written (its temporary file exists)
    while time.time() < deadline and proc.poll() is None and len(list(tmp_path.iterdir())) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        stderr = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()  # never leave 20,000 patterns running behind a failed test
    assert proc.returncode in INTERRUPTED, stderr
    assert b"Traceback" not in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [listing]


def test_a_process_running_simulate_builds_only_that_command(tmp_path):
    """``spectool simulate`` imports no other command's module (start-up), ``spectool --help`` all of them."""
    probe = ("import sys\nfrom spectool.cli.main import main\nsys.argv = ['spectool'] + sys.argv[1:]\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('spectool.cli.') and m[13:] in "
             "('simulate', 'train', 'predict', 'info')), file=sys.stderr)\n")
    script = tmp_path / "probe.py"
    script.write_text(probe)
    run = lambda *args: subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,  # noqa: E731
                                       cwd=ROOT, timeout=120)
    alone = run("simulate", "--help")
    assert "--no-symmetry" in alone.stdout
    assert alone.stderr.strip().splitlines()[-1] == "['spectool.cli.simulate']"
    whole = run("--help")
    assert "simulate" in whole.stdout and "predict" in whole.stdout
    assert whole.stderr.strip().splitlines()[-1] == str(sorted(f"spectool.cli.{n}" for n in
                                                               ("info", "predict", "simulate", "train")))


def test_simulation_keeps_blas_on_one_thread():
    """Its matrix products are small: BLAS threads would only burn CPU time (~1.8x with two cores)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from spectool.cli.simulate import single_blas_thread

    with single_blas_thread():
        blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)


def test_a_command_run_in_process_by_another_gets_registered(tmp_path):
    """With only ``info`` built (its own process), ``run(['simulate', …])`` from inside it still works."""
    probe = ("import spectool.cli\nspectool.cli.ONLY_COMMAND = 'info'\n"
             "from spectool.cli.app import app, ensure_registered\n"
             "print(sorted(c.name for c in app.registered_commands))\n"
             "ensure_registered(['simulate', '-h'])\n"
             "print('simulate' in {c.name for c in app.registered_commands})\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.split("\n")[:2] == ["['info']", "True"], out.stderr


def test_stacking_auto_stacks_a_smectite_at_random_and_leaves_the_rest_ordered(tmp_path, cifs):
    """--stacking auto: a file named for a smectite gets Warren bands (intensity between its hkl lines, a band
    rising at the layer's 4.5 Å spacing); another structure is simulated as before; turbostratic on a cell
    without a rectangular layer is one clear line, and the batch goes on."""
    from spectool.fit.reference import structure_of
    from tests.xrd.test_turbostratic import clay_layer

    (tmp_path / "clays").mkdir()
    structure_of(clay_layer()).to(filename=str(tmp_path / "clays" / "montmorillonite.cif"))
    inputs = [str(tmp_path / "clays" / "montmorillonite.cif"), str(cifs[0])]
    for stacking in ("ordered", "auto"):
        result = run_cli("simulate", *inputs, "--stacking", stacking, "-o", str(tmp_path / f"{stacking}.h5"))
        assert result.returncode == 0
    ordered, auto = _read(tmp_path / "ordered.h5"), _read(tmp_path / "auto.h5")
    assert np.array_equal(ordered["X"][1], auto["X"][1])  # not a smectite: unchanged
    x = np.arange(5.0, 90.0 + 1e-9, 0.02)[: ordered["X"].shape[1]]
    band = (x > 20.0) & (x < 23.0)  # the 02,11 band's tail (onset 19.7° at b = 9.0 Å)
    assert (auto["X"][0][band] > 0.01).mean() > 0.9 and (ordered["X"][0][band] > 0.01).mean() < 0.5
    hexagonal = tmp_path / "clays" / "saponite.cif"
    from pymatgen.core import Lattice, Structure

    Structure(Lattice.hexagonal(5.3, 12.5), ["Mg", "O"], [[0, 0, 0.5], [1 / 3, 2 / 3, 0.6]]).to(filename=str(hexagonal))
    result = run_cli("simulate", str(hexagonal), str(cifs[0]), "--stacking", "turbostratic",
                     "-o", str(tmp_path / "t.h5"))
    assert result.returncode == 1 and len(_read(tmp_path / "t.h5")["ids"]) == 1
    assert "saponite.cif" in result.stderr.decode() and "rectangular layer cell" in result.stderr.decode()
