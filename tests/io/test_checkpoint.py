"""Checkpoints: round trips for every registered model, a cheap header, FormatError on bad files."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from spectool.errors import FormatError, UsageError
from spectool.io.checkpoint import (CHECKPOINT_FORMAT, load_checkpoint, read_header,
                                    save_checkpoint)
from spectool.spectra import Axis, SetMeta
from spectool.models import create_model, list_models
from spectool.models.registry import tiny_kwargs

torch.set_num_threads(1)


def tiny(name):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = create_model(name, **tiny_kwargs(name))
        for buffer in model.buffers():  # fitted parameters of classical models, class means
            if buffer.is_floating_point():
                buffer.uniform_(0.5, 1.5)
    if hasattr(model, "fit_y"):
        model.fit_y.copy_(torch.arange(len(model.fit_y)) % model.num_classes)
    return model.eval()


def save(path, model, **overrides):
    n = model.input_length
    kwargs = dict(labels=[f"class{i}" for i in range(model.num_classes)],
                  input={"axis": Axis(np.linspace(5, 90, n)), "kind": "xrd", "wavelength": 1.5406},
                  preprocess=[{"op": "normalize", "mode": "max"}],
                  train={"seed": 3, "argv": ["spectool", "train"], "metrics": {"val_top1": 0.5}})
    return save_checkpoint(path, model, **{**kwargs, **overrides})


@pytest.mark.parametrize("name", [n for n in list_models() if n not in list_models("graph")])
def test_round_trip_every_model(name, tmp_path):
    model = tiny(name)
    path = save(tmp_path / "m.safetensors", model, extra_tensors={"norm_mean": np.ones(3)})
    ckpt = load_checkpoint(path)
    x = torch.rand(4, model.input_length)
    with torch.no_grad():
        torch.testing.assert_close(ckpt.model(x), model(x), rtol=0, atol=0)
    assert type(ckpt.model) is type(model) and ckpt.model.config == model.config
    assert not ckpt.model.training
    assert ckpt.labels == [f"class{i}" for i in range(model.num_classes)]
    assert ckpt.train["metrics"] == {"val_top1": 0.5} and ckpt.task == "classification"
    assert ckpt.preprocess == [{"op": "normalize", "mode": "max"}]
    np.testing.assert_array_equal(ckpt.axis.values, np.linspace(5, 90, model.input_length))
    assert ckpt.axis.quantity == "two_theta" and ckpt.input["wavelength"] == 1.5406
    assert torch.equal(ckpt.tensors["norm_mean"], torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("name", list_models("graph"))
def test_round_trip_every_structure_to_spectrum_model(name, tmp_path):
    from spectool.learn.graphdata import build_graphs, to_batch
    from tests.graph import synth

    torch.manual_seed(0)
    model = create_model(name, **tiny_kwargs(name)).eval()  # not tiny(): its fixed tables are not weights
    model.spectrum_mean.copy_(torch.rand(model.output_length))  # the fitted target centring travels too
    axis = np.linspace(7112, 7167, model.output_length)
    path = save_checkpoint(tmp_path / "m.safetensors", model, labels=[], task="spectrum", preprocess=[],
                           input={"axis": axis, "kind": "structure", "absorber": "Fe"}, train={})
    ckpt = load_checkpoint(path)
    batch = to_batch(build_graphs(model, synth.pairs(3)[0], "Fe"))
    with torch.no_grad():
        torch.testing.assert_close(ckpt.model(batch), model(batch), rtol=0, atol=0)
    assert ckpt.task == "spectrum" and ckpt.input["absorber"] == "Fe" and ckpt.model.config == model.config
    np.testing.assert_array_equal(ckpt.axis.values, axis)


def test_header_needs_only_the_standard_library(tmp_path):
    path = save(tmp_path / "m.safetensors", tiny("cnn1d"))
    code = ("import sys; from spectool.io.checkpoint import read_header; "
            f"h = read_header({str(path)!r}); assert 'torch' not in sys.modules; "
            "print(h.meta['model']['name'], h.meta['spectool.format'], h.n_parameters)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n = sum(p.numel() for p in tiny("cnn1d").state_dict().values())
    assert out.stdout.split() == ["cnn1d", CHECKPOINT_FORMAT, str(n)]


def test_header_schema(tmp_path):
    meta = read_header(save(tmp_path / "m.safetensors", tiny("cnn1d"))).meta
    assert meta["model"] == {"name": "cnn1d", "kwargs": tiny("cnn1d").config}
    assert meta["input"] == {"kind": "xrd", "wavelength": 1.5406, "quantity": "two_theta",
                             "units": "deg", "length": 50, "axis_tensor": "spectool.axis"}
    assert meta["explain"] == {"cam_layer": "features.3", "cam_exact": True, "attention": False}
    assert read_header(save(tmp_path / "v.safetensors", tiny("vit1d"))).meta["explain"]["attention"]


def test_set_meta_as_input(tmp_path):
    model = tiny("resnet1d")
    meta = SetMeta(axis=Axis(np.arange(50.0), "wavenumber", "1/cm"), kind="ftir")
    ckpt = load_checkpoint(save(tmp_path / "m.safetensors", model, input=meta))
    assert ckpt.input["kind"] == "ftir" and ckpt.axis.units == "1/cm"


def test_mode_follows_umask_and_write_is_atomic(tmp_path):
    old = os.umask(0o022)
    try:
        path = save(tmp_path / "m.safetensors", tiny("cnn1d"))
        assert (path.stat().st_mode & 0o777) == 0o644
        os.umask(0o077)
        path = save(tmp_path / "m.safetensors", tiny("cnn1d"))
        assert (path.stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_save_refuses_mismatched_labels_or_axis(tmp_path):
    model = tiny("cnn1d")
    with pytest.raises(UsageError, match="labels"):
        save(tmp_path / "m.safetensors", model, labels=["a"])
    with pytest.raises(UsageError, match="axis"):
        save(tmp_path / "m.safetensors", model, input={"axis": np.arange(7.0)})
    with pytest.raises(UsageError, match="reserved"):
        save(tmp_path / "m.safetensors", model, extra_tensors={"axis": np.ones(2)})
    assert not list(tmp_path.iterdir())


def test_load_on_a_device(tmp_path):
    ckpt = load_checkpoint(save(tmp_path / "m.safetensors", tiny("vit1d")), device="cpu")
    assert next(ckpt.model.parameters()).device.type == "cpu"


# --- bad files: always FormatError naming the file ------------------------------------------

def rewrite_meta(path, **changes):
    """A copy of the checkpoint's tensors with some metadata values replaced (None deletes)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta.update(changes)
    save_file(tensors, str(path), metadata={k: v for k, v in meta.items() if v is not None})
    return path


def bad_files(tmp_path):
    good = save(tmp_path / "good.safetensors", tiny("cnn1d"))
    data = good.read_bytes()
    files = {
        "empty": b"",
        "text": b"2theta intensity\n10.0 5\n10.02 7\n" * 4,
        "truncated-header": data[:40],
        "truncated-tensors": data[:-100],
        "header-not-json": struct.pack("<Q", 4) + b"{{{{",
        "header-not-object": struct.pack("<Q", 2) + b"[]",
        "bad-offsets": _raw({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}),
        "offsets-not-numbers": _raw({"w": {"dtype": "F32", "shape": [2], "data_offsets": ["a", 1]}}),
        "entry-not-object": _raw({"w": "F32"}),
    }
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / f"{name}.safetensors"
        paths[name].write_bytes(content)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.ones(2)}, str(foreign), metadata={"format": "pt"})
    paths["foreign"] = foreign
    for name, change in {"newer": {"spectool.format": "spectool-checkpoint/2"},
                         "other-format": {"spectool.format": "somebody-else/1"},
                         "model-not-json": {"model": "{"},
                         "model-shape": {"model": json.dumps(["cnn1d"])},
                         "labels-shape": {"labels": json.dumps("abc")},
                         "no-labels": {"labels": None},
                         "unknown-arch": {"model": json.dumps({"name": "gpt9", "kwargs": {}})},
                         "bad-kwargs": {"model": json.dumps({"name": "cnn1d", "kwargs": {"x": 1}})},
                         "wrong-weights": {"model": json.dumps({"name": "cnn1d", "kwargs": {
                             **tiny("cnn1d").config, "channels": [4, 4, 8, 16]}})},
                         "too-many-labels": {"labels": json.dumps(list("abcdefg"))}}.items():
        paths[name] = tmp_path / f"{name}.safetensors"
        paths[name].write_bytes(data)
        rewrite_meta(paths[name], **change)
    paths["missing"] = tmp_path / "missing.safetensors"
    paths["folder"] = tmp_path
    return paths


def _raw(header: dict) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text


BAD = ["empty", "text", "truncated-header", "truncated-tensors", "header-not-json",
       "header-not-object", "bad-offsets", "offsets-not-numbers", "entry-not-object", "foreign", "newer", "other-format", "model-not-json",
       "model-shape", "labels-shape", "no-labels", "unknown-arch", "bad-kwargs", "wrong-weights",
       "too-many-labels", "missing", "folder"]


def test_bad_files_raise_format_error_naming_the_file(tmp_path):
    paths = bad_files(tmp_path)
    assert sorted(paths) == sorted(BAD)
    for name, path in paths.items():
        with pytest.raises(FormatError) as info:
            load_checkpoint(path)
        assert info.value.path == str(path), name
        assert str(path) in str(info.value)


@pytest.mark.parametrize("name, reason", [
    ("truncated-tensors", "truncated"), ("truncated-header", "truncated"),
    ("foreign", "not a spectool checkpoint"), ("newer", "newer than this spectool"),
    ("text", "not a safetensors file"), ("unknown-arch", "unknown model architecture 'gpt9'"),
    ("wrong-weights", "do not fit"), ("missing", "no such file")])
def test_reasons(tmp_path, name, reason):
    with pytest.raises(FormatError, match=reason):
        load_checkpoint(bad_files(tmp_path)[name])


def test_any_truncation_or_header_damage_is_a_format_error(tmp_path):
    data = save(tmp_path / "good.safetensors", tiny("vit1d")).read_bytes()
    rng = np.random.default_rng(0)
    (n,) = struct.unpack("<Q", data[:8])
    damaged = [data[:cut] for cut in rng.integers(0, len(data), 25)]
    for pos in rng.integers(0, 8 + n, 40):
        damaged.append(data[:pos] + bytes([data[pos] ^ 0x5A]) + data[pos + 1:])
    path = tmp_path / "bad.safetensors"
    for content in damaged:
        path.write_bytes(content)
        try:
            load_checkpoint(path)
        except FormatError as exc:
            assert exc.path == str(path)


def _with_model_kwargs(src, dst, **kwargs):
    """A copy of checkpoint ``src`` whose metadata claims other constructor arguments (same tensors)."""
    from safetensors import safe_open

    with safe_open(str(src), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model = json.loads(meta["model"])
    model["kwargs"].update(kwargs)
    save_file(tensors, str(dst), metadata={**meta, "model": json.dumps(model)})
    return dst


def test_a_header_claiming_a_huge_model_is_refused_before_any_allocation(tmp_path):
    """dim 100000 would be ~120 GB of weights: the shapes are checked on the meta device first
    (the child runs under an address-space limit, so a real allocation fails rather than swaps)."""
    lying = _with_model_kwargs(save(tmp_path / "vit.safetensors", tiny("vit1d")), tmp_path / "lying.safetensors",
                               dim=100000, heads=2)
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))\n"
            "from spectool.io.checkpoint import load_checkpoint\nfrom spectool.errors import FormatError\n"
            f"try:\n    load_checkpoint({str(lying)!r})\nexcept FormatError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "weights do not fit vit1d: cls_token is (1, 1, 16) in the file, its metadata makes it (1, 1, 100000)" \
        in out.stdout, out.stdout + out.stderr


def test_tensor_bytes_must_match_their_shape_and_dtype(tmp_path):
    path = save(tmp_path / "m.safetensors", tiny("cnn1d"))
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [10**6] + header[name]["shape"][1:]  # claims more values than its bytes hold
    text = json.dumps(header).encode()
    (tmp_path / "bad.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
    with pytest.raises(FormatError, match=f"bad entry for tensor '{name}'"):
        read_header(tmp_path / "bad.safetensors")


def test_half_weights_halves_the_weights_and_loads_the_same_model_to_float16_precision(tmp_path):
    from spectool.io.checkpoint import half_weights

    model = tiny("cnn1d")
    with torch.no_grad():
        model.classifier.bias[0] = 1e5  # beyond float16: this tensor must stay float32
    path = save(tmp_path / "m.safetensors", model, extra_tensors={"norm_mean": np.full(3, 1e-9)})
    before = path.stat().st_size
    out, n, saved = half_weights(path, tmp_path / "half.safetensors")
    header = read_header(out)
    dtypes = {k: t["dtype"] for k, t in header.tensors.items()}
    assert dtypes["classifier.bias"] == "F32" and dtypes["classifier.weight"] == "F16"
    assert dtypes["spectool.axis"] == "F64" and dtypes["spectool.norm_mean"] == "F64"  # extras untouched
    assert n == sum(v == "F16" for v in dtypes.values()) and saved > 0
    assert abs(before - out.stat().st_size - saved) < 64  # the header's dtype names and padding aside
    assert header.meta == read_header(path).meta
    ckpt = load_checkpoint(out)
    assert all(p.dtype == torch.float32 for p in ckpt.model.parameters())
    x = torch.rand(4, model.input_length)
    with torch.no_grad():
        torch.testing.assert_close(ckpt.model(x), model(x), rtol=2e-3, atol=2e-3)
    assert ckpt.tensors["norm_mean"][0] == 1e-9
