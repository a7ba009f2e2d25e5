"""What a checkpoint's recipe is made of: the training set's preprocess history plus --scan-step."""

from __future__ import annotations

from spectool.io.checkpoint import read_header
from tests.conftest import run_cli
from tests.learn.synth_sets import peak_patterns, write_set


def _set(path, steps):
    X, labels = peak_patterns(n_classes=2, per_class=10, length=32)
    return write_set(path, X, labels, [{"command": "preprocess", "params": {"recipe": {"steps": steps}}}])


def test_scan_steps_follow_the_sets_own_recipe(tmp_path):
    data = _set(tmp_path / "s.h5", [{"op": "normalize", "method": "max"}])
    out = tmp_path / "m.safetensors"
    res = run_cli("train", data, "--model", "knn", "--scan-step", "baseline:method=snip", "-o", str(out), "-q")
    assert res.returncode == 0, res.stderr
    steps = read_header(out).meta["preprocess"]["steps"]
    assert [s["op"] for s in steps] == ["normalize", "baseline"] and steps[1]["method"] == "snip"


def test_a_recipe_predict_could_not_replay_is_refused(tmp_path):
    data = _set(tmp_path / "s.h5", [{"op": "normalize", "mode": "max"}])
    res = run_cli("train", data, "--model", "knn", "-o", str(tmp_path / "m.safetensors"))
    assert res.returncode == 2 and f"{data}: its history holds a preprocess step".encode() in res.stderr
    assert not (tmp_path / "m.safetensors").exists()
