"""IR and Raman end to end: ``preprocess --recipe raman`` on a real RRUFF file and a real Renishaw map,
``--recipe ftir`` on OMNIC and OPUS files past a truncated one, ``train --init`` of an XRD ViT
on a spectrum of another length (its architecture inherited, ``--pos-embed relearn``, ``--freeze-blocks``),
and ``predict`` refusing an XRD scan before an IR model and a Raman scan before an XRD model, in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from spectool.env import Env
from spectool.io.checkpoint import load_checkpoint
from spectool.io.sets import open_set, write_set
from spectool.spectra import Axis, Chunk, SetMeta
from tests.conftest import run_cli
from tests.learn.synth_sets import peak_patterns
from tests.learn.synth_sets import write_set as write_xrd_set

SCANS = Path(__file__).parents[1] / "data" / "scans"
RRUFF = SCANS / "Kyanite__R040119__Raman__532__0__unoriented__Raman_Data_Processed__19710.txt"
FAST = ["--threads", "1", "-b", "16", "--seed", "1", "--epochs", "2", "-q"]
TINY_VIT = ["-m", "vit", "--patch", "8", "--dim", "16", "--depth", "2", "--heads", "2"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("ir")
    X, labels = peak_patterns(3, 12, length=64)
    xrd = write_xrd_set(d / "xrd.h5", X, labels)
    assert run_cli("train", xrd, *TINY_VIT, *FAST, "-o", str(d / "xrd.safetensors")).returncode == 0
    X, labels = peak_patterns(2, 12, length=100, prefix="p")
    meta = SetMeta(axis=Axis(np.linspace(700, 3500, 100), "wavenumber", "1/cm"), kind="ftir", label_names=["p0", "p1"])
    write_set(str(d / "ir.h5"), meta, Chunk(X, np.array([int(t[1:]) for t in labels], np.int32)), Env())
    res = run_cli("train", str(d / "ir.h5"), "-m", "vit", "--init", str(d / "xrd.safetensors"), "--pos-embed", "relearn",
                  "--freeze-blocks", "1", *FAST, "-o", str(d / "ir.safetensors"))
    assert res.returncode == 0, res.stderr
    return d


def test_an_xrd_vit_initialises_an_ir_model_of_another_length(models):
    xrd, ir = load_checkpoint(models / "xrd.safetensors"), load_checkpoint(models / "ir.safetensors")
    assert ir.input["kind"] == "ftir" and ir.model.input_length == 100 and ir.model.num_patches == 13
    assert {k: ir.model.config[k] for k in ("patch", "dim", "depth", "heads")} == \
        {"patch": 8, "dim": 16, "depth": 2, "heads": 2}  # the checkpoint's, not the defaults
    init = ir.train["init"]
    assert init["relearned"] == ["pos_embed"] and init["pos_embed"] == "relearn" and init["frozen"] > 0
    a, b = xrd.model.state_dict(), ir.model.state_dict()
    assert torch.equal(a["blocks.0.attn.qkv.weight"], b["blocks.0.attn.qkv.weight"])  # frozen
    assert not torch.equal(a["blocks.1.attn.qkv.weight"], b["blocks.1.attn.qkv.weight"])  # trained


def test_freeze_blocks_needs_init(models):
    res = run_cli("train", str(models / "ir.h5"), *TINY_VIT, "--freeze-blocks", "1", *FAST, "-o",
                  str(models / "x.safetensors"))
    assert res.returncode == 2 and b"--freeze-blocks need --init" in res.stderr


@pytest.mark.parametrize("model, scan, words", [
    ("ir.safetensors", SCANS / "simple.xy", ["is a xrd spectrum on a two_theta axis in deg", "ftir spectra on a wavenumber"]),
    ("xrd.safetensors", RRUFF, ["is a raman spectrum on a raman_shift axis in 1/cm", "xrd spectra on a two_theta"]),
], ids=["xrd scan, IR model", "raman scan, XRD model"])
def test_predict_refuses_a_scan_of_another_modality_in_one_line(models, model, scan, words):
    res = run_cli("predict", "-m", str(models / model), str(scan))
    err = res.stderr.decode().strip().splitlines()
    assert res.returncode == 2 and len(err) == 2, err  # the scan's line, then "no usable input"
    assert err[0].startswith(f"spectool: error: {scan}: ") and all(w in err[0] for w in words)


def test_preprocess_recipe_raman_on_a_real_rruff_file(tmp_path):
    out = tmp_path / "r.h5"
    res = run_cli("preprocess", "--recipe", "raman", str(RRUFF), "-o", str(out), "-q")
    assert res.returncode == 0, res.stderr
    with open_set(str(out), Env()) as reader:
        meta, X = reader.meta, np.concatenate([c.X for c in reader.iter_chunks()])
    assert (meta.kind, meta.axis.quantity, len(meta.axis)) == ("raman", "raman_shift", 1701)
    assert X.max() == pytest.approx(1) and X.min() == pytest.approx(0)
    bad = run_cli("preprocess", "--recipe", "nmr", str(RRUFF), "-o", str(tmp_path / "x.h5"))
    assert bad.returncode == 2 and b"named recipes: ftir, raman" in bad.stderr


def _set(path: Path) -> tuple[SetMeta, np.ndarray]:
    with open_set(str(path), Env()) as reader:
        return reader.meta, np.concatenate([c.X for c in reader.iter_chunks()])


def test_preprocess_recipe_raman_on_a_real_renishaw_map(tmp_path):
    out = tmp_path / "si.h5"
    res = run_cli("preprocess", "--recipe", "raman", str(SCANS / "Si-map.wdf"), "-o", str(out), "-q")
    assert res.returncode == 0, res.stderr
    meta, X = _set(out)
    assert (meta.kind, meta.axis.quantity, X.shape) == ("raman", "raman_shift", (88, 1701))
    lines = meta.axis.values[np.argmax(X, axis=1)]
    assert np.all(np.abs(lines - 520.0) <= 2.0)  # the silicon line, map point by map point


def test_preprocess_recipe_ftir_on_spa_and_opus_files_past_a_truncated_one(tmp_path):
    from tests.io.readers import writers

    x = np.linspace(4000, 400, 1801)
    y = 0.1 + np.exp(-((x - 1600) / 20) ** 2)
    whole = writers.spa(y=y, first=4000.0, last=400.0)
    (tmp_path / "film.spa").write_bytes(whole)
    (tmp_path / "cut.spa").write_bytes(whole[:len(whole) // 2])
    (tmp_path / "film.0").write_bytes(writers.opus(y=y, fxv=4000.0, lxv=400.0))
    out = tmp_path / "ir.h5"
    res = run_cli("preprocess", "--recipe", "ftir", str(tmp_path / "film.spa"), str(tmp_path / "cut.spa"),
                  str(tmp_path / "film.0"), "-o", str(out), "-q")
    err = res.stderr.decode().strip().splitlines()
    assert res.returncode == 1 and err[0].startswith(f"spectool: error: {tmp_path / 'cut.spa'}: file is truncated")
    meta, X = _set(out)
    assert (meta.kind, meta.axis.quantity, X.shape) == ("ftir", "wavenumber", (2, 1401))
    np.testing.assert_allclose(meta.axis.values[np.argmax(X, axis=1)], [1600, 1600])
