"""The fast CPU dropout: torch's dropout in distribution, repeatable, and a drop-in nn.Dropout; the fast max-pool:
torch's, bit for bit."""

import pytest
import torch
from torch import nn

from spectool.models.cnn1d import conv_block
from spectool.models.layers import Dropout, dropout, keep_mask
from spectool.models.vit1d import DropPath


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_rate_and_scale(p):
    torch.manual_seed(0)
    x = torch.ones(1_000_003)  # not a multiple of four: the last draw is shared out partly
    out = dropout(x, p, True)
    kept = out != 0
    assert abs(1 - kept.float().mean().item() - p) < 3e-3
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / (1 - p)), rtol=1e-4)
    assert abs(out.mean().item() - 1.0) < 1e-2  # E[output] = input


def test_mask_elements_are_independent_of_their_neighbours():
    torch.manual_seed(1)
    kept = keep_mask((400_000,), 0.5, torch.empty(0)) != 0
    both = (kept[:-1] & kept[1:]).float().mean().item()  # neighbours share a 64-bit draw
    assert abs(both - 0.25) < 5e-3


def test_identity_when_not_training_or_p_zero_and_zero_at_p_one():
    x = torch.randn(8, 5)
    assert dropout(x, 0.3, False) is x
    assert dropout(x, 0.0, True) is x
    assert torch.equal(dropout(x, 1.0, True), torch.zeros_like(x))


def test_repeatable_under_manual_seed_and_different_without():
    x = torch.randn(64, 37)
    torch.manual_seed(5)
    a, b = dropout(x, 0.2, True), dropout(x, 0.2, True)
    torch.manual_seed(5)
    assert torch.equal(a, dropout(x, 0.2, True))
    assert not torch.equal(a, b)


def test_gradient_is_the_mask():
    torch.manual_seed(2)
    x = torch.randn(32, 16, requires_grad=True)
    out = dropout(x, 0.25, True)
    out.sum().backward()
    scale = 1 / (1 - round(0.25 * 65536) / 65536)
    assert torch.equal(x.grad, (out != 0).float() * scale)


def test_module_is_an_nn_dropout_with_no_state():
    layer = Dropout(0.2)
    assert isinstance(layer, nn.Dropout) and layer.state_dict() == {}
    assert repr(layer) == repr(nn.Dropout(0.2))
    layer.eval()
    x = torch.randn(4, 4)
    assert torch.equal(layer(x), x)


def test_drop_path_drops_whole_samples():
    torch.manual_seed(3)
    out = DropPath(0.5).train()(torch.ones(256, 7, 4))
    per_sample = out.flatten(1)
    assert torch.all((per_sample == 0).all(1) | (per_sample == 2).all(1))
    assert 0.35 < (per_sample[:, 0] == 0).float().mean().item() < 0.65


def test_cnn_block_pools_before_relu_with_the_values_of_relu_first():
    torch.manual_seed(4)
    block = conv_block(3, 6, 5, 2, 0.0, True).eval()
    x = torch.randn(2, 3, 41)
    conv, bn = block[0], block[1]
    relu_first = nn.functional.max_pool1d(torch.relu(bn(conv(x))), 2)
    assert torch.equal(block(x), relu_first)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_max_pool_by_two_gives_torchs_values_and_gradients_bit_for_bit(dtype):
    from spectool.models.layers import MaxPool1d

    x = torch.randint(0, 4, (3, 2, 41), generator=torch.Generator().manual_seed(0)).to(dtype)  # ties; odd length
    ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_ours = torch.relu(MaxPool1d(2)(ours))  # an in-place ReLU follows the pool in the CNN
    y_theirs = torch.relu(torch.nn.MaxPool1d(2)(theirs))
    grad = torch.randn(y_ours.shape, generator=torch.Generator().manual_seed(1)).to(dtype)
    y_ours.backward(grad)
    y_theirs.backward(grad)
    assert torch.equal(y_ours, y_theirs) and torch.equal(ours.grad, theirs.grad)
    assert torch.equal(ours.grad.signbit(), theirs.grad.signbit())  # zeros as +0, as torch's
