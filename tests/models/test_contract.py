"""The timm face, for every registered network: forward, backward, features, head swap, freeze."""

from __future__ import annotations

import json

import pytest
import torch

from spectool.errors import UsageError
from spectool.models import create_model, list_models, model_kind
from spectool.models.base import ExplainHooks
from tests.models.conftest import tiny_input, tiny_model

NETWORKS = list_models("network")
ALL = [n for n in list_models() if model_kind(n) != "graph"]  # structure → spectrum: test_graph_models.py


def test_registry_lists_every_family():
    assert {"vit1d", "cnn1d", "resnet1d", "rcnet_union", "knn", "logreg", "gaussian_nb"} <= set(ALL)
    assert set(list_models("classical")) == {"knn", "logreg", "gaussian_nb"}


def test_unknown_name_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown model 'nope'"):
        create_model("nope")


@pytest.mark.parametrize("name", ALL)
def test_config_is_json_and_rebuilds(name):
    model = tiny_model(name)
    config = json.loads(json.dumps(model.config))
    assert config == model.config
    assert {"num_classes", "input_length"} <= set(config)
    rebuilt = create_model(name, **config)
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}


def test_constructor_is_keyword_only():
    with pytest.raises(TypeError):
        create_model("vit1d", 3, 50)


@pytest.mark.parametrize("name", NETWORKS)
def test_forward_shapes_and_features(name):
    model = tiny_model(name)
    x = tiny_input(model)
    logits, features = model(x), model.forward_features(x)
    assert logits.shape == (3, model.num_classes) and logits.dtype == torch.float32
    assert features.shape == (3, model.num_features)
    torch.testing.assert_close(model.forward_head(features), logits)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", NETWORKS)
def test_batch_equals_rows(name):
    model = tiny_model(name)
    x = tiny_input(model, batch=4)
    rows = torch.cat([model(x[i:i + 1]) for i in range(4)])
    torch.testing.assert_close(model(x), rows, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NETWORKS)
def test_backward_reaches_every_parameter(name):
    model = tiny_model(name).train()
    x = tiny_input(model, batch=4)
    loss = model(x).logsumexp(dim=1).sum()
    if hasattr(model, "forward_with_confidence"):  # the RCNet's confidence branch
        loss = loss + model.forward_with_confidence(x)[1].sum()
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", NETWORKS)
def test_reset_classifier(name):
    model = tiny_model(name)
    backbone = {n: p.clone() for n, p in model.named_parameters() if not model.is_head_key(n)}
    model.reset_classifier(7)
    assert model(tiny_input(model)).shape == (3, 7)
    assert model.config["num_classes"] == 7
    for n, p in model.named_parameters():
        if n in backbone:
            assert torch.equal(p, backbone[n]), n
    assert create_model(name, **model.config).state_dict().keys() == model.state_dict().keys()


@pytest.mark.parametrize("name", NETWORKS)
def test_backbone_and_head_partition_the_parameters(name):
    model = tiny_model(name)
    head = {id(p) for p in model.head_parameters()}
    backbone = {id(p) for p in model.backbone_parameters()}
    assert head and backbone and not head & backbone
    assert head | backbone == {id(p) for p in model.parameters()}


@pytest.mark.parametrize("name", NETWORKS)
def test_wrong_length_is_refused(name):
    model = tiny_model(name)
    with pytest.raises(UsageError, match="expects input"):
        model(torch.rand(2, model.input_length + 1))


@pytest.mark.parametrize("name", ALL)
def test_explain_hooks_are_declared_submodules(name):
    """Every model declares its explain hooks (networks at least one); they are its own modules."""
    model = tiny_model(name)
    hooks = model.explain_hooks()
    assert isinstance(hooks, ExplainHooks)
    own = {id(m) for m in model.modules()}
    declared = list(hooks.attention) + ([hooks.cam_layer] if hooks.cam_layer is not None else [])
    assert all(id(m) in own for m in declared)
    assert bool(declared) == (name in NETWORKS)
    assert not hooks.cam_exact or hooks.cam_layer is not None


@pytest.mark.parametrize("name", NETWORKS)
def test_eval_is_deterministic(name):
    model = tiny_model(name)
    x = tiny_input(model)
    assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", NETWORKS)
def test_default_hyper_parameters_build_for_a_full_pattern(name):
    model = create_model(name, num_classes=10, input_length=4251).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 4251)).shape == (2, 10)


def test_importing_the_package_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, spectool.models, spectool.io.checkpoint; "
            "from spectool.models import register_model, list_models; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
