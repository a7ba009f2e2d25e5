"""CAM equals the hand-computed weighted sum; Grad-CAM and occlusion find the one peak a model sees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spectool.explain import cam as C
from spectool.explain.maps import OcclusionSettings, check_methods, default_methods, explain_batch, supported
from tests.explain.conftest import STRONG, WEAK, one_peak_cnn, two_peaks
from tests.models.conftest import tiny_input, tiny_model


@pytest.mark.parametrize("name", ["cnn1d", "resnet1d"])
def test_cam_is_the_hand_computed_weighted_sum(name):
    model = tiny_model(name)
    x = tiny_input(model, batch=3)
    out = C.cam(model, x)
    with torch.no_grad():
        maps = model.forward_maps(x)  # (B, K, L')
        logits = model(x)
    for b in range(3):
        c = int(logits[b].argmax())
        w = model.classifier.weight[c]
        manual = sum(w[k] * maps[b, k] for k in range(maps.shape[1]))
        torch.testing.assert_close(out["map"][b], manual, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(out["map"][b].mean() + model.classifier.bias[c], logits[b, c],
                                   rtol=1e-5, atol=1e-5)


def test_cam_for_a_chosen_class_and_refused_for_a_dense_head():
    model = tiny_model("cnn1d")
    x = tiny_input(model)
    out = C.cam(model, x, target=3)
    assert out["target"].tolist() == [3, 3, 3]
    with pytest.raises(TypeError, match="Grad-CAM"):
        C.cam(tiny_model("cnn1d", head="dense"), x)


def test_gradcam_of_a_gap_head_is_relu_cam_over_length():
    model = tiny_model("cnn1d")
    x = tiny_input(model)
    exact, grad = C.cam(model, x), C.grad_cam(model, x)
    torch.testing.assert_close(grad["map"], torch.relu(exact["map"]) / exact["map"].shape[-1], rtol=1e-5, atol=1e-7)


def test_gradcam_works_on_a_dense_head_and_leaves_no_hooks():
    model = tiny_model("cnn1d", head="dense")
    out = C.grad_cam(model, tiny_input(model))
    assert out["map"].shape == (3, model.map_length) and (out["map"] >= 0).all()
    assert not model.cam_layer._forward_hooks


def test_gradcam_and_occlusion_highlight_the_peak_the_model_sees():
    model, x = one_peak_cnn(), two_peaks()
    grad = C.to_input_points(C.grad_cam(model, x)["map"], x.shape[1])
    occ = C.occlusion(model, x, window=5, stride=1)["map"]
    for heat in (grad, occ):
        assert int(heat[0].argmax()) in range(STRONG - 2, STRONG + 3)
        assert heat[0, WEAK - 3:WEAK + 4].abs().max() < 1e-6  # the low peak does not matter
        assert heat[0, STRONG] > 0


def test_occlusion_windows_cover_every_point_and_batches_agree():
    starts = C.window_starts(50, 8, 5)
    assert starts[-1] == 42 and starts[0] == 0
    model = tiny_model("resnet1d")
    x = tiny_input(model, batch=3)
    a = C.occlusion(model, x, window=8, stride=5, batch_size=7)
    b = C.occlusion(model, x, window=8, stride=5, batch_size=1000)
    torch.testing.assert_close(a["map"], b["map"])
    assert a["drops"].shape == (3, len(starts))
    with pytest.raises(ValueError):
        C.window_starts(10, 11, 1)


def test_to_input_points_keeps_a_constant_map():
    maps = torch.full((2, 6), 3.0)
    torch.testing.assert_close(C.to_input_points(maps, 50), torch.full((2, 50), 3.0))


def test_method_selection():
    assert default_methods(tiny_model("vit1d")) == ["arm", "rollout"]
    assert default_methods(tiny_model("cnn1d")) == ["cam", "gradcam"]
    assert default_methods(tiny_model("cnn1d", head="dense")) == ["gradcam"]
    assert default_methods(tiny_model("rcnet_union")) == ["occlusion"]
    with pytest.raises(ValueError, match="does not support cam"):
        check_methods(tiny_model("vit1d"), ["cam"])
    assert "occlusion" in supported(tiny_model("vit1d"))


@pytest.mark.parametrize("name", ["vit1d", "cnn1d", "resnet1d", "rcnet_union"])
def test_explain_batch_gives_maps_on_the_input_points(name):
    model = tiny_model(name)
    X = np.random.default_rng(0).random((3, model.input_length), dtype=np.float32)
    maps = explain_batch(model, X, supported(model), occlusion=OcclusionSettings(window=10))
    for method in supported(model):
        assert maps[method].shape == (3, model.input_length) and np.isfinite(maps[method]).all()
    assert ((maps["score"] >= 0) & (maps["score"] <= 1)).all() or name == "rcnet_union"
