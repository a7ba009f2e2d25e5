"""``spectool ops``: the preprocess and augment operations, their parameters and defaults."""

from __future__ import annotations

from spectool.cli.app import app
from spectool.cli.common import JsonOpt, command
from spectool.env import Env
from spectool.io.results import write_rows


@command(app, "ops")
def ops(env: Env, json: JsonOpt = False) -> None:
    """List the operations preprocess (--step) and augment (--op) take, with parameter defaults.

    Write a step as NAME:key=value,key=value; ranges as lo:hi (e.g. size:nm=5:30).
    """
    from dataclasses import MISSING, fields

    from spectool.signal.ops import load_all

    rows = []
    for name, cls in sorted(load_all().items(), key=lambda item: (item[1].stage, item[0])):
        params = {f.name: (None if f.default is MISSING else f.default) for f in fields(cls)}
        rows.append({"name": name, "stage": cls.stage, "parameters": _params_text(params),
                     "description": " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split()),
                     "defaults": params})
    write_rows(env, rows, ["name", "stage", "parameters", "description"])


def _params_text(params: dict) -> str:
    def show(value) -> str:
        if isinstance(value, (list, tuple)):
            return ":".join(str(v) for v in value)
        return "-" if value is None else str(value)

    return " ".join(f"{k}={show(v)}" for k, v in params.items())
