"""Features from forward_features or a hooked layer; PCA of the raw patterns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectool.analysis.embed import features, raw_pca, reduce_output
from spectool.errors import UsageError
from tests.models.conftest import tiny_model

torch.set_num_threads(1)


@pytest.mark.parametrize("name", ["vit1d", "cnn1d", "resnet1d", "rcnet_union"])
def test_features_are_forward_features_in_any_batch_size(name):
    model = tiny_model(name)
    X = np.random.default_rng(0).random((7, model.input_length), dtype=np.float32)
    a, b = features(model, X, batch_size=3), features(model, X, batch_size=100)
    with torch.no_grad():
        expected = model.forward_features(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_named_vit_block_gives_its_cls_token():
    model = tiny_model("vit1d")
    X = np.random.default_rng(0).random((4, 50), dtype=np.float32)
    out = features(model, X, layer="blocks.1")
    with torch.no_grad():
        tokens = model.forward_tokens(torch.from_numpy(X))  # after the final norm
    assert out.shape == (4, tokens.shape[-1])
    np.testing.assert_allclose(model.norm(torch.from_numpy(out)).detach().numpy(), tokens[:, 0].numpy(),
                               rtol=1e-4, atol=1e-5)


def test_a_named_conv_layer_is_averaged_over_length():
    model = tiny_model("cnn1d")
    X = np.random.default_rng(0).random((4, 50), dtype=np.float32)
    out = features(model, X, layer="features.3")
    with torch.no_grad():
        expected = model.forward_maps(torch.from_numpy(X)).mean(-1).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert features(model, X, layer="features.3", reduce="flatten").shape == (4, 8 * model.map_length)


def test_unknown_layer_and_reduce_are_usage_errors():
    model = tiny_model("cnn1d")
    with pytest.raises(UsageError, match="no layer"):
        features(model, np.zeros((1, 50), np.float32), layer="nope")
    with pytest.raises(UsageError, match="reduce"):
        reduce_output(torch.zeros(1, 2, 3), model, "median")


def test_raw_pca_orders_variance_and_caps_components():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 30)) * np.linspace(5, 0.1, 30)
    scores, ratio = raw_pca(X, 50)
    assert scores.shape == (20, 20) and len(ratio) == 20
    assert np.all(np.diff(ratio) <= 1e-12) and ratio.sum() == pytest.approx(1.0)
