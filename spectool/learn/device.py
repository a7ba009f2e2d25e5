"""``--device auto|cpu|cuda[:N]`` → a torch device string."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from spectool.errors import UsageError


def pick_device(spec: str = "auto") -> str:
    """``auto`` is CUDA when available, else CPU; an unavailable CUDA is a usage error."""
    import torch

    spec = (spec or "auto").lower()
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec}: no CUDA device here (use --device cpu or auto)")
        return spec
    raise UsageError(f"--device must be auto, cpu or cuda[:N], not {spec!r}")


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
