"""The terminal table fits the terminal by leaving out optional columns, never by breaking values."""

from __future__ import annotations

import io
import re

import pytest

from spectool.env import Env
from spectool.io.results import fit_columns, table_width, write_rows

ANSI = re.compile(r"\x1b\[[0-9;]*m")
COLUMNS = ["path", "rank", "label", "probability", "reliability", "ood", "strukturbericht", "pearson", "mineral"]
ROWS = [{"path": "spectool/data/examples/example.xy", "rank": r, "label": label, "probability": p,
         "reliability": 0.602197, "ood": "no", "strukturbericht": label, "pearson": pearson, "mineral": mineral}
        for r, label, p, pearson, mineral in [(1, "C4", 0.981865, "tP6", "Rutile"),
                                               (2, "A17", 0.00694769, "oC8", "black P"),
                                               (3, "C11_b", 0.00207626, "tI6", "")]]
OPTIONAL = ["pearson", "strukturbericht", "mineral", "reliability"]


def _table(monkeypatch, columns: int) -> list[str]:
    monkeypatch.setenv("COLUMNS", str(columns))
    env = Env(stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=io.StringIO(), stdout_isatty=True)
    write_rows(env, ROWS, COLUMNS, optional=OPTIONAL)
    return ANSI.sub("", env.stdout.getvalue().decode()).splitlines()


@pytest.mark.parametrize("columns,dropped", [(80, {"pearson", "strukturbericht", "mineral", "reliability"}),
                                             (100, {"pearson", "strukturbericht"})])
def test_table_drops_optional_columns_to_fit_and_keeps_values_whole(monkeypatch, columns, dropped):
    lines = _table(monkeypatch, columns)
    assert max(len(line) for line in lines) <= columns
    header = lines[1].split()
    assert {c for c in COLUMNS if c not in header} == dropped
    body = [line.replace("│", " ").split() for line in lines[3:-1]]
    assert len(body) == len(ROWS)  # one line per row: nothing wrapped
    assert [row[:4] for row in body] == [[r["path"], str(r["rank"]), r["label"], f"{r['probability']:.6g}"]
                                         for r in ROWS]


def test_fit_columns_gives_up_optional_columns_in_order_only_as_needed():
    widths = {"a": 10, "b": 10, "c": 10}
    assert fit_columns(widths, list(widths), ["c", "b"], table_width([10, 10, 10])) == ["a", "b", "c"]
    assert fit_columns(widths, list(widths), ["c", "b"], table_width([10, 10])) == ["a", "b"]
    assert fit_columns(widths, list(widths), ["c", "b"], 5) == ["a"]
