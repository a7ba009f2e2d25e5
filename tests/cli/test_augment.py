"""``spectool augment`` from the command line: copies, labels carried, seeds, workers, bad ranges."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from tests.cli.test_simulate import _write_cifs
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aug")
    cifs = _write_cifs(folder / "cifs")
    out = folder / "sim.h5"
    res = run_cli("simulate", *map(str, cifs), str(cifs[0]), "-o", str(out), "--label", "stem")
    assert res.returncode == 0, res.stderr
    return out


def _read(path):
    with h5py.File(path) as f:
        samples = f["entry/samples"]
        return {"X": f["entry/data/X"][:], "y": f["entry/labels/y"][:],
                "names": [n.decode() for n in f["entry/labels/names"][:]],
                "parent": samples["parent"][:] if "parent" in samples else None,
                "copy": samples["copy"][:] if "copy" in samples else None,
                "ids": [s.decode() for s in samples["id"][:]]}


def test_copies_carry_labels_and_parents(simulated, tmp_path):
    out = tmp_path / "aug.h5"
    res = run_cli("augment", str(simulated), "-n", "3", "--preset", "both", "--seed", "5", "-o", str(out))
    assert res.returncode == 0, res.stderr
    src, aug = _read(simulated), _read(out)
    assert aug["X"].shape == (18, src["X"].shape[1])
    np.testing.assert_array_equal(aug["parent"], np.repeat(np.arange(6), 3))
    np.testing.assert_array_equal(aug["copy"], np.tile(np.arange(3), 6))
    assert [aug["names"][k] for k in aug["y"]] == [src["names"][k] for k in np.repeat(src["y"], 3)]
    assert not np.allclose(aug["X"][0], aug["X"][1])  # copies differ
    assert np.all(np.isfinite(aug["X"]))


def test_every_row_has_its_own_id(simulated, tmp_path):
    """A copy's id is its parent's + ``~k``, a kept original keeps its id: predict --json and --output-dir
    name each row apart (copies that shared the parent's id gave duplicate paths and a refused output)."""
    out = tmp_path / "aug.h5"
    assert run_cli("augment", str(simulated), "-n", "2", "--keep-original", "--seed", "1", "-o", str(out)).returncode == 0
    src, aug = _read(simulated), _read(out)
    for parent in set(aug["parent"]):  # (the source set names one CIF twice: ids are unique per parent)
        ids = [i for i, p in zip(aug["ids"], aug["parent"]) if p == parent]
        assert len(set(ids)) == len(ids) == 3
    expected = [src["ids"][p] if c < 0 else f"{src['ids'][p]}~{c}" for p, c in zip(aug["parent"], aug["copy"])]
    assert aug["ids"] == expected


def test_same_seed_same_output_for_any_workers(simulated, tmp_path):
    a, b, c = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.h5"
    assert run_cli("augment", str(simulated), "-n", "2", "--preset", "physics", "--seed", "3", "-o", str(a)).returncode == 0
    assert run_cli("augment", str(simulated), "-n", "2", "--preset", "physics", "--seed", "3", "-j", "2",
                   "-o", str(b)).returncode == 0
    assert run_cli("augment", str(simulated), "-n", "2", "--preset", "physics", "--seed", "4", "-o", str(c)).returncode == 0
    np.testing.assert_array_equal(_read(a)["X"], _read(b)["X"])
    assert not np.array_equal(_read(a)["X"], _read(c)["X"])


def test_balance_gives_rare_labels_more_copies(simulated, tmp_path):
    out = tmp_path / "aug.h5"
    assert run_cli("augment", str(simulated), "-n", "2", "--balance", "-o", str(out)).returncode == 0
    aug = _read(out)
    counts = {aug["names"][k]: int(n) for k, n in zip(*np.unique(aug["y"], return_counts=True))}
    assert counts["CsCl"] == 4 and counts["NaCl"] == 4 and counts["Si"] == 4  # CsCl appears twice in the input


def test_stick_operations_need_stick_lists(simulated, tmp_path):
    plain = tmp_path / "plain.h5"
    assert run_cli("augment", str(simulated), "-n", "1", "--keep-original", "-o", str(plain)).returncode == 0
    res = run_cli("augment", str(plain), "--op", "strain", "-o", str(tmp_path / "x.h5"))
    assert res.returncode == 2 and b"strain" in res.stderr and b"stick" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--op", "peak_drop:p=1.5"], "p"), (["--op", "size:nm=-5:10"], "nm"), (["--preset", "wild"], "preset"),
    (["--op", "window:width=0.5:0.2"], "width"), (["--without", "nosuch"], "unknown"),
])
def test_impossible_ranges_are_usage_errors(simulated, tmp_path, args, message):
    res = run_cli("augment", str(simulated), *args, "-o", str(tmp_path / "x.h5"))
    assert res.returncode == 2 and message in res.stderr.decode().lower()
    assert not (tmp_path / "x.h5").exists()
