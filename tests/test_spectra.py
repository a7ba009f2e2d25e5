"""The data model (spectool/spectra.py): what io/ and the core both speak."""

from __future__ import annotations

import numpy as np

from spectool.spectra import Axis


def test_an_axis_describes_itself_for_messages():
    assert Axis(np.linspace(5, 90, 4251)).describe() == "4251 points 5–90 deg (two_theta)"
    assert Axis.index(3).describe() == "3 points 0–2 (index)"
    assert Axis(np.array([])).describe() == "an empty axis"
