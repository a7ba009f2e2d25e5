"""``spectool predict`` on raw scans, folders and sets: recipe replay, outputs, cron mode, refusals."""

from __future__ import annotations

import json
from dataclasses import replace

import h5py
import numpy as np
import pytest

from spectool.io.checkpoint import load_checkpoint
from spectool.spectra import Axis, SetMeta
from tests.conftest import run_cli

GRID = (10.0, 70.0, 0.1)
LABELS = ["rutile", "anatase", "brookite"]
PEAKS = {"rutile": [27.4, 36.1, 54.3], "anatase": [25.3, 37.8, 48.0], "brookite": [25.3, 30.8, 36.2]}


def _pattern(x, centres):
    return sum(np.exp(-0.5 * ((x - c) / 0.15) ** 2) for c in centres)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A kNN over the clean class patterns: deterministic, exact, and quick to build."""
    import torch
    from sklearn.neighbors import KNeighborsClassifier

    from spectool.io.checkpoint import save_checkpoint
    from spectool.models.classical import KNN

    torch.manual_seed(0)
    x = np.arange(GRID[0], GRID[1] + GRID[2] / 2, GRID[2])
    X = np.stack([_pattern(x, PEAKS[name]) for name in LABELS]).astype(np.float32)
    X /= X.max(axis=1, keepdims=True)
    knn = KNN.from_sklearn(KNeighborsClassifier(n_neighbors=1).fit(X, np.arange(3)))
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    recipe = {"format": "spectool-recipe/1", "steps": [
        {"op": "baseline", "method": "snip", "half_window": 40},
        {"op": "resample", "start": GRID[0], "stop": GRID[1], "step": GRID[2]},
        {"op": "normalize", "method": "max"}]}
    meta = SetMeta(axis=Axis(x), kind="xrd", wavelength=1.54056)
    save_checkpoint(path, knn, labels=LABELS, input=meta, preprocess=recipe, train={"seed": 0},
                    extra_tensors={"class_means": X},
                    label_info={"rutile": {"pearson": "tP6"}, "anatase": {"pearson": "tI12"},
                                "brookite": {"pearson": "oP24"}})
    return path


def _scan(path, name, wavelength=1.54056, start=5.0, stop=80.0):
    x = np.arange(start, stop, 0.02)
    if wavelength != 1.54056:  # same d-spacings at another wavelength
        d = 1.54056 / (2 * np.sin(np.radians(np.array(PEAKS[name]) / 2)))
        centres = 2 * np.degrees(np.arcsin(wavelength / (2 * d)))
    else:
        centres = PEAKS[name]
    y = 200 + 50 * np.exp(-x / 20) + 1000 * _pattern(x, centres)
    path.write_text(f"# wavelength {wavelength}\n" + "".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(x, y)))
    return path


@pytest.fixture
def scans(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    return {name: _scan(folder / f"{name}.xy", name) for name in LABELS}


def test_top_k_table_names_the_right_phase(model, scans):
    res = run_cli("predict", "-m", str(model), "--top", "2", *map(str, scans.values()))
    assert res.returncode == 0, res.stderr
    lines = [line.split("\t") for line in res.stdout.decode().splitlines()]
    assert lines[0] == ["path", "rank", "label", "probability", "reliability", "ood", "pearson"]
    firsts = {row[0]: row[2] for row in lines[1:] if row[1] == "1"}
    assert firsts == {str(scans[name]): name for name in LABELS}
    assert all(row[6] for row in lines[1:])


def test_json_lines_and_a_scan_at_another_wavelength(model, tmp_path):
    mo = _scan(tmp_path / "mo.xy", "anatase", wavelength=0.7093, start=2, stop=40)
    res = run_cli("predict", "-m", str(model), "--json", str(mo))
    record = json.loads(res.stdout.decode().splitlines()[0])
    assert record["schema"] == "spectool.predict/1" and record["top"][0]["label"] == "anatase"
    assert record["top"][0]["pearson"] == "tI12" and record["ood"] is False
    out = tmp_path / "prepared.h5"  # the prepared rows are at the model's wavelength, and say so
    assert run_cli("predict", "-m", str(model), "-o", str(out), str(mo)).returncode == 0
    with h5py.File(out) as f:
        wavelength = load_checkpoint(model).input["wavelength"]
        assert wavelength != pytest.approx(0.7093)
        assert f["entry/instrument/wavelength"][()] == pytest.approx(wavelength)
        np.testing.assert_allclose(f["entry/samples/wavelength"][:], wavelength)


def test_raw_scan_equals_the_preprocessed_set(model, scans, tmp_path):
    recipe = tmp_path / "recipe.json"
    from spectool.io.checkpoint import read_header

    recipe.write_text(json.dumps(read_header(model).meta["preprocess"]))
    pre = tmp_path / "pre.h5"
    assert run_cli("preprocess", str(scans["brookite"]), "--recipe", str(recipe), "-o", str(pre)).returncode == 0
    raw = json.loads(run_cli("predict", "-m", str(model), "--json", str(scans["brookite"])).stdout)
    done = json.loads(run_cli("predict", "-m", str(model), "--json", str(pre)).stdout)
    assert raw["top"] == done["top"] and raw["reliability"] == pytest.approx(done["reliability"])


def test_fail_under_exits_3():
    """The shipped model on the shipped example: its confidence is under 1, so a P between it and 1 is not met;
    without the fit, the network's best score is held to P instead."""
    from spectool.cli.predict import DEFAULT_MODEL

    example = str(DEFAULT_MODEL.parent / "examples" / "example.xy")
    record = json.loads(run_cli("predict", "--json", example).stdout)
    confidence, score = record["confidence"], record["top"][0]["score"]
    assert 0 < confidence < 1 and abs(confidence - score) > 0.05  # the two differ: the test tells which one is held
    res = run_cli("predict", "--fail-under", f"{(confidence + 1) / 2:.9f}", example)
    assert res.returncode == 3 and b"confidence" in res.stderr and b"below --fail-under" in res.stderr
    assert run_cli("predict", "--fail-under", f"{confidence - 0.01:.9f}", example).returncode == 0
    between = (confidence + score) / 2  # met by one, not by the other
    fitted = run_cli("predict", "--fail-under", f"{between:.9f}", example).returncode
    alone = run_cli("predict", "--no-refine", "--fail-under", f"{between:.9f}", example)
    assert {fitted, alone.returncode} == {0, 3} and (alone.returncode == 3) == (score < between)
    assert alone.returncode == 0 or b"best score" in alone.stderr


def test_cron_folder_mode(model, scans, tmp_path):
    out = tmp_path / "results"
    folder = scans["rutile"].parent
    res = run_cli("predict", "-m", str(model), "--output-dir", str(out), str(folder))
    assert res.returncode == 0, res.stderr
    files = sorted(p.name for p in out.glob("*.json"))
    assert files == ["anatase.xy.json", "brookite.xy.json", "rutile.xy.json"]
    assert json.loads((out / "rutile.xy.json").read_text())["top"][0]["label"] == "rutile"
    _scan(folder / "new.xy", "anatase")
    again = run_cli("predict", "-m", str(model), "--output-dir", str(out), "--skip-existing", str(folder))
    assert again.returncode == 0
    assert [line.split("\t")[0] for line in again.stdout.decode().splitlines()[1:]] == [str(folder / "new.xy")] * 3


def test_lock_keeps_two_runs_apart(model, scans, tmp_path):
    import fcntl
    import os

    out = tmp_path / "results"
    out.mkdir()
    fd = os.open(out / ".spectool-predict.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        res = run_cli("predict", "-m", str(model), "--output-dir", str(out), str(scans["rutile"]))
    finally:
        os.close(fd)
    assert res.returncode == 1 and b"lock" in res.stderr and not list(out.glob("*.json"))


def test_refusals_name_the_scan_and_the_reason(model, scans, tmp_path):
    ftir = tmp_path / "ir.dpt"
    ftir.write_text("".join(f"{4000 - i},{0.5 + 0.1 * np.sin(i)}\n" for i in range(0, 3000, 10)))
    short = _scan(tmp_path / "short.xy", "rutile", start=60, stop=70)
    res = run_cli("predict", "-m", str(model), str(ftir), str(short), str(scans["rutile"]))
    err = res.stderr.decode()
    assert res.returncode == 1
    assert f"{ftir}: is a ftir spectrum" in err and f"{short}: covers" in err
    assert res.stdout.decode().count("rutile.xy") == 3


def test_bad_checkpoints_are_refused(scans, tmp_path):
    fake = tmp_path / "fake.safetensors"
    fake.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    res = run_cli("predict", "-m", str(fake), str(scans["rutile"]))
    assert res.returncode == 2 and str(fake).encode() in res.stderr and b"Traceback" not in res.stderr
    res = run_cli("predict", "-m", str(tmp_path / "none.safetensors"), str(scans["rutile"]))
    assert res.returncode == 2


def test_eval_on_a_labelled_set(model, scans, tmp_path):
    pre = tmp_path / "labelled.h5"
    res = run_cli("preprocess", *map(str, scans.values()), "--grid", "10:70:0.1", "-s", "normalize",
                  "--label", "stem", "-o", str(pre))
    assert res.returncode == 0, res.stderr
    prefix = tmp_path / "conf"
    res = run_cli("predict", "-m", str(model), "--eval", "--confusion", str(prefix), str(pre))
    assert res.returncode == 0, res.stderr
    assert b"top-1 100.0%" in res.stderr
    rows = (tmp_path / "conf.csv").read_text().splitlines()
    assert rows[0].split(",")[1:] == ["rutile", "anatase", "brookite"] and len(rows) == 4
    assert (tmp_path / "conf.png").read_bytes()[:4] == b"\x89PNG"


def test_output_dir_names_are_unique_per_input_path_and_stable(model, tmp_path):
    """Two folders with a scan of the same name: two results, and --skip-existing skips both next time."""
    for folder, name in (("a", "rutile"), ("b", "anatase")):
        (tmp_path / folder).mkdir()
        _scan(tmp_path / folder / "S.xy", name)
    out = tmp_path / "results"
    res = run_cli("predict", "-m", str(model), "--output-dir", str(out), "a", "b", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.json")) == ["a/S.xy.json", "b/S.xy.json"]
    assert json.loads((out / "a/S.xy.json").read_text())["top"][0]["label"] == "rutile"
    assert json.loads((out / "b/S.xy.json").read_text())["top"][0]["label"] == "anatase"
    again = run_cli("predict", "-m", str(model), "--output-dir", str(out), "--skip-existing", "a", "b", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.decode().splitlines()[1:] == []


def test_scans_on_stdin_are_sniffed_like_files(model, scans, tmp_path):
    """``cat scan.xy | spectool predict -``: a scan on stdin is told by its content, a set still works."""
    res = run_cli("predict", "-m", str(model), "--json", "-", stdin=scans["anatase"].read_bytes())
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["top"][0]["label"] == "anatase"
    pre = tmp_path / "pre.h5"
    assert run_cli("preprocess", str(scans["rutile"]), "--grid", "10:70:0.1", "-o", str(pre)).returncode == 0
    res = run_cli("predict", "-m", str(model), "--json", "-", stdin=pre.read_bytes())
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["top"][0]["label"] == "rutile"


def test_garbage_on_stdin_is_named_and_no_header_is_written(model):
    res = run_cli("predict", "-m", str(model), "-", stdin=b"not a scan\n")
    assert res.returncode == 2 and res.stdout == b""
    assert res.stderr.decode().startswith("spectool: error: <stdin>")


def test_eval_without_labels_is_a_usage_error_before_any_output(model, scans, tmp_path):
    unlabelled = tmp_path / "unlabelled.h5"
    assert run_cli("preprocess", str(scans["rutile"]), "--grid", "10:70:0.1", "-o", str(unlabelled)).returncode == 0
    out, results, prefix = tmp_path / "out.h5", tmp_path / "results", tmp_path / "conf"
    res = run_cli("predict", "-m", str(model), "--eval", "--confusion", str(prefix), "-o", str(out),
                  "--output-dir", str(results), str(unlabelled), str(scans["anatase"]))
    assert res.returncode == 2 and res.stdout == b""
    assert b"--eval needs labelled sets" in res.stderr
    assert not out.exists() and not list(tmp_path.glob("conf*")) and not list(results.glob("**/*.json"))


def test_fail_under_outside_0_to_1_is_a_usage_error(model, scans):
    res = run_cli("predict", "-m", str(model), "--fail-under", "1.5", str(scans["rutile"]))
    assert res.returncode == 2 and b"--fail-under" in res.stderr and res.stdout == b""


def test_scans_of_a_folder_are_scored_in_one_model_call(model, scans, monkeypatch, capfd):
    from spectool.cli.main import run
    from spectool.learn.inference import Predictor

    (scans["rutile"].parent / "bad.xy").write_text("10 1\n10.02 x\n")
    calls = []
    real = Predictor.predict
    monkeypatch.setattr(Predictor, "predict", lambda self, X, *a: calls.append(len(X)) or real(self, X, *a))
    status = run(["predict", "-m", str(model), "--top", "1", str(scans["rutile"].parent)])
    out, err = capfd.readouterr()
    assert status == 1 and "bad.xy:2: not a line of numbers" in err
    assert calls == [3]  # one call for the three good scans, not one per scan
    rows = [line.split("\t")[:3] for line in out.splitlines()[1:]]
    assert rows == [[str(scans[name]), "1", name] for name in sorted(LABELS)]


def test_scans_prepared_together_equal_each_prepared_alone(model, scans, tmp_path):
    from spectool.env import Env
    from spectool.errors import FormatError
    from spectool.io.spectra import iter_spectra
    from spectool.learn.inference import Predictor

    shorts = [_scan(tmp_path / f"short{i}.xy", "rutile", start=60, stop=80) for i in range(2)]  # too little
    paths = [str(p) for p in scans.values()] + [str(p) for p in shorts]
    items = [item for _, item in iter_spectra(paths, Env())]
    predictor = Predictor(load_checkpoint(model))
    together = predictor.prepare_many(items + items[:2], rows=2)
    for item, X in zip(items[:3] + items[:2], together[:3] + together[5:]):
        np.testing.assert_allclose(X, predictor.prepare(item), rtol=1e-6, atol=1e-7)
    assert [(type(e), e.path) for e in together[3:5]] == [(FormatError, str(p)) for p in shorts]


def test_raw_scan_on_the_training_axis_goes_through_the_recipe(model, tmp_path):
    """A scan measured on exactly the model's grid (what `train CIFs --like SCAN` trains on) is still raw:
    its baseline and counts must go through the recipe like any other scan; only a set on that axis is
    taken as prepared already."""
    from spectool.env import Env
    from spectool.io.spectra import iter_spectra
    from spectool.learn.inference import Predictor
    from spectool.signal.ops import Context

    x = np.arange(GRID[0], GRID[1] + GRID[2] / 2, GRID[2])
    y = 200 + 50 * np.exp(-x / 20) + 1000 * _pattern(x, PEAKS["rutile"])
    scan = tmp_path / "on-grid.xy"
    scan.write_text("".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(x, y)))
    predictor = Predictor(load_checkpoint(model))
    (_, item), = iter_spectra([str(scan)], Env())
    assert item.axis.same_as(predictor.axis)
    expected = predictor.recipe.apply(item.X, item.axis, Context(item.wavelength, None, "xrd"))[0]
    np.testing.assert_allclose(predictor.prepare(item), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(predictor.prepare_many([item, item])[1], expected, rtol=1e-6, atol=1e-6)
    prepared = replace(item, X=expected, is_scan=False)  # a set on the axis: taken as it is
    np.testing.assert_array_equal(predictor.prepare(prepared), expected)


def test_the_lattice_search_can_be_turned_off(model, scans, monkeypatch, capfd):
    from spectool.cli.main import run
    from spectool.learn.inference import Predictor

    seen = []
    real = Predictor.__init__
    monkeypatch.setattr(Predictor, "__init__", lambda self, *a, **k: seen.append(k.get("lattice_search"))
                        or real(self, *a, **k))
    for flag in ("--lattice-search", "--no-lattice-search"):
        assert run(["predict", "-m", str(model), "--top", "1", flag, str(scans["rutile"])]) == 0
        assert capfd.readouterr().out.splitlines()[1].split("\t")[2] == "rutile"
    assert seen == [True, False]
