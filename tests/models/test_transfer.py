"""Transfer learning: backbone copied by name and shape, head kept new unless the classes match."""

from __future__ import annotations

import pytest
import torch

from spectool.errors import UsageError
from spectool.models import create_model
from spectool.models.transfer import build_like, init_from, transfer_weights
from tests.models.conftest import tiny_model


class Loaded:
    """What load_checkpoint returns, as far as init_from cares."""

    def __init__(self, model, labels):
        self.model, self.labels = model, labels
        self.meta = {"model": {"name": model.model_name, "kwargs": model.config}}


@pytest.mark.parametrize("name", ["vit1d", "cnn1d", "resnet1d"])
def test_new_classes_keep_the_new_head(name):
    source = tiny_model(name, seed=1)
    target = tiny_model(name, seed=2, num_classes=3)
    head_before = {n: p.clone() for n, p in target.named_parameters() if target.is_head_key(n)}
    report = init_from(target, Loaded(source, list("abcde")), labels=["x", "y", "z"])
    assert report.head == "new" and report.loaded and not report.adapted
    assert all(target.is_head_key(k) for k in report.skipped)
    for n, p in target.named_parameters():
        expected = head_before[n] if n in head_before else source.state_dict()[n]
        assert torch.equal(p, expected), n


def test_same_labels_copy_the_head_too():
    source, target = tiny_model("cnn1d", seed=1), tiny_model("cnn1d", seed=2)
    report = init_from(target, Loaded(source, list("abcde")), labels=list("abcde"))
    assert report.head == "copied" and not report.skipped
    x = torch.rand(2, 50)
    torch.testing.assert_close(target(x), source(x))


def test_freeze_stops_backbone_gradients():
    source, target = tiny_model("resnet1d", seed=1), tiny_model("resnet1d", seed=2, num_classes=2)
    report = init_from(target, Loaded(source, list("abcde")), freeze=True)
    assert report.frozen and all(not target.is_head_key(n) for n in report.frozen)
    assert all(not p.requires_grad for p in target.backbone_parameters())
    assert all(p.requires_grad for p in target.head_parameters())


def test_vit_position_embeddings_interpolated_for_another_length():
    source = tiny_model("vit1d", seed=1)  # 50 points → 7 segments
    target = tiny_model("vit1d", seed=2, input_length=90, num_classes=2)  # 12 segments
    report = init_from(target, Loaded(source, list("abcde")))
    assert report.adapted == ["pos_embed"]
    torch.testing.assert_close(target.pos_embed[:, :2], source.pos_embed[:, :2])
    torch.testing.assert_close(target.pos_embed[:, -1], source.pos_embed[:, -1])


def test_mismatched_shapes_are_reported_not_raised():
    source, target = tiny_model("cnn1d", seed=1), tiny_model("cnn1d", seed=2, channels=[4, 4, 8, 16])
    report = init_from(target, Loaded(source, list("abcde")))
    assert any("does not fit" in why for why in report.skipped.values())
    assert "features.0.0.weight" in report.loaded


def test_build_like_changes_only_what_is_asked():
    source = tiny_model("vit1d")
    model = build_like(Loaded(source, list("abcde")), num_classes=9)
    assert model.config == {**source.config, "num_classes": 9}


def test_only_networks_transfer():
    union = tiny_model("rcnet_union")
    with pytest.raises(UsageError, match="no backbone"):
        transfer_weights(union, {})
    assert create_model("resnet1d", num_classes=2, input_length=50)


def test_vit_position_embeddings_relearned_for_another_length():
    source = tiny_model("vit1d", seed=1)
    target = tiny_model("vit1d", seed=2, input_length=90, num_classes=2)
    fresh = target.pos_embed.detach().clone()
    report = init_from(target, Loaded(source, list("abcde")), adapt=False)
    assert not report.adapted and report.skipped["pos_embed"].endswith("learned anew")
    assert torch.equal(target.pos_embed, fresh)  # the new model's own initialisation
    torch.testing.assert_close(target.patch_embed.weight, source.patch_embed.weight)


@pytest.mark.parametrize("name, frozen, trained", [
    ("vit1d", ["patch_embed.weight", "cls_token", "blocks.0.attn.qkv.weight"], ["blocks.1.attn.qkv.weight", "pos_embed", "norm.weight", "head.weight"]),
    ("cnn1d", ["features.0.0.weight"], ["features.1.0.weight", "classifier.weight"]),
    ("resnet1d", ["stem.0.0.weight", "blocks.0.conv1.0.weight"], ["blocks.1.conv1.0.weight", "fc.weight"]),
])
def test_freeze_blocks_stops_the_stem_and_the_first_blocks_only(name, frozen, trained):
    source, target = tiny_model(name, seed=1), tiny_model(name, seed=2, num_classes=2)
    report = init_from(target, Loaded(source, list("abcde")), freeze_blocks=1)
    grads = {n: p.requires_grad for n, p in target.named_parameters()}
    assert set(frozen) <= set(report.frozen) and not any(grads[n] for n in frozen)
    assert all(grads[n] for n in trained) and not set(trained) & set(report.frozen)
    with pytest.raises(UsageError, match="blocks"):
        init_from(tiny_model(name, seed=3, num_classes=2), Loaded(source, list("abcde")), freeze_blocks=99)


def test_init_takes_the_checkpoints_architecture_but_not_its_grid():
    from spectool.learn.job import inherited_args

    kwargs = {"num_classes": 278, "input_length": 4251, "patch": 120, "dim": 96, "depth": 4, "smear": 51}
    assert inherited_args(kwargs, {"depth": 2}) == {"patch": 120, "dim": 96, "depth": 2}
