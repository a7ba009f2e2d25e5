"""Data-parallel training under ``torchrun``: detect the launch, start and end the process group.

``torchrun --nproc-per-node N -m spectool train …`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``; when ``WORLD_SIZE > 1`` we join a process group (``nccl`` on
CUDA, ``gloo`` on CPU), each rank takes every ``world``-th row, and only rank 0 writes files and
talks to the user. Helpers here are no-ops in a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """Where this process stands: ``rank`` of ``size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes checkpoints and logs."""
        return self.rank == 0


def detect(environ: dict | None = None) -> World:
    """The :class:`World` described by torchrun's environment variables (a single process if none)."""
    environ = os.environ if environ is None else environ
    size = int(environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return World()
    return World(int(environ.get("RANK", "0")), size, int(environ.get("LOCAL_RANK", "0")),
                 int(environ.get("LOCAL_WORLD_SIZE", str(size))))


def init(world: World, device) -> None:
    """Join the process group (nccl for a CUDA ``device``, gloo otherwise); no-op for one process."""
    if not world.distributed:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=world.rank, world_size=world.size)


def cleanup(world: World) -> None:
    if world.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def all_sum(values: list[float], world: World, device) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64)."""
    if not world.distributed:
        return list(values)
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def all_have(flag: bool, world: World, device) -> bool:
    """True only if every rank has ``flag`` (so every rank runs the same number of steps)."""
    if not world.distributed:
        return flag
    import torch
    import torch.distributed as dist

    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def wrap(model, world: World, device):
    """``DistributedDataParallel(model)`` when distributed, else ``model``."""
    if not world.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)
