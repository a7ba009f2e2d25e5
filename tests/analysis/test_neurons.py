"""Neuron-response clustering: planted neuron groups are found, and each is explained by the descriptor
that drives it."""

from __future__ import annotations

import numpy as np

from spectool.analysis.neurons import group_report, neuron_groups, separation
from spectool.graph.atoms import parse_xyz
from spectool.graph.descriptors import site_descriptors
from spectool.graph.star import star_graphs


def _planted(seed=0):
    """60 samples, two descriptors; neurons 0–5 follow the first, 6–11 the second, 12 is silent."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=60), rng.normal(size=60)
    acts = np.concatenate([a[:, None] * rng.uniform(1, 2, 6) + rng.normal(0, 0.1, (60, 6)),
                           b[:, None] * rng.uniform(1, 2, 6) + rng.normal(0, 0.1, (60, 6)), np.ones((60, 1))], 1)
    return acts, {"first": a, "second": b, "noise": rng.normal(size=60)}


def test_planted_neuron_groups_are_found():
    acts, _ = _planted()
    labels = neuron_groups(acts, 2)
    assert labels[12] == -1
    assert len(set(labels[:6])) == 1 and len(set(labels[6:12])) == 1 and labels[0] != labels[6]


def test_each_group_is_explained_by_its_own_descriptor():
    acts, descriptors = _planted(1)
    rows = group_report(acts, descriptors, 2)
    assert sorted(r["descriptor"] for r in rows) == ["first", "second"]
    assert all(r["d"] > 1.0 and r["responders"] > r["others"] and r["samples"] == 15 for r in rows)


def test_separation_is_cohens_d():
    v = np.array([0.0, 0.0, 2.0, 2.0])
    assert separation(v, v > 1) == 0.0  # no spread within either side: undefined, reported as 0
    w = np.array([0.0, 1.0, 2.0, 3.0])
    assert np.isclose(separation(w, np.array([False, False, True, True])), 2.0 / np.sqrt(0.25))


def test_site_descriptors_of_an_octahedron():
    text = "7\n\nFe 0 0 0\nO 2 0 0\nO -2 0 0\nO 0 2 0\nO 0 -2 0\nN 0 0 2.1\nN 0 0 -2.1\n"
    d = site_descriptors(star_graphs([parse_xyz(text)], "Fe", k=8, cutoff=6.0))
    assert d["coordination"][0] == 6 and d["shell_O"][0] == 4 and d["shell_N"][0] == 2
    assert np.isclose(d["nearest"][0], 2.0) and np.isclose(d["shell_distance"][0], (8 + 4.2) / 6)
