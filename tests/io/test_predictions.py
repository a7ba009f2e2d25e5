"""Result file names for ``predict --output-dir``: unique per input path, the same on every run."""

from __future__ import annotations

import pytest

from spectool.errors import SpectoolError
from spectool.io.predictions import ResultNames


@pytest.fixture
def tree(tmp_path, monkeypatch):
    for folder in ("a", "b", "a/deep"):
        (tmp_path / folder).mkdir()
    for path in ("a/S.xy", "b/S.xy", "a/deep/S.xy"):
        (tmp_path / path).write_text("1 2\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _rel(names: ResultNames, *args) -> str:
    return str(names.target(*args).relative_to(names.output_dir))


def test_one_folder_keeps_the_layout_below_it(tree):
    names = ResultNames(tree / "out", ["a"])
    assert _rel(names, "a/S.xy") == "S.xy.json" and _rel(names, "a/deep/S.xy") == "deep/S.xy.json"


@pytest.mark.parametrize("inputs", [["a", "b"], ["a/S.xy", "b/S.xy"], ["a/", str("b/*.xy")], ["*/S.xy"]])
def test_same_file_names_in_different_folders_do_not_collide(tree, inputs):
    names = ResultNames(tree / "out", inputs)
    assert _rel(names, "a/S.xy") == "a/S.xy.json" and _rel(names, "b/S.xy") == "b/S.xy.json"


def test_names_do_not_depend_on_the_files_found(tree):
    """cron: a file that appears later does not move the results of the others."""
    before = _rel(ResultNames(tree / "out", ["a", "b"]), "a/S.xy")
    (tree / "b" / "T.xy").write_text("1 2\n")
    assert _rel(ResultNames(tree / "out", ["a", "b"]), "a/S.xy") == before
    assert _rel(ResultNames(tree / "out", [str(tree / "a"), "b"]), str(tree / "a/S.xy")) == before


def test_set_rows_stay_inside_and_repeated_ids_are_refused(tree):
    names = ResultNames(tree / "out", ["a/S.xy", "b"])
    assert _rel(names, "b/set.h5", "x") == "b/set.h5#x.json"
    assert _rel(names, "b/set.h5", "../../etc") == "b/set.h5#.._.._etc.json"
    with pytest.raises(SpectoolError, match="already holds the result of b/set.h5#x") as info:
        names.target("b/set.h5", "x")  # e.g. augmented copies keep their parent's id
    assert info.value.path == "b/set.h5#x"
