"""ViT-1D: padding keeps the tail, attention captured by outside hooks, fused path otherwise."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spectool.models import vit1d
from spectool.models.vit1d import capture_attention
from tests.models.conftest import tiny_input, tiny_model


def test_tail_is_padded_not_dropped():
    model = tiny_model("vit1d")  # 50 points, patch 8 → 7 segments, the last holding 2 points
    assert model.num_patches == 7 and model.pos_embed.shape[1] == 8
    x = tiny_input(model, batch=1)
    y = x.clone()
    y[0, -1] += 1.0
    assert not torch.allclose(model(x), model(y))
    assert model.patch_spans()[-1].tolist() == [48, 50]


def test_patchify_pads_with_zeros():
    model = tiny_model("vit1d")
    patches = model.patchify(torch.ones(2, 50))
    assert patches.shape == (2, 7, 8)
    assert patches[0, -1].tolist() == [1, 1] + [0] * 6


def test_capture_attention_equals_fused_output():
    model = tiny_model("vit1d")
    x = tiny_input(model)
    fused = model(x)
    with capture_attention(model) as maps:
        explicit = model(x)
    torch.testing.assert_close(explicit, fused, rtol=1e-5, atol=1e-6)
    assert len(maps) == len(model.blocks)
    assert maps[0].shape == (3, 2, 8, 8)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(3, 2, 8))
    assert not any(m.observed for m in model.attention_modules)  # hooks removed


def test_fused_attention_used_without_hooks(monkeypatch):
    calls = []
    fused = F.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls.append(1)
        return fused(*args, **kwargs)

    monkeypatch.setattr(vit1d.F, "scaled_dot_product_attention", counting)
    model = tiny_model("vit1d").train()
    model(tiny_input(model))
    assert len(calls) == len(model.blocks)
    with capture_attention(model):
        model.eval()(tiny_input(model))
    assert len(calls) == len(model.blocks)


def test_explicit_weights_match_a_slow_reference():
    model = tiny_model("vit1d")
    x = tiny_input(model, batch=2)
    with capture_attention(model) as maps:
        model(x)
    block = model.blocks[0]
    tokens = torch.cat([model.cls_token.expand(2, -1, -1), model.patch_embed(model.patchify(x))], 1)
    h = block.norm1(tokens + model.pos_embed)
    q, k, _ = block.attn.qkv(h).chunk(3, dim=-1)
    q, k = (t.view(2, 8, 2, 8).transpose(1, 2) for t in (q, k))
    reference = torch.softmax(q @ k.transpose(-1, -2) / 8 ** 0.5, dim=-1)
    torch.testing.assert_close(maps[0], reference, rtol=1e-5, atol=1e-6)


def test_drop_path_only_in_training():
    model = tiny_model("vit1d", drop_path=0.5, dropout=0.0)
    x = tiny_input(model)
    assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    assert not torch.equal(model(x), model(x))


def test_smear_makes_segments_tolerate_small_shifts():
    import pytest

    x = torch.zeros(2, 50)
    x[0, 20], x[1, 21] = 1.0, 1.0  # one peak, shifted by one point: segment 2 holds points 16…23
    plain, smeared = tiny_model("vit1d").patchify(x), tiny_model("vit1d", smear=5).patchify(x)
    assert torch.equal(plain[0, 2], x[0, 16:24]) and (plain[0, 2] * plain[1, 2]).sum() == 0  # no overlap
    assert smeared[0, 2].tolist() == [0, 0, 1, 1, 1, 1, 1, 0]  # ±2 points around the peak
    assert (smeared[0, 2] * smeared[1, 2]).sum() == 4  # the shifted copy shares 4 of 5 inputs
    with pytest.raises(ValueError):
        tiny_model("vit1d", smear=4)


def test_train_sets_a_one_degree_smear_for_vit_only():
    import numpy as np

    from spectool.spectra import Axis
    from spectool.learn.job import train_model_args

    grid = Axis(np.arange(5, 90.0001, 0.02))
    assert train_model_args("vit1d", {}, grid) == {"smear": 51}
    assert train_model_args("vit1d", {"smear": 0}, grid) == {"smear": 0}
    assert train_model_args("cnn1d", {}, grid) == {}
    assert train_model_args("vit1d", {}, Axis(np.arange(100, 200.0), "raman_shift", "1/cm")) == {}
