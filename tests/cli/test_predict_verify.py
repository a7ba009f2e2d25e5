"""``spectool predict`` with verification: fitted candidates, --no-refine, --phases, --references, bad scans."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import ROOT, run_cli

LABELS = ["rutile", "NaCl", "ZnO"]
X = np.arange(10.0, 70.0001, 0.02)


def _structures():
    from tests.xrd.structures_zoo import zoo

    z = zoo()
    return {name: z[name] for name in LABELS}


def _pattern(structure, x, shift=0.0):
    from spectool.fit.reference import conventional
    from spectool.xrd.radiation import parse_radiation
    from spectool.xrd.simulate import ProfileOptions, simulate_pattern

    crystal = conventional(structure)[0]
    y, _ = simulate_pattern(crystal, x - shift, parse_radiation("CuKa12"), ProfileOptions(shape="pseudo-voigt", fwhm=0.1))
    return y.astype(np.float64)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A 1-NN over the three clean patterns, with the three structures as references."""
    from sklearn.neighbors import KNeighborsClassifier

    from spectool.fit.reference import conventional, reference_from_crystal
    from spectool.io.checkpoint import add_references, save_checkpoint
    from spectool.spectra import Axis, SetMeta
    from spectool.models.classical import KNN

    structures = _structures()
    P = np.stack([_pattern(s, X) for s in structures.values()]).astype(np.float32)
    knn = KNN.from_sklearn(KNeighborsClassifier(n_neighbors=1).fit(P, np.arange(3)))
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    recipe = {"format": "spectool-recipe/1", "steps": [
        {"op": "resample", "start": 10.0, "stop": 70.0, "step": 0.02}, {"op": "normalize", "method": "max"}]}
    save_checkpoint(path, knn, labels=LABELS, input=SetMeta(axis=Axis(X), kind="xrd", wavelength=1.5406),
                    preprocess=recipe, train={"seed": 0})
    refs = [(name, reference_from_crystal(*conventional(s)[:2], name, *conventional(s)[2:]))
            for name, s in structures.items()]
    add_references(path, refs, source="test")
    return path


def _scan(path, name, start=10.0, stop=70.0, shift=0.05):
    x = np.arange(start, stop, 0.02)
    y = 100 + 1000 * _pattern(_structures()[name], x, shift) + np.random.default_rng(0).normal(0, 3, x.size)
    path.write_text("# wavelength 1.5406\n" + "".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(x, y)))
    return path


def test_predict_fits_the_candidates_and_reports_the_phase(model, tmp_path):
    out = run_cli("predict", "-m", str(model), "--refine", "--json", str(_scan(tmp_path / "r.xy", "rutile")))
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["verified"] and record["label"] == "rutile" and not record["unknown"]
    best = record["top"][0]
    assert best["label"] == "rutile" and best["explained"] > 0.9
    assert best["cell"][0] == pytest.approx(4.594, abs=0.01) and best["cell"][2] == pytest.approx(2.959, abs=0.01)
    assert [p["label"] for p in record["phases"]] == ["rutile"]
    assert record["phases"][0]["weight_fraction"] == pytest.approx(1.0)


def test_tsv_carries_the_fit_columns_and_no_refine_drops_them(model, tmp_path):
    scan = str(_scan(tmp_path / "n.xy", "NaCl"))
    out = run_cli("predict", "-m", str(model), "--refine", scan)
    header, first = out.stdout.decode().splitlines()[:2]
    assert {"fit_score", "rwp", "explained", "cell", "shift", "phases"} <= set(header.split("\t"))
    row = dict(zip(header.split("\t"), first.split("\t")))
    assert row["label"] == "NaCl" and row["phases"] == "NaCl 100%"
    plain = run_cli("predict", "-m", str(model), "--no-refine", "--json", scan)
    assert plain.returncode == 0 and "verified" not in json.loads(plain.stdout)


def test_the_fit_is_the_default_where_there_are_structures_to_fit(model, tmp_path):
    scan = str(_scan(tmp_path / "r.xy", "rutile"))
    fitted = run_cli("predict", "-m", str(model), "--json", scan)
    assert fitted.returncode == 0 and json.loads(fitted.stdout)["verified"]
    plain = run_cli("predict", "-m", str(model), "--json", "--no-refine", scan)
    assert plain.returncode == 0 and "verified" not in json.loads(plain.stdout)


@pytest.mark.parametrize("n", ["0", "-1", "9"])
def test_phases_out_of_range_is_a_usage_error(model, tmp_path, n):
    out = run_cli("predict", "-m", str(model), "--phases", n, str(_scan(tmp_path / "r.xy", "rutile")))
    assert out.returncode == 2


def test_a_scan_too_narrow_to_fit_falls_back_to_the_network(model, tmp_path):
    narrow = _scan(tmp_path / "narrow.xy", "rutile", start=26.0, stop=33.0)
    good = _scan(tmp_path / "good.xy", "ZnO")
    out = run_cli("predict", "-m", str(model), "--refine", "--min-coverage", "0.1", "--json", str(narrow), str(good))
    assert out.returncode == 0, out.stderr
    records = {json.loads(line)["path"]: json.loads(line) for line in out.stdout.splitlines()}
    assert records[str(narrow)]["verified"] is False and "too short or narrow" in records[str(narrow)]["note"]
    assert records[str(good)]["verified"] and records[str(good)]["label"] == "ZnO"
    warnings = [line for line in out.stderr.decode().splitlines() if "narrow" in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"spectool: warning: {narrow}:")


def test_references_folder_overrides_the_models(model, tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "cifs" / "nacl_Fm-3m.cif", refs / "NaCl.cif")
    out = run_cli("predict", "-m", str(model), "--json", "--references", str(refs),
                  str(_scan(tmp_path / "n.xy", "NaCl")))
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["label"] == "NaCl" and record["phases"][0]["reference"] == "NaCl"
    fitted = {e["label"]: e for e in record["top"]}
    assert "rwp" in fitted["NaCl"] and "rwp" not in fitted["rutile"]  # only NaCl has a structure now


def test_chemistry_limits_keep_only_consistent_candidates(model, tmp_path):
    scan = str(_scan(tmp_path / "z.xy", "ZnO"))
    out = run_cli("predict", "-m", str(model), "--json", "--elements", "Zn,O,Ti", "--require", "O", scan)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert sorted(e["label"] for e in record["top"]) == ["ZnO", "rutile"] and record["label"] == "ZnO"
    assert run_cli("predict", "-m", str(model), "--elements", "Zn,Qq", scan).returncode == 2
    assert run_cli("predict", "-m", str(model), "--require", "Zn", "--no-refine", scan).returncode == 2


def test_reference_labels_follow_subfolders_as_simulate_label_parent_does(tmp_path):
    from spectool.io.references import labelled_files

    (tmp_path / "NaCl").mkdir()
    shutil.copy(ROOT / "tests" / "data" / "cifs" / "nacl_Fm-3m.cif", tmp_path / "NaCl" / "a.cif")
    shutil.copy(ROOT / "tests" / "data" / "cifs" / "quartz_P3221.cif", tmp_path / "quartz.cif")
    assert sorted(label for label, _ in labelled_files(tmp_path)) == ["NaCl", "quartz"]


def test_png_draws_each_fitted_scan_named_as_its_json_result(model, tmp_path):
    scans = tmp_path / "scans"
    (scans / "sub").mkdir(parents=True)
    _scan(scans / "r.xy", "rutile")
    _scan(scans / "sub" / "n.xy", "NaCl")
    out = run_cli("predict", "-m", str(model), "--png", str(tmp_path / "png"), "--output-dir", str(tmp_path / "json"),
                  str(scans))  # --png implies the fit
    assert out.returncode == 0, out.stderr
    pictures = sorted(p.relative_to(tmp_path / "png") for p in (tmp_path / "png").rglob("*.png"))
    results = sorted(p.relative_to(tmp_path / "json") for p in (tmp_path / "json").rglob("*.json"))
    assert [p.with_suffix("") for p in pictures] == [p.with_suffix("") for p in results] != []
    assert all((tmp_path / "png" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)
    assert not [p for p in (tmp_path / "png").rglob("*") if p.is_file() and p.suffix != ".png"]  # no temporaries


def test_png_with_no_refine_is_a_usage_error(model, tmp_path):
    out = run_cli("predict", "-m", str(model), "--no-refine", "--png", str(tmp_path / "png"),
                  str(_scan(tmp_path / "r.xy", "rutile")))
    assert out.returncode == 2 and not (tmp_path / "png").exists()


def test_a_structure_the_model_lacks_is_unknown_and_a_known_one_is_not(model, tmp_path):
    """Calcite is none of rutile, NaCl, ZnO: at the checkpoint's threshold it is unknown, rutile is not."""
    from spectool.fit.reference import conventional
    from spectool.xrd.radiation import parse_radiation
    from spectool.xrd.simulate import ProfileOptions, simulate_pattern
    from tests.xrd.structures_zoo import zoo

    x = np.arange(10.0, 70.0, 0.02)
    y, _ = simulate_pattern(conventional(zoo()["calcite"])[0], x, parse_radiation("CuKa12"),
                            ProfileOptions(shape="pseudo-voigt", fwhm=0.1))
    y = 100 + 1000 * y + np.random.default_rng(0).normal(0, 3, x.size)
    calcite = tmp_path / "calcite.xy"
    calcite.write_text("# wavelength 1.5406\n" + "".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(x, y)))
    out = run_cli("predict", "-m", str(model), "--refine", "--json", str(calcite),
                  str(_scan(tmp_path / "r.xy", "rutile")))
    assert out.returncode == 0, out.stderr
    records = {json.loads(line)["path"].split("/")[-1]: json.loads(line) for line in out.stdout.splitlines()}
    assert records["calcite.xy"]["unknown"] and records["calcite.xy"]["label"] == "unknown"
    assert records["calcite.xy"]["top"]  # the best candidates still listed
    assert not records["r.xy"]["unknown"] and records["r.xy"]["label"] == "rutile"


def test_png_without_structures_to_fit_is_a_usage_error(tmp_path):
    """A model with no references cannot draw a fit: said at once, not a silent run without pictures."""
    from sklearn.neighbors import KNeighborsClassifier

    from spectool.io.checkpoint import save_checkpoint
    from spectool.spectra import Axis, SetMeta
    from spectool.models.classical import KNN

    knn = KNN.from_sklearn(KNeighborsClassifier(n_neighbors=1).fit(np.eye(3, X.size, dtype=np.float32), np.arange(3)))
    bare = tmp_path / "bare.safetensors"
    save_checkpoint(bare, knn, labels=LABELS, input=SetMeta(axis=Axis(X), kind="xrd", wavelength=1.5406),
                    preprocess={"format": "spectool-recipe/1", "steps": [
                        {"op": "resample", "start": 10.0, "stop": 70.0, "step": 0.02}]}, train={"seed": 0})
    out = run_cli("predict", "-m", str(bare), "--png", str(tmp_path / "png"), str(_scan(tmp_path / "r.xy", "rutile")))
    assert out.returncode == 2 and b"--png" in out.stderr and not (tmp_path / "png").exists()


def test_phases_names_both_phases_of_a_mixture_with_their_fractions(model, tmp_path):
    """rutile 30 wt % + NaCl 70 wt %, mixed as Hill–Howard has it (per-cell intensities × wt / (mass × V)):
    --phases 3 reports both phases and their weight fractions within 5 wt %, and no third."""
    from spectool.fit.reference import conventional
    from spectool.xrd.radiation import parse_radiation
    from spectool.xrd.simulate import ProfileOptions, simulate_pattern

    x = np.arange(10.0, 70.0, 0.02)
    y = np.zeros_like(x)
    for name, w in {"rutile": 0.3, "NaCl": 0.7}.items():
        crystal, _, mass, _ = conventional(_structures()[name])
        pattern, _ = simulate_pattern(crystal, x - 0.05, parse_radiation("CuKa12"),
                                      ProfileOptions(shape="pseudo-voigt", fwhm=0.1, normalize=False))
        y += w / (mass * crystal.volume) * pattern
    y = 100 + 1000 * y / y.max() + np.random.default_rng(1).normal(0, 3, x.size)
    scan = tmp_path / "mix.xy"
    scan.write_text("# wavelength 1.5406\n" + "".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(x, y)))
    out = run_cli("predict", "-m", str(model), "--json", "--phases", "3", str(scan))
    assert out.returncode == 0, out.stderr
    phases = {p["label"]: p["weight_fraction"] for p in json.loads(out.stdout)["phases"]}
    assert set(phases) == {"rutile", "NaCl"}
    assert phases["rutile"] == pytest.approx(0.3, abs=0.05) and phases["NaCl"] == pytest.approx(0.7, abs=0.05)


def _standards(folder, rirs: dict[str, float | str]):
    """Measured references: one clean scan per phase (FWHM 0.1°) and a labels.csv with their RIRs."""
    folder.mkdir()
    rows = ["path,label,rir"]
    for name, rir in rirs.items():
        y = 1000 * _pattern(_structures()[name], X)
        (folder / f"{name}.xy").write_text("# wavelength 1.5406\n" + "".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(X, y)))
        rows.append(f"{name}.xy,{name},{rir}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_measured_references_give_rir_weight_fractions(model, tmp_path):
    """rutile 25 wt % + ZnO 75 wt % with RIRs 3.4 and 5.0: each phase's strongest line ∝ W·RIR (Chung),
    broader (FWHM 0.14°) and shifted against the standards; --references of scans names both, wt % within 5."""
    rirs = {"rutile": 3.4, "NaCl": 4.4, "ZnO": 5.0}
    refs = _standards(tmp_path / "standards", rirs)
    x = np.arange(10.0, 70.0, 0.02)
    y = np.zeros_like(x)
    for name, w in {"rutile": 0.25, "ZnO": 0.75}.items():
        from spectool.xrd.radiation import parse_radiation
        from spectool.xrd.simulate import ProfileOptions, simulate_pattern
        from spectool.fit.reference import conventional

        crystal = conventional(_structures()[name])[0]
        pattern, _ = simulate_pattern(crystal, x - 0.04, parse_radiation("CuKa12"),
                                      ProfileOptions(shape="pseudo-voigt", fwhm=0.14))
        y += w * rirs[name] * pattern / pattern.max()
    y = 100 + 1000 * y / y.max() + np.random.default_rng(2).normal(0, 3, x.size)
    scan = tmp_path / "mix.xy"
    scan.write_text("# wavelength 1.5406\n" + "".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(x, y)))
    out = run_cli("predict", "-m", str(model), "--json", "--phases", "3", "--references", str(refs), str(scan))
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    phases = {p["label"]: p for p in record["phases"]}
    assert set(phases) == {"rutile", "ZnO"} and not record["unknown"]
    assert phases["rutile"]["weight_fraction"] == pytest.approx(0.25, abs=0.05)
    assert phases["ZnO"]["weight_fraction"] == pytest.approx(0.75, abs=0.05)
    assert phases["ZnO"]["shift"] == pytest.approx(0.04, abs=0.02) and phases["ZnO"]["cell"] == []


def test_a_bad_rir_in_the_references_table_is_one_line(model, tmp_path):
    refs = _standards(tmp_path / "standards", {"rutile": "heavy"})
    out = run_cli("predict", "-m", str(model), "--references", str(refs), str(_scan(tmp_path / "r.xy", "rutile")))
    lines = out.stderr.decode().strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1
    assert lines[0].startswith("spectool: error:") and "labels.csv:2" in lines[0] and "RIR" in lines[0]


def test_texture_reports_the_preferred_orientation_of_a_platy_scan(model, tmp_path):
    """ZnO with its (00l) planes favoured (March r = 0.7 along c*): --texture refines and reports it; without
    it no texture is claimed; with --no-refine it is a usage error."""
    from spectool.fit.reference import conventional, reference_from_crystal
    from tests.fit.test_texture import GRID, _textured_pattern

    zno = reference_from_crystal(*conventional(_structures()["ZnO"])[:2], "ZnO")
    y = 100 + 1000 * _textured_pattern(zno, 0.7, (0, 0, 1)) / 50 + np.random.default_rng(0).normal(0, 2, GRID.size)
    scan = tmp_path / "zno.xy"
    scan.write_text("# wavelength 1.5406\n" + "".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(GRID, y)))
    textured = run_cli("predict", "-m", str(model), "--json", "--texture", str(scan))
    assert textured.returncode == 0, textured.stderr
    (phase,) = json.loads(textured.stdout)["phases"]
    assert phase["label"] == "ZnO" and phase["texture"]["direction"] == [0, 0, 1]
    assert phase["texture"]["march_r"] == pytest.approx(0.7, abs=0.08)
    plain = json.loads(run_cli("predict", "-m", str(model), "--json", str(scan)).stdout)
    assert "texture" not in plain["phases"][0]
    assert run_cli("predict", "-m", str(model), "--texture", "--no-refine", str(scan)).returncode == 2


@pytest.fixture(scope="module")
def confident_model(model, tmp_path_factory):
    """The model with a confidence model stored beside its references: P(right) rises with the lead."""
    from spectool.fit.confidence import Confidence
    from spectool.io.checkpoint import add_references, load_checkpoint, read_references

    library, _ = read_references(load_checkpoint(model))
    path = tmp_path_factory.mktemp("confident") / "model.safetensors"
    add_references(model, [(label, ref) for label, refs in library.items() for ref in refs], source="test",
                   output=path, confidence=Confidence((10.0, 0.5, 1.0), -2.0, n=300, accuracy=0.6).to_json())
    return path


def test_a_calibrated_model_gives_the_answer_its_confidence(confident_model, tmp_path):
    from spectool.fit.confidence import Confidence, answer_features
    from spectool.fit.verify import Candidate, Verdict

    scan = str(_scan(tmp_path / "r.xy", "rutile"))
    record = json.loads(run_cli("predict", "-m", str(confident_model), "--json", scan).stdout)
    top = record["top"]
    verdict = Verdict([Candidate(e["label"], e["score"], None, e["fit_score"]) for e in top], None, [], False)
    verdict.candidates[0].fit = type("Fit", (), {"converged": True, "explained": top[0]["explained"]})()
    expected = Confidence((10.0, 0.5, 1.0), -2.0).probability(answer_features(verdict))
    assert record["label"] == "rutile" and record["confidence"] == pytest.approx(expected, abs=1e-6)
    header, first, second = run_cli("predict", "-m", str(confident_model), scan).stdout.decode().splitlines()[:3]
    assert header.split("\t")[-1] == "confidence"  # the last column: earlier ones keep their places
    assert float(first.split("\t")[-1]) == pytest.approx(record["confidence"], abs=1e-4) and second.split("\t")[-1] == ""


def test_confidence_is_left_out_where_it_was_not_calibrated(model, confident_model, tmp_path):
    """No stored model, or references, chemistry limits or a mixture search the calibration never saw: none."""
    refs = tmp_path / "refs"
    refs.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "cifs" / "nacl_Fm-3m.cif", refs / "NaCl.cif")
    scan = str(_scan(tmp_path / "n.xy", "NaCl"))
    for args in (["-m", str(model)], ["-m", str(confident_model), "--references", str(refs)],
                 ["-m", str(confident_model), "--elements", "Na,Cl"], ["-m", str(confident_model), "--phases", "2"]):
        out = run_cli("predict", *args, "--json", scan)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["confidence"] is None
        assert "confidence" not in run_cli("predict", *args, scan).stdout.decode().splitlines()[0].split("\t")


def test_info_says_what_verification_has(model, confident_model):
    plain = json.loads(run_cli("info", "--json", str(model)).stdout)
    assert plain["references"] == 3 and plain["confidence"] is None
    calibrated = json.loads(run_cli("info", "--json", str(confident_model)).stdout)
    assert calibrated["confidence"]["n"] == 300 and calibrated["confidence"]["features"] == ["lead", "probability",
                                                                                            "explained"]
