"""Union of RCNets: reliability R = αS + (1 − α)C, unknown below the threshold, members added later."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spectool.models import create_model
from spectool.models.ensemble import RCNetUnion, class_mean_patterns
from tests.models.conftest import tiny_input, tiny_model


def test_reliability_is_alpha_similarity_plus_confidence():
    union = tiny_model("rcnet_union")
    x = tiny_input(union)
    p = union.proposals(x)
    for m, (group, member) in enumerate(zip(union.groups, union.members)):
        logits, conf = member.forward_with_confidence(x)
        proposed = torch.tensor(group)[logits.argmax(1)]
        s = F.cosine_similarity(x, union.class_means[proposed], dim=-1)
        torch.testing.assert_close(p["proposed"][:, m], proposed)
        torch.testing.assert_close(p["reliability"][:, m], 0.7 * s + 0.3 * conf)


def test_forward_places_reliabilities_at_proposals():
    union = tiny_model("rcnet_union")
    x = tiny_input(union)
    out, p = union(x), union.proposals(x)
    assert out.shape == (3, 4)
    assert (torch.isfinite(out).sum(1) <= 2).all()
    decision = union.decide(x, threshold=-2.0)
    torch.testing.assert_close(out.max(1).values, decision.reliability)
    torch.testing.assert_close(out.argmax(1), decision.index)
    assert set(p) >= {"confidence", "similarity", "probability"}


def test_below_threshold_is_unknown():
    union = tiny_model("rcnet_union")
    x = tiny_input(union)
    assert (union.decide(x, threshold=2.0).index == -1).all()  # R ≤ 1 always
    known = union.decide(x, threshold=-2.0)
    assert (known.index >= 0).all() and ((known.member == 0) | (known.member == 1)).all()


def test_add_member_leaves_the_others_alone():
    union = tiny_model("rcnet_union")
    x = tiny_input(union)
    before = union.proposals(x)
    new = tiny_model("resnet1d", num_classes=3, seed=5, width=4, stages=[1, 1])
    ids = union.add_member(new, torch.rand(3, 50))
    assert ids == [4, 5, 6] and union.num_classes == 7 and union(x).shape == (3, 7)
    after = union.proposals(x)
    torch.testing.assert_close(after["reliability"][:, :2], before["reliability"])
    rebuilt = create_model("rcnet_union", **union.config)
    rebuilt.load_state_dict(union.state_dict())
    torch.testing.assert_close(rebuilt.eval()(x), union(x))


def test_from_members_and_class_means():
    members = [tiny_model("resnet1d", num_classes=2, seed=s, width=4, stages=[1]) for s in (1, 2)]
    X, y = torch.rand(20, 50), torch.arange(20) % 4
    means = class_mean_patterns(X, y, 4)
    torch.testing.assert_close(means[1], X[y == 1].mean(0))
    union = RCNetUnion.from_members(members, [[0, 2], [1, 3]], means).eval()
    x = tiny_input(union)
    logits, _ = members[1].forward_with_confidence(x)
    torch.testing.assert_close(union.proposals(x)["proposed"][:, 1],
                               torch.tensor([1, 3])[logits.argmax(1)])


def test_backward_through_members_and_features():
    union = tiny_model("rcnet_union").train()
    x = tiny_input(union, batch=4)
    out = union(x)
    out[torch.isfinite(out)].sum().backward()
    assert union.members[0].confidence.weight.grad is not None
    assert union.forward_features(x).shape == (4, union.num_features)
