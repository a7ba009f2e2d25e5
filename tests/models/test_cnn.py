"""CNN and RCNet: CAM is exact for GAP → linear heads; the RCNet's confidence branch."""

from __future__ import annotations

import pytest
import torch

from spectool.models.resnet1d import confidence_loss
from tests.models.conftest import tiny_input, tiny_model


def cam_maps(model, x):
    """CAM from a hook outside the model: Σ_k w_ck A_k(l) → (B, C, L')."""
    store = []
    handle = model.cam_layer.register_forward_hook(lambda _m, _i, out: store.append(out))
    logits = model(x)
    handle.remove()
    return logits, torch.einsum("ck,bkl->bcl", model.classifier.weight, store[0])


@pytest.mark.parametrize("name", ["cnn1d", "resnet1d"])
def test_cam_averages_to_the_logits(name):
    model = tiny_model(name)
    assert model.cam_exact
    logits, cam = cam_maps(model, tiny_input(model))
    torch.testing.assert_close(cam.mean(-1) + model.classifier.bias, logits, rtol=1e-5, atol=1e-6)


def test_cnn_dense_head_is_the_papers_and_not_cam_exact():
    model = tiny_model("cnn1d", head="dense")
    assert not model.cam_exact
    dense = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(dense) == 3  # the paper's three dense layers
    x = tiny_input(model)
    assert model.forward_features(x).shape == (3, 8)
    assert model.cam_layer(model.features[:-1](x.unsqueeze(1))).shape[-1] == model.map_length


def test_cnn_rejects_an_unknown_head():
    with pytest.raises(ValueError, match="head"):
        tiny_model("cnn1d", head="mlp")


def test_confidence_in_unit_interval_and_loss_trains():
    model = tiny_model("resnet1d").train()
    x, y = tiny_input(model, batch=6), torch.tensor([0, 1, 2, 3, 4, 0])
    logits, conf = model.forward_with_confidence(x)
    assert conf.shape == (6,) and ((conf > 0) & (conf < 1)).all()
    loss = confidence_loss(logits, conf, y)
    loss.backward()
    assert torch.isfinite(loss) and model.confidence.weight.grad is not None


def test_confidence_loss_matches_its_one_hot_definition():
    # DeVries & Taylor written out: p' = c·p + (1 − c)·onehot(y) over every class, NLL of p', + λ·(−log c)
    g = torch.Generator().manual_seed(0)
    logits, conf = torch.randn(7, 5, generator=g), torch.rand(7, generator=g)
    y = torch.randint(0, 5, (7,), generator=g)
    c = conf[:, None]
    hinted = c * torch.softmax(logits, 1) + (1 - c) * torch.nn.functional.one_hot(y, 5)
    oracle = torch.nn.functional.nll_loss(hinted.log(), y) + 0.3 * (-conf.log()).mean()
    assert torch.allclose(confidence_loss(logits, conf, y, 0.3), oracle, rtol=1e-6)


def test_unhinted_rows_are_scored_on_p_alone():
    """A row that may not ask for the hint contributes −log p(y) whatever its confidence: λ = 0 and no hints
    is plain cross-entropy; hinting every row is the default."""
    g = torch.Generator().manual_seed(1)
    logits, conf = torch.randn(6, 4, generator=g), torch.rand(6, generator=g)
    y = torch.randint(0, 4, (6,), generator=g)
    none = torch.zeros(6, dtype=torch.bool)
    plain = torch.nn.functional.cross_entropy(logits, y)
    assert torch.allclose(confidence_loss(logits, conf, y, 0.0, none), plain, rtol=1e-6)
    every = torch.ones(6, dtype=torch.bool)
    assert torch.allclose(confidence_loss(logits, conf, y, 0.3, every), confidence_loss(logits, conf, y, 0.3))


def test_lambda_follows_the_confidence_budget():
    """λ grows while −log c is above the budget β and shrinks while below (DeVries & Taylor), one step at a time."""
    from spectool.learn.train import Objective

    model = tiny_model("resnet1d").train()
    x, y = tiny_input(model, batch=6), torch.tensor([0, 1, 2, 3, 4, 0])
    above = Objective(model, confidence_lambda=0.1, confidence_budget=0.0)  # −log c > 0 always
    below = Objective(model, confidence_lambda=0.1, confidence_budget=100.0)
    for objective, factor in ((above, 1 / 0.99), (below, 1 / 1.01)):
        loss, _ = objective(x, y)
        loss.backward()
        assert float(objective.lam) == pytest.approx(0.1 * factor)
