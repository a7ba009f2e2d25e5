"""Structure → spectrum from the command line: pairs (matched by stem, bad pairs named one line each),
train --task spectrum, predict with such a model on structure files and paired sets (--eval)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from tests.conftest import run_cli
from tests.graph import synth

ENERGY = np.arange(7090.0, 7180.0, 0.5)


def _xyz(atoms) -> str:
    lines = [f"{z} {x:.5f} {y:.5f} {w:.5f}" for z, (x, y, w) in zip(atoms.numbers, atoms.positions)]
    return f"{len(lines)}\nsynthetic\n" + "\n".join(lines) + "\n"


def _spectrum_text(y: np.ndarray, energy=ENERGY) -> str:
    """An FDMNES-like text file: the known function stretched over the edge at 7112 eV."""
    mu = np.interp(energy, 7112.0 + 55.0 * synth.GRID, y, left=0.0, right=float(y[-1]))
    return "    FDMNES\n    energy     <xanes>\n" + "".join(f"{e:10.2f} {m:.6e}\n" for e, m in zip(energy, mu))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    (root / "xyz").mkdir()
    (root / "xanes").mkdir()
    mols, Y = synth.pairs(24, seed=2)
    for i, (m, y) in enumerate(zip(mols, Y)):
        (root / "xyz" / f"m{i:02d}.xyz").write_text(_xyz(m))
        (root / "xanes" / f"m{i:02d}.txt").write_text(_spectrum_text(y))
    (root / "xanes" / "lonely.txt").write_text(_spectrum_text(Y[0]))  # no structure
    (root / "xyz" / "nospectrum.xyz").write_text(_xyz(mols[0]))  # no spectrum
    (root / "xyz" / "noiron.xyz").write_text("2\n\nO 0 0 0\nH 1 0 0\n")
    (root / "xanes" / "noiron.txt").write_text(_spectrum_text(Y[1]))
    (root / "xyz" / "alien.xyz").write_text("2\n\nFe 0 0 0\nXx 1 0 0\n")
    (root / "xanes" / "alien.txt").write_text(_spectrum_text(Y[2]))
    (root / "xanes" / "short.txt").write_text(_spectrum_text(Y[3], np.arange(7090.0, 7125.0, 0.5)))
    (root / "xyz" / "short.xyz").write_text(_xyz(mols[3]))
    return root


@pytest.fixture(scope="module")
def paired(folders):
    edge = run_cli("preprocess", str(folders / "xanes"), "-s", "edge:onset=Fe,width=20,step=1",
                   "-o", str(folders / "xanes.h5"))
    pairs = run_cli("pairs", str(folders / "xyz"), str(folders / "xanes.h5"), "--absorber", "Fe",
                    "-o", str(folders / "pairs.h5"))
    return edge, pairs, folders / "pairs.h5"


def test_a_spectrum_shorter_than_the_edge_window_is_one_line(paired):
    edge, _, _ = paired
    lines = edge.stderr.decode().splitlines()
    assert edge.returncode == 1
    assert [x for x in lines if "error" in x and "short.txt" in x and "shorter than the edge window" in x]


def test_pairs_names_each_bad_pair_on_one_line_and_writes_the_rest(paired):
    _, result, path = paired
    err = result.stderr.decode()
    assert result.returncode == 1
    assert "lonely: spectrum without a structure" in err
    assert "nospectrum.xyz: structure without a spectrum" in err
    assert "noiron.xyz: no Fe atom (the absorbing element)" in err
    assert "alien.xyz:4: unknown element 'Xx'" in err
    assert "Traceback" not in err
    with h5py.File(path) as f:
        ids = [s.decode() for s in f["entry/samples/id"][:]]
        assert ids == [f"m{i:02d}" for i in range(24)]
        assert f["entry/data/X"].shape == (24, 21)
        assert all(s.decode().endswith(".xyz") for s in f["entry/samples/structure"][:])


@pytest.fixture(scope="module")
def model(paired, folders):
    path = folders / "gat.safetensors"
    result = run_cli("train", str(paired[2]), "--task", "spectrum", "--model", "gat", "--epochs", "3",
                     "--arg", "hidden=8", "--arg", "layers=1", "--arg", "n_rbf=8", "--threads", "1",
                     "-o", str(path))
    assert result.returncode == 0, result.stderr.decode()
    return path, result


def test_train_writes_a_spectrum_checkpoint(model):
    path, result = model
    assert "val MAE" in result.stderr.decode()
    info = run_cli("info", "--json", str(path))
    row = json.loads(info.stdout)
    assert row["format"] == "gat" and row["points"] == 21


def test_predict_eval_prints_mae_and_r2_per_sample_and_overall(model, paired):
    result = run_cli("predict", "-m", str(model[0]), str(paired[2]), "--eval", "--json")
    assert result.returncode == 0, result.stderr.decode()
    rows = [json.loads(x) for x in result.stdout.decode().splitlines()]
    assert [r["id"] for r in rows] == [f"m{i:02d}" for i in range(24)] + ["overall"]
    assert all(np.isfinite(r["mae"]) and r["mae"] >= 0 and "r2" in r for r in rows)


def test_predict_on_structure_files_writes_the_spectra_and_names_bad_ones(model, folders, tmp_path):
    out = tmp_path / "pred.h5"
    result = run_cli("predict", "-m", str(model[0]), str(folders / "xyz" / "m00.xyz"),
                     str(folders / "xyz" / "noiron.xyz"), "-o", str(out))
    assert result.returncode == 1
    assert "noiron.xyz: no Fe atom" in result.stderr.decode()
    with h5py.File(out) as f:
        assert f["entry/data/X"].shape == (1, 21) and f["entry/samples/id"][0].decode() == "m00"
        np.testing.assert_allclose(f["entry/data/axis"][:], 7112.0 + np.arange(21.0))


def test_train_refuses_a_classifier_for_the_spectrum_task(paired, tmp_path):
    result = run_cli("train", str(paired[2]), "--task", "spectrum", "--model", "cnn", "-o", str(tmp_path / "m.safetensors"))
    assert result.returncode == 2 and "needs a structure → spectrum model" in result.stderr.decode()


def test_explain_tabulates_attention_per_neighbour_and_head_and_draws_each_site(model, folders, tmp_path):
    result = run_cli("explain", "-m", str(model[0]), str(folders / "xyz" / "m01.xyz"), "--png", str(tmp_path / "png"))
    assert result.returncode == 0, result.stderr.decode()
    header, *lines = [line.split("\t") for line in result.stdout.decode().splitlines()]
    rows = [{k: (v if k in ("id", "element") else float(v)) for k, v in zip(header, line)} for line in lines]
    assert rows and {"element", "distance", "head1", "head2", "head3", "mean"} <= set(rows[0])
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert abs(sum(r["head1"] for r in rows) - 1.0) < 1e-4  # over the real neighbours
    assert (tmp_path / "png" / "m01_site0.png").stat().st_size > 1000


def test_explain_neurons_reports_each_group_with_its_best_descriptor(model, paired):
    result = run_cli("explain", "-m", str(model[0]), str(paired[2]), "--neurons", "3")
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    start = lines.index("group\tneurons\tsamples\tdescriptor\td\tresponders\tothers")
    groups = [line.split("\t") for line in lines[start + 1:]]
    assert 1 <= len(groups) <= 3 and sum(int(g[1]) for g in groups) <= 16  # hidden=8: 16 features
    assert all(g[3] in ("coordination", "shell_distance", "nearest", "mean_distance") or g[3].startswith("shell_")
               for g in groups)


def test_embed_writes_graph_embeddings_that_ward_clusters(model, paired, tmp_path):
    feats = tmp_path / "emb.h5"
    result = run_cli("embed", "-m", str(model[0]), str(paired[2]), "-o", str(feats))
    assert result.returncode == 0, result.stderr.decode()
    with h5py.File(feats) as f:
        assert f["entry/data/X"].shape[0] == 24 and np.isfinite(f["entry/data/X"][:]).all()
        assert f["entry/samples/id"][0].decode() == "m00"
    clustered = run_cli("cluster", str(feats), "--method", "ward", "--png", str(tmp_path / "c.png"),
                        "-o", str(tmp_path / "c.h5"))
    assert clustered.returncode == 0, clustered.stderr.decode()
    assert (tmp_path / "c_dendrogram.png").exists()


def test_the_line_graph_model_trains_and_predicts_from_the_same_pairs(paired, tmp_path):
    path = tmp_path / "alignn.safetensors"
    result = run_cli("train", str(paired[2]), "--task", "spectrum", "--model", "alignn", "--epochs", "1",
                     "--arg", "hidden=8", "--arg", "layers=1", "--arg", "n_rbf=8", "--arg", "k=4",
                     "--threads", "1", "-o", str(path))
    assert result.returncode == 0, result.stderr.decode()
    evaluated = run_cli("predict", "-m", str(path), str(paired[2]), "--eval")
    assert evaluated.returncode == 0 and evaluated.stdout.decode().splitlines()[-1].startswith("overall")
    explained = run_cli("explain", "-m", str(path), str(paired[2]))
    assert explained.returncode == 2 and "no attention to show" in explained.stderr.decode()
