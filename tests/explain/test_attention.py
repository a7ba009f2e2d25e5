"""ViT attention: capture every layer/head, ARM by hand, rollout rows sum to 1, patches → axis."""

from __future__ import annotations

import pytest
import torch

from spectool.explain import attention as A
from tests.models.conftest import tiny_input, tiny_model


@pytest.fixture
def vit():
    return tiny_model("vit1d", input_length=53)  # 7 patches of 8, the last one padded


def test_capture_every_layer_and_head_and_the_output_is_unchanged(vit):
    x = tiny_input(vit, batch=3)
    logits, attn = A.capture(vit, x)
    depth, heads, n = len(vit.blocks), vit.blocks[0].attn.heads, vit.num_patches + 1
    assert attn.shape == (depth, 3, heads, n, n)
    torch.testing.assert_close(attn.sum(-1), torch.ones(depth, 3, heads, n))
    with torch.no_grad():
        torch.testing.assert_close(logits, vit(x), rtol=1e-5, atol=1e-5)  # fused path, no hooks left
    assert not any(m.observed for m in vit.attention_modules)


def test_arm_is_the_last_layers_cls_row_averaged_over_heads(vit):
    _, attn = A.capture(vit, tiny_input(vit))
    manual = torch.stack([attn[-1, :, h, 0, 1:] for h in range(attn.shape[2])]).mean(0)
    torch.testing.assert_close(A.attention_rollout_map(attn), manual)


@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
def test_every_rollout_row_sums_to_one(vit, residual, fusion):
    _, attn = A.capture(vit, tiny_input(vit, batch=4))
    r = A.rollout(attn, residual=residual, head_fusion=fusion)
    assert r.shape == (4, vit.num_patches + 1, vit.num_patches + 1)
    torch.testing.assert_close(r.sum(-1), torch.ones(r.shape[:2]), rtol=1e-5, atol=1e-5)
    assert (r >= 0).all()


def test_rollout_matches_a_loop_over_layers(vit):
    _, attn = A.capture(vit, tiny_input(vit, batch=2))
    n = attn.shape[-1]
    expected = torch.eye(n).repeat(2, 1, 1).double()
    for layer in attn.double():
        a = 0.5 * layer.mean(1) + 0.5 * torch.eye(n)
        expected = torch.bmm(a / a.sum(-1, keepdim=True), expected)
    torch.testing.assert_close(A.rollout(attn).double(), expected, rtol=1e-5, atol=1e-6)


def test_one_layer_without_residual_is_the_attention_itself(vit):
    _, attn = A.capture(vit, tiny_input(vit))
    torch.testing.assert_close(A.rollout(attn[:1], residual=False), attn[0].mean(1))


def test_tokens_map_onto_their_points_and_the_padded_tail_is_dropped(vit):
    spans = vit.patch_spans()
    values = torch.arange(vit.num_patches, dtype=torch.float32)[None].repeat(2, 1)
    on_axis = A.tokens_to_axis(values, spans, 53)
    assert on_axis.shape == (2, 53)
    assert on_axis[0, :8].eq(0).all() and on_axis[0, 48:].eq(6).all() and on_axis[0, 47] == 5


def test_attention_maps_bundle(vit):
    maps = A.attention_maps(vit, tiny_input(vit, batch=2))
    assert maps["arm"].shape == maps["rollout"].shape == (2, 53)
    assert maps["attention"].shape == (2, len(vit.blocks), vit.blocks[0].attn.heads, vit.num_patches)
    # The [CLS] row of the rollout over the patches plus its [CLS] share is 1.
    assert (maps["rollout"][:, ::8].sum(-1) <= 1 + 1e-5).all()


def test_a_model_without_attention_is_refused():
    with pytest.raises(TypeError, match="attention"):
        A.capture(tiny_model("cnn1d"), torch.rand(1, 50))
