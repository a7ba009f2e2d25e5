"""``spectool explain``: sets and raw scans (recipe replayed), /entry/explain on the input axis, pictures."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from spectool.cli.main import run
from spectool.env import Env
from spectool.io.checkpoint import save_checkpoint
from spectool.io.groups import read_group
from spectool.spectra import Axis, Chunk, SetMeta
from spectool.io.sets import write_set
from spectool.models.registry import create_model, tiny_kwargs
from spectool.signal.recipe import Recipe

torch.set_num_threads(1)
AXIS = Axis(np.linspace(10, 59, 50))
LABELS = [f"c{i}" for i in range(5)]
RECIPE = Recipe.parse(["resample:start=10,stop=59,step=1", "normalize:method=max"]).to_json()


def save_tiny(path, name: str, recipe=RECIPE, seed: int = 0, **overrides):
    """A registry-tiny model (fixed seed) on AXIS saved as a checkpoint."""
    torch.manual_seed(seed)
    model = create_model(name, **{**tiny_kwargs(name), **overrides}).eval()
    save_checkpoint(path, model, labels=LABELS, input={"axis": AXIS, "kind": "xrd", "wavelength": 1.5406},
                    preprocess=recipe, train={"seed": seed})
    return path


def write_tiny_set(path, n: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 50), dtype=np.float32)
    samples = {"id": np.array([f"s{i}" for i in range(n)], object), "spacegroup": np.arange(n, dtype=np.int32)}
    write_set(str(path), SetMeta(axis=AXIS, kind="xrd", wavelength=1.5406), Chunk(X, samples=samples), Env(),
              labels=[LABELS[i % 5] for i in range(n)])
    return path, X


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("explain")
    save_tiny(d / "cnn.safetensors", "cnn1d")
    save_tiny(d / "vit.safetensors", "vit1d")
    write_tiny_set(d / "set.h5")
    return d


def test_cnn_maps_on_the_input_axis_with_rows_and_labels_carried(folder, tmp_path):
    out = tmp_path / "maps.h5"
    assert run(["explain", "-m", str(folder / "cnn.safetensors"), str(folder / "set.h5"), "-o", str(out), "-q"]) == 0
    maps, attrs = read_group(str(out), "explain")
    assert attrs["NX_class"] == "NXdata" and attrs["signal"] == "cam"
    assert maps["cam"].shape == maps["gradcam"].shape == (6, 50)
    np.testing.assert_array_equal(maps["axis"], AXIS.values)
    assert list(maps["classes"]) == LABELS and maps["target"].shape == (6,)
    np.testing.assert_array_equal(maps["target"], maps["predicted"])
    with h5py.File(out) as f:
        np.testing.assert_array_equal(f["entry/data/X"][:], write_tiny_set(tmp_path / "again.h5")[1])
        assert [s.decode() for s in f["entry/samples/id"][:]] == [f"s{i}" for i in range(6)]
        assert f["entry/labels/y"].shape == (6,)


def test_vit_attention_class_option_and_pictures(folder, tmp_path):
    out, png = tmp_path / "maps.h5", tmp_path / "png"
    code = run(["explain", "-m", str(folder / "vit.safetensors"), str(folder / "set.h5"), "-o", str(out),
                "--png", str(png), "--class", "c2", "--method", "all", "--window", "5", "-q"])
    assert code == 0
    maps, attrs = read_group(str(out), "explain")
    assert set(attrs["methods"]) == {"arm", "rollout", "occlusion"} and attrs["occlusion_window_points"] == 5
    assert (maps["target"] == 2).all() and list(set(maps["target_name"])) == ["c2"]
    assert maps["attention"].shape == (6, 2, 2, 7) and maps["patch_stop"][-1] == 50
    pictures = sorted(p.name for p in png.iterdir())
    assert len(pictures) == 12 and pictures[:2] == ["00000_s0.png", "00000_s0_heads.png"]
    import matplotlib.image

    image = matplotlib.image.imread(png / "00000_s0_heads.png")
    assert image.ndim == 3 and image.shape[0] > 100


def test_raw_scan_goes_through_the_checkpoints_recipe(folder, tmp_path):
    x = np.arange(5.0, 70.0, 0.05)
    scan = tmp_path / "scan.xy"
    scan.write_text("".join(f"{a:.3f} {100 * np.exp(-0.5 * ((a - 30) / 0.3) ** 2) + 5:.4f}\n" for a in x))
    out = tmp_path / "maps.h5"
    assert run(["explain", "-m", str(folder / "cnn.safetensors"), str(scan), "-o", str(out), "-q"]) == 0
    with h5py.File(out) as f:
        X = f["entry/data/X"][:]
    assert X.shape == (1, 50) and X.max() == pytest.approx(1.0)  # resampled onto the axis, normalised
    assert AXIS.values[int(X[0].argmax())] == pytest.approx(30.0)


def test_input_off_the_training_axis_is_refused_clearly(folder, tmp_path, capfd):
    model = save_tiny(tmp_path / "bare.safetensors", "cnn1d", recipe=None)
    other = tmp_path / "other.h5"
    write_set(str(other), SetMeta(axis=Axis(np.linspace(65, 80, 40))), Chunk(np.zeros((2, 40), np.float32)), Env())
    assert run(["explain", "-m", str(model), str(other), "-o", str(tmp_path / "m.h5")]) == 2
    err = capfd.readouterr().err
    assert "covers 0% of the model's 10–59 deg axis" in err
    assert not (tmp_path / "m.h5").exists()


def test_bad_options_are_usage_errors(folder, tmp_path):
    base = ["explain", "-m", str(folder / "vit.safetensors"), str(folder / "set.h5"), "-q"]
    assert run([*base, "-o", str(tmp_path / "m.h5"), "--method", "cam"]) == 2
    assert run([*base, "-o", str(tmp_path / "m.h5"), "--class", "nope"]) == 2
    assert run([*base, "-o", str(tmp_path / "m.npy")]) == 2
