"""``--device auto|cpu|cuda[:N]`` → a torch device string: the one place every command resolves it."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from spectool.errors import UsageError

DEFAULT_DEVICE = "auto"  # every command's --device default


def resolve_device(spec: str | None = DEFAULT_DEVICE, local_rank: int | None = None) -> str:
    """``auto`` (or None) is CUDA when available, else ``cpu``; ``cuda`` is ``cuda:<local_rank or 0>``
    (this rank's GPU under torchrun); ``cuda:N`` is kept. An unavailable CUDA or any other name is a
    :class:`UsageError`."""
    import torch

    spec = (spec or DEFAULT_DEVICE).lower()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(f"--device must be auto, cpu or cuda[:N], not {spec!r}") from None
    if device.type == "cpu":
        return "cpu"
    if device.type != "cuda":
        raise UsageError(f"--device must be auto, cpu or cuda[:N], not {spec!r}")
    if not torch.cuda.is_available():
        raise UsageError(f"--device {spec}: no CUDA device here (use --device cpu or auto)")
    return f"cuda:{device.index if device.index is not None else (local_rank or 0)}"


def torch_device(spec: str | None, world=None):
    """:func:`resolve_device` as a ``torch.device`` for training, made current on CUDA; under torchrun
    (``world.distributed``) a bare ``cuda`` is this rank's local GPU."""
    import torch

    rank = world.local_rank if world is not None and world.distributed else None
    device = torch.device(resolve_device(spec, rank))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads on this thread, then restore the previous number.

    torch's OpenMP thread count is per calling thread once set, so another thread's work keeps its own.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cpu_has_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic natively (AVX512-BF16 or AMX-BF16), as torch reports it.

    Without them torch emulates bfloat16 and autocast only slows training down. Other CPUs (ARM, older
    torch without ``torch.cpu.get_capabilities``) count as without: float32, the safe default.
    """
    import torch

    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is None:
        return False
    found = capabilities()
    return bool(found.get("avx512_bf16") or found.get("amx_bf16"))
