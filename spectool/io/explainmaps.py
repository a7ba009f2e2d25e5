"""The ``/entry/explain`` group of an ``explain`` output (NXdata on the set's axis, DESIGN.md §3).

One row per input row, appended batch by batch: ``target`` (int64, the explained class),
``target_name``, ``predicted`` (int64), ``score`` (float32, what ``@score`` says), one (B, L) float32
map per method and, for a ViT, ``attention`` (B, depth, heads, N). Written once: ``classes``,
``axis`` (a link to ``/entry/data/axis``), the occlusion settings and the ViT's patch spans.
"""

from __future__ import annotations

import numpy as np

from spectool.io.groups import ExtraGroup


def open_explain_group(builder, ckpt, plan: dict, signal: str) -> ExtraGroup:
    """The group in the set ``builder`` writes, with what is written once; ``signal``: the main map's name."""
    model = ckpt.model
    occ = plan["occlusion"]
    group = ExtraGroup(builder, "explain", NX_class="NXdata", signal=signal, axes=[".", "axis"],
                       model=ckpt.meta["model"]["name"], methods=list(plan["methods"]),
                       score=_score_meaning(model))
    group.link("axis", "/entry/data/axis")
    group.put("classes", list(ckpt.labels))
    if "occlusion" in plan["methods"]:
        group.set_attrs(occlusion_window_points=occ.window, occlusion_stride_points=occ.stride,
                        occlusion_baseline=occ.baseline, occlusion_window=occ.window * plan["step"])
    if "arm" in plan["methods"] or "rollout" in plan["methods"]:
        spans = model.patch_spans().numpy()
        group.put("patch_start", spans[:, 0])
        group.put("patch_stop", spans[:, 1])
    return group


def append_maps(group: ExtraGroup, maps: dict, labels: list[str], methods: list[str]) -> None:
    """One batch of :func:`spectool.explain.maps.explain_batch`'s ``maps`` as rows of the group."""
    names = np.array([labels[t] for t in maps["target"]], dtype=object)
    group.append("target", maps["target"].astype(np.int64))
    group.append("target_name", names)
    group.append("predicted", maps["predicted"].astype(np.int64))
    group.append("score", maps["score"].astype(np.float32))
    for name in [*methods, "attention"]:
        if name in maps:
            group.append(name, maps[name].astype(np.float32))


def _score_meaning(model) -> str:
    if getattr(model, "output_kind", "logits") == "logits":
        return "softmax probability of the target class"
    return f"the model's {model.output_kind} for the target class (0 where it was not proposed)"
