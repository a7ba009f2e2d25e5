"""Structure → spectrum models (registry kind ``graph``): the face they share, and that ``gat`` learns a
spectrum that is a known function of the first shell and attends to that shell."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spectool.graph.star import star_graphs
from spectool.learn.graphdata import build_graphs, to_batch
from spectool.learn.spectrum import FitConfig, fit_spectra, predict_spectra, spectrum_metrics
from spectool.models.registry import create_model, get_model_class, list_models
from tests.graph import synth
from tests.models.conftest import tiny_model

GRAPH_MODELS = list_models("graph")
STAR_MODELS = [n for n in GRAPH_MODELS if get_model_class(n).graph_type == "star"]  # absorber-centred


def _batch(model, n=4, seed=0):
    mols, _ = synth.pairs(n, seed)
    return to_batch(build_graphs(model, mols, "Fe"))


def test_the_graph_models_are_registered():
    assert {"gat", "alignn"} <= set(GRAPH_MODELS) and STAR_MODELS


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_config_rebuilds_and_outputs_one_spectrum_per_sample(name):
    model = tiny_model(name)
    config = json.loads(json.dumps(model.config))
    assert config == model.config and "output_length" in config
    assert create_model(name, **config).state_dict().keys() == model.state_dict().keys()
    batch = _batch(model)
    out, features = model(batch), model.forward_features(batch)
    assert out.shape == (4, model.output_length) and features.shape == (4, model.num_features)
    torch.testing.assert_close(model.forward_head(features), out)


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_batch_equals_samples_one_by_one(name):
    model = tiny_model(name)
    mols, _ = synth.pairs(4, 1)
    whole = model(to_batch(build_graphs(model, mols, "Fe")))
    rows = torch.cat([model(to_batch(build_graphs(model, [m], "Fe"))) for m in mols])
    torch.testing.assert_close(whole, rows, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_backward_reaches_every_parameter(name):
    model = tiny_model(name).train()
    model(_batch(model)).sum().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", STAR_MODELS)
def test_a_site_with_several_absorbers_is_their_mean(name):
    model = tiny_model(name)
    mols, _ = synth.pairs(2, 3)
    both = mols[0].__class__(np.concatenate([mols[0].numbers, mols[1].numbers]),
                             np.concatenate([mols[0].positions, mols[1].positions + 100.0]))
    alone = model(to_batch(build_graphs(model, mols, "Fe"))).mean(0)
    torch.testing.assert_close(model(to_batch(build_graphs(model, [both], "Fe")))[0], alone, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def trained():
    """gat fitted on 200 synthetic pairs (seconds on one thread), validated on 20; 40 test pairs."""
    torch.set_num_threads(1)
    mols, Y = synth.pairs(260, seed=5)
    torch.manual_seed(0)
    model = create_model("gat", output_length=Y.shape[1], k=12, cutoff=6.0, n_rbf=32, hidden=32, layers=1)
    graphs = star_graphs(mols, "Fe", k=12, cutoff=6.0)
    result = fit_spectra(model, graphs, Y, np.arange(200), np.arange(200, 220),
                         FitConfig(epochs=30, batch_size=16, lr=5e-3, patience=0, seed=0))
    return result, graphs, Y


def test_gat_learns_a_known_function_of_the_first_shell(trained):
    result, graphs, Y = trained
    test = np.arange(220, 260)
    metrics = spectrum_metrics(Y[test], predict_spectra(result.model, graphs.of_samples(test)))
    assert metrics["r2"] >= 0.9, metrics["r2"]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"] / 3


def test_attention_concentrates_on_the_neighbours_the_spectrum_depends_on(trained):
    from spectool.explain.neighbours import neighbour_attention

    result, graphs, _ = trained
    test = graphs.of_samples(np.arange(220, 260))
    weights = neighbour_attention(result.model, to_batch(test)).weights.mean(1)  # (G, k) mean over heads
    first = (test.numbers > 0) & (test.distances < synth.FIRST_SHELL)
    share = (weights * first).sum(1)  # attention on the first shell, per graph
    expected = first.sum(1) / (test.numbers > 0).sum(1)  # what uniform attention would give
    assert share.mean() > expected.mean() + 0.25, (share.mean(), expected.mean())
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)
