"""--references sources: structures or measured scans, labels and RIRs from a table, a set or file names."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from spectool.env import Env
from spectool.errors import FormatError
from spectool.io.references import is_measured_source, measured_entries
from tests.conftest import ROOT


def _scan(path, peak: float):
    x = np.arange(10.0, 60.0, 0.05)
    y = 10 + 1000 * np.exp(-0.5 * ((x - peak) / 0.05) ** 2)
    path.write_text("".join(f"{a:.3f} {b:.2f}\n" for a, b in zip(x, y)))


def test_structures_and_scans_are_told_apart(tmp_path):
    (tmp_path / "cifs").mkdir()
    shutil.copy(ROOT / "tests" / "data" / "cifs" / "nacl_Fm-3m.cif", tmp_path / "cifs" / "NaCl.cif")
    (tmp_path / "scans").mkdir()
    _scan(tmp_path / "scans" / "quartz.xy", 26.6)
    assert not is_measured_source(tmp_path / "cifs")
    assert is_measured_source(tmp_path / "scans") and is_measured_source(tmp_path / "scans" / "quartz.xy")


def test_a_table_names_labels_and_rirs_under_powdr_column_names(tmp_path):
    _scan(tmp_path / "QUARTZ.xy", 26.6)
    _scan(tmp_path / "CAL.xy", 29.4)
    table = tmp_path / "refs.csv"
    table.write_text("file,phase_id,phase_name,rir\nQUARTZ.xy,QUARTZ,Quartz,3.54\nCAL.xy,CAL,Calcite,\n")
    assert is_measured_source(table)
    entries, errors = measured_entries(table, Env(), wavelength=1.5406)
    assert not errors
    assert [(label, name, rir) for label, name, _, _, rir in entries] == [("Quartz", "QUARTZ", 3.54),
                                                                         ("Calcite", "CAL", None)]


def test_without_a_table_labels_are_file_stems_and_subfolders(tmp_path):
    _scan(tmp_path / "quartz.xy", 26.6)
    (tmp_path / "calcite").mkdir()
    _scan(tmp_path / "calcite" / "std-1.xy", 29.4)
    entries, _ = measured_entries(tmp_path, Env(), wavelength=1.5406)
    assert sorted((label, name) for label, name, *_ in entries) == [("calcite", "std-1"), ("quartz", "quartz")]


def test_a_bad_rir_names_the_table_line(tmp_path):
    _scan(tmp_path / "q.xy", 26.6)
    (tmp_path / "labels.csv").write_text("path,label,rir\nq.xy,quartz,-2\n")
    with pytest.raises(FormatError) as err:
        measured_entries(tmp_path, Env())
    assert "labels.csv:2: RIR must be a positive number" in str(err.value)


def test_a_library_lists_the_structures_of_a_types_namesake_first(tmp_path):
    from spectool.io.references import labelled_files, pick_members

    (tmp_path / "manifest.csv").write_text(
        "id,label,split,path,name,source\n"
        "a,Halite,train,train/Halite/a.cif,Low Temperature KBD4,aflow\n"
        "b,Halite,train,train/Halite/b.cif,<missing>,amcsd\n"
        "c,Halite,train,train/Halite/c.cif,Periclase,amcsd\n"
        "d,Halite,train,train/Halite/d.cif,Halite,amcsd\n"
        "e,Quartz-152,train,train/Quartz-152/e.cif,Quartz,amcsd\n"
        "f,Quartz-152,test,train/Quartz-152/f.cif,Quartz,amcsd\n"
        "g,Calcite,train,train/Calcite/g.cif,PrNiO3 Rhombohedral Perovskite,aflow\n"
        "h,Calcite,train,train/Calcite/h.cif,\"Calcite (CaCO3, G01)\",aflow\n")
    picked = pick_members(labelled_files(tmp_path, "train"), 2)
    # the namesake first (Calcite's AFLOW prototype by its title), then another named mineral
    assert [(label, p.name) for label, p in picked] == [("Halite", "d.cif"), ("Quartz-152", "e.cif"),
                                                       ("Calcite", "h.cif"), ("Halite", "c.cif"),
                                                       ("Calcite", "g.cif")]


def test_a_types_references_span_its_minerals_before_repeating_one(tmp_path):
    from spectool.io.references import labelled_files, pick_members

    (tmp_path / "manifest.csv").write_text(
        "id,label,split,path,name,source\n"
        "a,Corundum,train,a.cif,\"Corundum (alpha-alumina, D51)\",aflow\n"
        "b,Corundum,train,b.cif,Corundum,amcsd\n"
        "c,Corundum,train,c.cif,Karelianite,amcsd\n"
        "d,Corundum,train,d.cif,<missing>,amcsd\n"
        "e,Corundum,train,e.cif,Karelianite,amcsd\n"
        "f,Corundum,train,f.cif,Hematite,amcsd\n")
    picked = pick_members(labelled_files(tmp_path, "train"), 4)
    # one corundum, then one of each other mineral (hematite's Fe scatters unlike Al), then the repeats
    assert [p.name for _, p in picked] == ["a.cif", "c.cif", "f.cif", "b.cif"]
    assert [p.name for _, p in labelled_files(tmp_path, "train")] == ["a.cif", "c.cif", "f.cif", "b.cif", "e.cif",
                                                                       "d.cif"]


def test_a_smectite_is_a_turbostratic_reference_through_a_checkpoint(tmp_path):
    """Named a smectite by its file (or label, or CIF mineral name), a structure is fitted as randomly stacked
    layers; the reference's refined orientation and rod sampling survive the checkpoint."""
    from types import SimpleNamespace

    from spectool.fit.reference import structure_of
    from spectool.io.checkpoint import PREFIX, read_references, references_payload
    from spectool.io.references import load_references
    from spectool.xrd.turbostratic import SWELLING_SPACINGS
    from tests.xrd.test_turbostratic import clay_layer

    for name in ("montmorillonite", "kaolinite"):
        structure_of(clay_layer()).to(filename=str(tmp_path / f"{name}.cif"))
    group = "\n_symmetry_space_group_name_H-M"
    named = (tmp_path / "kaolinite.cif").read_text().replace(group, "\n_chemical_name_mineral 'Beidellite'" + group, 1)
    (tmp_path / "clay.cif").write_text(named)
    pairs = [("Montmorillonite", tmp_path / "montmorillonite.cif"), ("Kaolinite", tmp_path / "kaolinite.cif"),
             ("Clay", tmp_path / "clay.cif")]
    entries, errors = load_references(pairs)
    assert not errors
    by_label = {label: [ref for lab, ref in entries if lab == label] for label, _ in pairs}
    (kaolinite,) = by_label["Kaolinite"]
    assert not kaolinite.layer_samples and kaolinite.texture is None
    smectite = by_label["Montmorillonite"][0]
    assert [ref.name for ref in by_label["Montmorillonite"]] == [
        f"montmorillonite (turbostratic, d {d:.1f} Å)" for d in SWELLING_SPACINGS]  # swelling: one per hydration
    assert all(ref.layer_samples for ref in by_label["Clay"])  # by the CIF's mineral name
    tensors, meta = references_payload(entries)
    stored = SimpleNamespace(meta={"references": meta}, tensors={k.removeprefix(PREFIX): v for k, v in tensors.items()})
    library, _ = read_references(stored)
    back = library["Montmorillonite"][0]
    assert (back.texture, back.layer_samples) == ((0, 0, 1), smectite.layer_samples)
    assert library["Kaolinite"][0].texture is None and library["Kaolinite"][0].layer_samples == 0
