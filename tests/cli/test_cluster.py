"""``spectool embed`` and ``spectool cluster``: features sets, /entry/clusters, groups file, pictures, pipes."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from spectool.cli.main import run
from spectool.env import Env
from spectool.io.groups import read_group
from spectool.spectra import Axis, Chunk, SetMeta
from spectool.io.sets import write_set
from tests.cli.test_explain import save_tiny, write_tiny_set
from tests.conftest import run_cli

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("embed")
    save_tiny(d / "vit.safetensors", "vit1d")
    write_tiny_set(d / "set.h5", n=10)
    return d


@pytest.fixture(scope="module")
def blobs_set(tmp_path_factory):
    """Three classes of patterns: one Gaussian peak each (at 15, 30, 45), 12 noisy copies per class."""
    path = tmp_path_factory.mktemp("blobs") / "blobs.h5"
    rng = np.random.default_rng(0)
    axis = np.linspace(10, 59, 50)
    X = np.vstack([np.exp(-0.5 * ((axis - c) / 2) ** 2) + 0.05 * rng.random((12, 50)) for c in (15, 30, 45)])
    labels = [name for name in ("a", "b", "c") for _ in range(12)]
    write_set(str(path), SetMeta(axis=Axis(axis)), Chunk(X.astype(np.float32)), Env(), labels=labels)
    return path


def test_embed_model_features_carry_labels_and_samples(folder, tmp_path):
    out = tmp_path / "f.h5"
    assert run(["embed", "-m", str(folder / "vit.safetensors"), str(folder / "set.h5"), "-o", str(out), "-q"]) == 0
    with h5py.File(out) as f:
        assert f["entry/data/X"].shape == (10, 16)
        assert f["entry/data/axis"].attrs["quantity"] == "index"
        assert f["entry/labels/y"][:].tolist() == [0, 1, 2, 3, 4] * 2
        assert [s.decode() for s in f["entry/samples/id"][:3]] == ["s0", "s1", "s2"]
    _, attrs = read_group(str(out), "embedding")
    assert attrs["source"] == "model" and attrs["model"] == "vit1d"


def test_embed_raw_is_pca_and_needs_no_model(folder, tmp_path):
    out = tmp_path / "raw.h5"
    assert run(["embed", "--raw", str(folder / "set.h5"), "--components", "4", "-o", str(out), "-q"]) == 0
    data, attrs = read_group(str(out), "embedding")
    assert attrs["source"] == "raw-pca" and data["explained_variance_ratio"].shape == (4,)
    assert run(["embed", str(folder / "set.h5"), "-o", str(out)]) == 2  # neither --model nor --raw


def test_cluster_recovers_classes_writes_groups_and_pictures(blobs_set, tmp_path, capfd):
    out, png, groups = tmp_path / "c.h5", tmp_path / "map.png", tmp_path / "groups.json"
    code = run(["cluster", str(blobs_set), "-o", str(out), "--png", str(png), "--project", "pca",
                "--method", "dbscan", "--method", "ward", "--method", "kmeans", "--method", "affinity",
                "--group-classes", "2", "--groups", str(groups), "--top", "3", "--json"])
    assert code == 0
    rows = {r["method"]: r for r in map(json.loads, capfd.readouterr().out.splitlines())}
    assert rows["ward"]["ari"] > 0.9 and rows["kmeans"]["ari"] > 0.9 and rows["labels"]["silhouette"] > 0.5
    data, attrs = read_group(str(out), "clusters")
    assert data["projection"].shape == (36, 2) and data["ward_linkage"].shape == (35, 4)
    assert data["isolated"].shape == (3,) and "dbscan_eps" in attrs
    document = json.loads(groups.read_text())
    assert list(document) == ["groups"]  # the format train --groups reads: {"groups": [[label, …], …]}
    written = document["groups"]
    assert sorted(sum(written, [])) == ["a", "b", "c"] and len(written) == 2
    import matplotlib.image

    for picture in (png, tmp_path / "map_dendrogram.png"):
        assert matplotlib.image.imread(picture).shape[0] > 100


def test_embed_into_cluster_through_a_real_pipe(folder):
    embed = run_cli("embed", "-m", str(folder / "vit.safetensors"), str(folder / "set.h5"), "-o", "-", "-q")
    assert embed.returncode == 0, embed.stderr
    res = run_cli("cluster", "-", "-o", "-", "--project", "pca", "--method", "kmeans", "-q", stdin=embed.stdout)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(b"\x89HDF")


def test_cluster_usage_errors(blobs_set, tmp_path):
    assert run(["cluster", str(blobs_set), "-o", str(tmp_path / "c.h5"), "--method", "spectral"]) == 2
    assert run(["cluster", str(blobs_set), "-o", str(tmp_path / "c.h5"), "--group-classes", "9",
                "--groups", str(tmp_path / "g.json")]) == 2
