"""``spectool train`` end to end: networks learn, classical round trip, Ctrl-C + --resume, --init/--freeze,
unions, bad input (one line, exit 2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from spectool.io.checkpoint import load_checkpoint, read_header
from tests.conftest import INTERRUPTED, ROOT, default_sigint, run_cli
from tests.learn.synth_sets import peak_patterns, peak_set, write_set

FAST = ["--threads", "1", "-b", "16", "--seed", "1"]
NETS = {"vit": ["--patch", "8", "--dim", "16", "--depth", "2", "--heads", "2", "--lr", "3e-3"],
        "cnn": ["--arg", "channels=[8,8,16,16]", "--arg", "kernel_size=5"],
        "resnet": ["--width", "8", "--arg", "stages=[1,1]", "--arg", "kernel_size=5"]}


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    X, labels = peak_patterns(4, 30)
    history = [{"command": "preprocess", "params": {"recipe": {"steps": [{"op": "normalize", "method": "max"}]}}}]
    return {"dir": d, "s": write_set(d / "s.h5", X, labels, history),
            "new": peak_set(d / "new.h5", n_classes=2, per_class=30, prefix="d", seed=3)}


def _predict(path, X):
    ckpt = load_checkpoint(path)
    with torch.no_grad():
        return ckpt, ckpt.model(torch.as_tensor(X)).argmax(1).numpy()


@pytest.mark.parametrize("name", ["vit", "cnn", "resnet"])
def test_networks_learn_and_store_everything(sets, name, tmp_path):
    out, log = tmp_path / "m.safetensors", tmp_path / "m.jsonl"
    res = run_cli("train", sets["s"], "-m", name, *NETS[name], *FAST, "--epochs", "20", "--patience", "0",
                  "-o", str(out), "--log", str(log), *(["--aug-op", "shift:delta=-0.5:0.5"] if name == "vit" else []))
    assert res.returncode == 0, res.stderr
    X, labels = peak_patterns(4, 30)
    ckpt, pred = _predict(out, X)
    assert np.mean(np.array(ckpt.labels)[pred] == np.array(labels)) > 0.6  # chance 0.25
    train = ckpt.train
    assert {"seed", "data", "argv", "metrics", "best_epoch", "val", "time_s", "parameters", "config"} <= set(train)
    assert train["val"]["top1"] > 0.6 and set(train["val"]) == {"loss", "top1", "top3", "top5"}
    assert len(log.read_text().splitlines()) == len(train["metrics"]) == train["epochs_run"]
    assert train["data"][0]["sha256"] and ckpt.preprocess["steps"] == [{"op": "normalize", "method": "max"}]
    assert ckpt.input["kind"] == "xrd" and ckpt.labels == ["c0", "c1", "c2", "c3"]
    assert "class_means" in ckpt.tensors  # every network keeps them for predict's reliability
    assert not (tmp_path / "m.state.safetensors").exists()  # the default state goes once finished


@pytest.mark.parametrize("name", ["knn", "logreg", "nb"])
def test_classical_baselines_round_trip(sets, name, tmp_path):
    out = tmp_path / "c.safetensors"
    res = run_cli("train", sets["s"], "-m", name, "-o", str(out), "--seed", "2")
    assert res.returncode == 0, res.stderr
    X, labels = peak_patterns(4, 30)
    ckpt, pred = _predict(out, X)
    assert np.mean(np.array(ckpt.labels)[pred] == np.array(labels)) > 0.9
    assert ckpt.train["val"]["top1"] > 0.9
    raw = open(out, "rb").read()
    assert b"pickle" not in raw and b"sklearn" not in raw[:4096]


def test_ctrl_c_leaves_a_state_and_resume_matches(sets, tmp_path):
    # enough epochs that the run is still going, even on a loaded machine, when SIGINT arrives after epoch 1
    args = ["train", sets["s"], "-m", "cnn", *NETS["cnn"], *FAST, "--epochs", "80", "--patience", "0"]
    whole = tmp_path / "whole.safetensors"
    assert run_cli(*args, "-o", str(whole)).returncode == 0
    out = tmp_path / "m.safetensors"
    state = tmp_path / "m.state.safetensors"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "spectool", *args, "-o", str(out)], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    deadline = time.time() + 60
    while time.time() < deadline and "epoch 1 " not in (proc.stderr.readline() or "x"):
        pass
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in INTERRUPTED, err
    assert "--resume" in err and "Traceback" not in err and state.exists() and not out.exists()
    hint = err.split("continue with: ")[1].splitlines()[0].split()  # the hint works as printed: the state knows SET and -o
    assert hint[:3] == ["spectool", "train", "--resume"]
    res = run_cli(*hint[1:], "--threads", "1", "--lr", "0.5", cwd=ROOT.parent)  # --lr: the state's wins
    assert res.returncode == 0, res.stderr
    assert "ignored: --lr" in res.stderr.decode()
    a, b = load_checkpoint(whole), load_checkpoint(out)
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    assert b.train["resumed_from"] == str(state)


def test_init_and_freeze_train_only_the_head(sets, tmp_path):
    base = tmp_path / "base.safetensors"
    assert run_cli("train", sets["s"], "-m", "cnn", *NETS["cnn"], *FAST, "--epochs", "3", "-o", str(base)).returncode == 0
    out = tmp_path / "ft.safetensors"
    res = run_cli("train", sets["new"], "-m", "cnn", *NETS["cnn"], *FAST, "--epochs", "3", "--init", str(base),
                  "--freeze", "-o", str(out))
    assert res.returncode == 0, res.stderr
    a, b = load_checkpoint(base), load_checkpoint(out)
    assert b.labels == ["d0", "d1"] and b.train["init"]["head"] == "new" and b.train["init"]["frozen"] > 0
    sa, sb = a.model.state_dict(), b.model.state_dict()
    for key in sb:
        assert torch.equal(sa[key], sb[key]) != key.startswith("classifier"), key


def test_union_over_groups_then_add_a_member(sets, tmp_path):
    groups = tmp_path / "g.json"
    groups.write_text(json.dumps({"a": ["c0", "c1"], "b": ["c2", "c3"]}))
    union = tmp_path / "u.safetensors"
    member = ["--width", "4", "--arg", "stages=[1]", "--epochs", "3", *FAST]
    res = run_cli("train", sets["s"], "-m", "union", "--groups", str(groups), *member, "-o", str(union))
    assert res.returncode == 0, res.stderr
    res = run_cli("train", sets["new"], "-m", "union", "--add-to", str(union), *member, "-o", str(tmp_path / "u2.safetensors"))
    assert res.returncode == 0, res.stderr
    u1, u2 = load_checkpoint(union), load_checkpoint(tmp_path / "u2.safetensors")
    assert u2.labels == u1.labels + ["d0", "d1"] and len(u2.model.members) == 3
    for key, value in u1.model.members.state_dict().items():
        assert torch.equal(value, u2.model.members.state_dict()[key])  # the old members untouched
    assert u2.model.class_means.shape == (6, 64) and u2.model.class_means[4:].abs().sum() > 0


@pytest.mark.parametrize("case", ["unlabelled", "one_class", "init_not_ours", "resume_a_model", "unknown_arg"])
def test_bad_input_one_line_exit_2(sets, case, tmp_path):
    d = sets["dir"]
    X, labels = peak_patterns(2, 5)
    spec = {"unlabelled": lambda: [write_set(tmp_path / "u.h5", X, None)],
            "one_class": lambda: [write_set(tmp_path / "o.h5", X, ["x"] * len(X))],
            "init_not_ours": lambda: [sets["s"], "--init", sets["s"]],
            "resume_a_model": lambda: [sets["s"], "--resume", _any_model(d)],
            "unknown_arg": lambda: [sets["s"], "-m", "cnn", "--patch", "8"]}[case]()
    res = run_cli("train", *spec, "-o", str(tmp_path / "x.safetensors"), "--threads", "1")
    assert res.returncode == 2, res.stderr
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spectool: error:"), lines


def _any_model(d) -> str:
    path = d / "knn.safetensors"
    if not path.exists():
        assert run_cli("train", str(d / "s.h5"), "-m", "knn", "-o", str(path)).returncode == 0
    read_header(path)
    return str(path)


def test_options_a_resume_ignores_are_named():
    from spectool.cli.train import ignored_on_resume

    assert ignored_on_resume({"epochs", "lr", "log", "threads", "output", "aug_op"}) == ["--epochs", "--lr", "--aug-op"]


@pytest.mark.parametrize("parents_per_class", [3, 1])
def test_validation_is_split_by_parent(tmp_path, parents_per_class):
    X, labels = peak_patterns(4, 12)
    parent = np.arange(len(X)) // (12 // parents_per_class)  # augment's column: the source row of each copy
    path = write_set(tmp_path / "aug.h5", X, labels, samples={"parent": parent})
    out = tmp_path / "k.safetensors"
    res = run_cli("train", path, "-m", "knn", "-o", str(out))
    err = res.stderr.decode()
    if parents_per_class == 1:  # nothing to hold out without cutting a structure in two: say so, exit 2
        assert res.returncode == 2 and len(err.strip().splitlines()) == 1 and "--split rows" in err, err
        res = run_cli("train", path, "-m", "knn", "--split", "rows", "-o", str(out))
        assert res.returncode == 0 and "measures memorisation" in res.stderr.decode()
        assert load_checkpoint(out).train["split"] == {"by": "rows", "parents": True}
        return
    assert res.returncode == 0 and "split by parent" in err, err
    split = load_checkpoint(out).train["split"]
    assert split == {"by": "parent", "train_parents": 8, "val_parents": 4, "unvalidated": []}
