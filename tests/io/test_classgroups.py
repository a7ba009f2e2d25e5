"""The groups file `cluster --group-classes` writes is what `train --groups` reads."""

from __future__ import annotations

import json

import pytest

from spectool.errors import FormatError
from spectool.io.classgroups import read_groups


@pytest.mark.parametrize("doc", [{"groups": [["a", "b"], ["c"]]}, {"g1": ["a", "b"], "g2": ["c"]}, [["a", "b"], ["c"]]])
def test_every_groups_layout_reads_the_same(tmp_path, doc):
    path = tmp_path / "groups.json"
    path.write_text(json.dumps(doc))
    assert read_groups(str(path)) == [["a", "b"], ["c"]]


def test_a_bad_groups_file_is_named(tmp_path):
    path = tmp_path / "groups.json"
    path.write_text('{"groups": "abc"}')
    with pytest.raises(FormatError, match="groups"):
        read_groups(str(path))


def test_what_cluster_writes_train_reads(tmp_path):
    from spectool.io.classgroups import write_groups

    path = tmp_path / "groups.json"
    write_groups(str(path), [["a", "é"], ["c", "d"]])
    assert read_groups(str(path)) == [["a", "é"], ["c", "d"]]
    assert path.read_text(encoding="utf-8").startswith('{"groups": [\n  ["a", "é"],\n')
