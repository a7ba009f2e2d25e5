"""predict, embed and explain refuse a set whose axis quantity, units or kind is not the model's."""

from __future__ import annotations

import numpy as np
import pytest

from spectool.cli.main import run
from spectool.env import Env
from spectool.spectra import Axis, Chunk, SetMeta
from spectool.io.sets import write_set
from tests.cli.test_explain import AXIS, save_tiny, write_tiny_set


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("axis")
    save_tiny(d / "cnn.safetensors", "cnn1d")
    write_tiny_set(d / "good.h5")
    rng = np.random.default_rng(0)
    sets = {"embedding.h5": (Axis.index(128), "xrd"),  # what `spectool embed` writes: 128 features
            "radians.h5": (Axis(np.radians(AXIS.values), "two_theta", "rad"), "xrd"),
            "raman.h5": (Axis(AXIS.values * 20, "raman_shift", "1/cm"), "raman")}
    for name, (axis, kind) in sets.items():
        write_set(str(d / name), SetMeta(axis=axis, kind=kind), Chunk(rng.random((4, len(axis)), np.float32)), Env())
    return d


@pytest.mark.parametrize("command", [["predict"], ["embed"], ["explain", "--method", "occlusion"]], ids=lambda c: c[0])
@pytest.mark.parametrize("name, reason", [("embedding.h5", "index axis"), ("radians.h5", "in rad"),
                                          ("raman.h5", "raman spectrum")])
def test_a_set_on_another_axis_is_refused(folder, command, name, reason, tmp_path, capsys):
    out = tmp_path / "out.h5"
    code = run([*command, "-m", str(folder / "cnn.safetensors"), str(folder / name), "-o", str(out), "-q"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"spectool: error: {folder / name}: " in err and reason in err
    assert not out.exists()


def test_the_right_axis_still_passes(folder, tmp_path):
    code = run(["predict", "-m", str(folder / "cnn.safetensors"), str(folder / "good.h5"), "-o", str(tmp_path / "p.h5"),
                "-q"])
    assert code == 0
