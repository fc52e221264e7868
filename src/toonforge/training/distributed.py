"""Multi-process training helpers: torchrun process groups, DDP wrapping, sharded batches.

A run is distributed when it is launched by ``torchrun`` (``WORLD_SIZE`` > 1 in the
environment). Everything here also works, as a no-op, in a single plain process.
"""

from __future__ import annotations

import gc
import inspect
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from ..errors import InputError

__all__ = [
    "DistContext",
    "EpochBatchSampler",
    "all_gather_objects",
    "any_across",
    "barrier",
    "broadcast_object",
    "build_loader",
    "get_rank",
    "get_world_size",
    "is_main",
    "setup",
    "teardown",
    "to_device",
    "unwrap",
    "wrap_ddp",
]


_generation = 0  # process groups created by setup() in this process


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """Global rank of this process (0 without a process group)."""
    return dist.get_rank() if _active() else 0


def get_world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if _active() else 1


def is_main() -> bool:
    """True on rank 0, the only process that writes files."""
    return get_rank() == 0


@dataclass
class DistContext:
    """Where this process sits in the run; ``owns_group`` marks a group that we must destroy."""

    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str | torch.device) -> DistContext:
    """Join the torchrun process group when ``WORLD_SIZE`` > 1 (gloo on CPU, nccl on CUDA).

    On CUDA the device index comes from ``LOCAL_RANK``. A group that is already initialised
    (by the caller) is used as is and left alive by :func:`teardown`.
    """
    dev = torch.device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(0, 0, 1, dev)
    if "RANK" not in os.environ and not _active():
        raise InputError("WORLD_SIZE is set but RANK is not: launch multi-process runs with torchrun")
    local = int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0")))
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    owns = False
    if not _active():
        global _generation
        # A fresh key prefix per group: under torchrun the agent's store outlives a destroyed
        # group, and a second group reading the first one's stale keys hangs or crashes.
        store, rank, world = next(dist.rendezvous("env://"))
        store = dist.PrefixStore(f"toonforge/{_generation}", store)
        _generation += 1
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend, store=store, rank=rank, world_size=world)
        owns = True
    return DistContext(dist.get_rank(), local, dist.get_world_size(), dev, owns)


def teardown(ctx: DistContext) -> None:
    """Destroy the process group if :func:`setup` created it.

    Dropped DDP wrappers are garbage-collected first, while their group still exists: freed
    later, at a random moment, they can hang the process.
    """
    if ctx.owns_group and _active():
        gc.collect()
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op in a single process)."""
    if ctx.world_size > 1:
        if ctx.device.type == "cuda":
            dist.barrier(device_ids=[ctx.device.index])
        else:
            dist.barrier()


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside a ``DistributedDataParallel`` wrapper (or the module itself)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


# Buffers are synchronised when DDP is built but not at every forward (rank-local running
# statistics, NVlabs style). torch >= 2.13 spells that forward_sync_buffers=False and warns
# about broadcast_buffers=False, which also skips the initial sync.
_NO_BUFFER_SYNC = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    else {"broadcast_buffers": False}
)


def wrap_ddp(modules: dict[str, nn.Module], ctx: DistContext) -> dict[str, nn.Module]:
    """Wrap every module with trainable parameters in DDP (no buffer sync at each forward).

    DDP broadcasts rank 0's parameters and buffers on construction. Modules without trainable
    parameters are returned unchanged.
    """
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    out: dict[str, nn.Module] = {}
    for name, module in modules.items():
        if any(p.requires_grad for p in module.parameters()):
            out[name] = DistributedDataParallel(module, device_ids=ids, **_NO_BUFFER_SYNC)
        else:
            out[name] = module
    return out


def any_across(flags: list[bool], ctx: DistContext) -> list[bool]:
    """Element-wise OR of boolean flags over all ranks (one small all-reduce)."""
    if ctx.world_size == 1:
        return list(flags)
    t = torch.tensor([float(f) for f in flags], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def all_gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order."""
    if ctx.world_size == 1:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if ctx.world_size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class EpochBatchSampler(Sampler[list[int]]):
    """Endless batches of dataset indices: this rank's share of a fresh shuffle every epoch.

    Each epoch is a ``DistributedSampler`` pass (seeded with ``seed``, ``set_epoch(epoch)``,
    ``drop_last=True``) cut into batches of ``batch_size``, the incomplete last batch dropped.
    The DataLoader iterator therefore lives across epochs (workers are not restarted). Starts
    at ``epoch`` after skipping ``skip`` batches, which is how a run resumes mid-epoch.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        rank: int,
        world_size: int,
        seed: int,
        epoch: int = 0,
        skip: int = 0,
    ) -> None:
        try:
            n = len(dataset)  # type: ignore[arg-type]
        except TypeError:
            raise InputError("the training dataset must define __len__ (map-style)") from None
        self._sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.batch_size, self.world_size = batch_size, world_size
        self.batches_per_epoch = len(self._sampler) // batch_size
        if self.batches_per_epoch == 0:
            raise InputError(
                f"dataset of {n} items is too small for batch size {batch_size} x {world_size} process(es)"
            )
        self.epoch, self.skip = self.locate(epoch, skip)

    def locate(self, epoch: int, batches: int) -> tuple[int, int]:
        """(epoch, batch within the epoch) reached ``batches`` batches after the start of ``epoch``."""
        return epoch + batches // self.batches_per_epoch, batches % self.batches_per_epoch

    def position(self, consumed: int) -> dict[str, int]:
        """Where the stream is after ``consumed`` batches: what a checkpoint stores as "data"."""
        epoch, batch = self.locate(self.epoch, self.skip + consumed)
        return {
            "epoch": epoch,
            "batch": batch,
            "batch_size": self.batch_size,
            "world_size": self.world_size,
        }

    def __iter__(self) -> Iterator[list[int]]:
        epoch, skip = self.epoch, self.skip
        bs = self.batch_size
        while True:
            self._sampler.set_epoch(epoch)
            order = list(self._sampler)
            for b in range(skip, self.batches_per_epoch):
                yield order[b * bs : (b + 1) * bs]
            epoch, skip = epoch + 1, 0


def build_loader(
    dataset: Dataset, cfg: Any, ctx: DistContext, position: dict[str, int] | None = None
) -> tuple[DataLoader, EpochBatchSampler]:
    """An endless DataLoader over ``dataset`` for this rank (``cfg`` is a ``LoopConfig``).

    ``position`` is a checkpoint's ``"data"`` entry: the run restarts at that epoch and batch.
    It is counted in samples, so a changed batch size or world size resumes nearby. Worker
    seeds come from a generator seeded by (seed, rank, start), never from the global RNG.
    """
    epoch = skip = 0
    if position is not None:
        epoch = int(position["epoch"])
        seen = int(position["batch"]) * int(position["batch_size"]) * int(position["world_size"])
        skip = seen // (cfg.batch_size * ctx.world_size)
    sampler = EpochBatchSampler(
        dataset,
        cfg.batch_size,
        rank=ctx.rank,
        world_size=ctx.world_size,
        seed=cfg.seed,
        epoch=epoch,
        skip=skip,
    )
    gen = torch.Generator().manual_seed(hash((cfg.seed, ctx.rank, epoch, skip)) % 2**62)
    loader = DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=cfg.num_workers,
        pin_memory=ctx.device.type == "cuda",
        generator=gen,
        worker_init_fn=_worker_ignores_stop_signals if cfg.num_workers else None,
    )
    return loader, sampler


def _worker_ignores_stop_signals(worker_id: int) -> None:
    """Loader workers leave SIGTERM/SIGINT to the main process.

    A ``kill`` of the whole process group (or Ctrl-C in a terminal) would otherwise end the
    workers first, and PyTorch's SIGCHLD handler would abort the main process before the
    loop could write its checkpoint. The DataLoader still shuts its workers down on exit.
    """
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a batch (tensor, or nested list / tuple / dict of them) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        moved = {k: to_device(v, device) for k, v in batch.items()}
        try:
            return type(batch)(moved)
        except TypeError:  # mappings whose constructor wants more (e.g. defaultdict)
            return moved
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch
