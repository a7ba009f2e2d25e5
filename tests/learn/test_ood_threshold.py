"""The OOD threshold is calibrated on held-out data and travels in the checkpoint."""

from __future__ import annotations

import numpy as np

from spectool.learn.inference import calibrated_threshold, reliability
from tests.conftest import run_cli
from tests.learn.synth_sets import peak_set


def test_threshold_is_the_5th_percentile_of_correct_predictions():
    r = np.linspace(0, 1, 101)
    correct = r >= 0.5
    assert calibrated_threshold(r, correct) == np.quantile(r[correct], 0.05)
    assert calibrated_threshold(r, np.zeros(101, bool)) is None


def test_reliability_mixes_similarity_and_probability():
    X = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    probs = np.array([[0.9, 0.1], [0.6, 0.4]], np.float32)
    means = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    r, s = reliability(X, probs, means)
    np.testing.assert_allclose(s, [1.0, 0.0])
    np.testing.assert_allclose(r, [0.7 + 0.3 * 0.9, 0.3 * 0.6], rtol=1e-6)
    assert reliability(X, probs, None)[1] is None


def test_train_test_stores_the_threshold_and_predict_uses_it(tmp_path):
    import json

    from spectool.io.checkpoint import read_header

    train = peak_set(tmp_path / "train.h5", n_classes=3, per_class=30, length=64)
    held = peak_set(tmp_path / "held.h5", n_classes=3, per_class=5, length=64, seed=1)
    model = tmp_path / "m.safetensors"
    res = run_cli("train", train, "--model", "cnn", "--arg", "channels=[4,4,8,8]", "--epochs", "6", "--batch-size", "16",
                  "--test", held, "-o", str(model), "-q")
    assert res.returncode == 0, res.stderr
    meta = read_header(model).meta["train"]
    assert meta["ood_threshold"] == meta["test"]["ood_threshold"] and 0 < meta["ood_threshold"] <= 1
    out = [json.loads(line) for line in run_cli("predict", "-m", str(model), "--json", held).stdout.splitlines()]
    assert all(r["ood"] == (r["reliability"] < meta["ood_threshold"]) for r in out)
