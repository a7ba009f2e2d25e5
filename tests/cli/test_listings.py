"""The listing commands: formats and ops."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def test_formats_lists_every_reader_and_the_set_formats():
    out = run_cli("formats").stdout.decode().splitlines()
    names = {line.split("\t")[0] for line in out[1:]}
    assert {"text", "xrdml", "bruker_raw", "brml", "ras", "rasx", "gsas", "jcamp", "wdf", "opus", "spa", "hdf5",
            "npy", "npz"} <= names


def test_ops_lists_parameters_that_parse_back():
    from spectool.signal.ops import parse_step

    rows = [json.loads(line) for line in run_cli("ops", "--json").stdout.decode().splitlines()]
    stages = {r["name"]: r["stage"] for r in rows}
    assert stages["savgol"] == "preprocess" and stages["strain"] == "sticks" and stages["shift"] == "pattern"
    savgol = next(r for r in rows if r["name"] == "savgol")
    op = parse_step("savgol:" + ",".join(f"{k}={v}" for k, v in savgol["defaults"].items()))
    assert op.to_json() == {"op": "savgol", **savgol["defaults"]}
