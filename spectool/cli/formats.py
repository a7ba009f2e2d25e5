"""``spectool formats``: the file formats spectool reads and writes."""

from __future__ import annotations

from spectool.cli.app import app
from spectool.cli.common import JsonOpt, command
from spectool.env import Env
from spectool.io.results import write_rows

SET_FORMATS = [
    {"name": "hdf5", "role": "set (read/write)", "suffixes": [".h5", ".hdf5", ".hdf", ".nxs"],
     "description": "spectool/1 spectra set, NeXus-compatible"},
    {"name": "npy", "role": "set (read/write)", "suffixes": [".npy"],
     "description": "float32 (N, L) array + .json sidecar; a stream of arrays on a pipe"},
    {"name": "npz", "role": "set (read)", "suffixes": [".npz"], "description": "arrays X, axis, y"},
]


@command(app, "formats")
def formats(env: Env, json: JsonOpt = False) -> None:
    """List the formats spectool reads (scans, sets) and writes (sets).

    Scan formats are told by content first; the suffix only breaks ties.
    """
    from spectool.io.readers import list_readers

    scans = [{"name": r.name, "role": "scan (read)", "suffixes": list(r.suffixes), "description": r.description}
             for r in list_readers()]
    write_rows(env, scans + SET_FORMATS, ["name", "role", "suffixes", "description"])
