"""The one training loop every model family plugs into (see :class:`~.task.TrainingTask`).

Stopping: SIGTERM or a first Ctrl-C (SIGINT) lets the current step finish, writes a
checkpoint and returns a :class:`RunResult` with ``stopped_early=True``; so does the
``max_minutes`` budget. A ``KeyboardInterrupt`` raised *inside* a step (a second Ctrl-C, task
code, or ``train`` running outside the main thread where no handler can be installed) writes a
checkpoint of the steps completed so far (the interrupted step's partial updates included) and
is re-raised. Any other error, including a non-finite loss, writes nothing: the last good
checkpoint stays.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..errors import CheckpointError, InputError, ToonforgeError
from . import distributed as D
from .checkpoint import (
    FORMAT,
    KIND,
    capture_rng,
    check_fit,
    load_checkpoint,
    resolve_resume,
    restore_rng,
    save_atomic,
    seed_all,
)
from .ema import EMA
from .run_dir import StatsWindow, StatsWriter, create_run_dir, now_iso, trim_stats
from .run_dir import write_json_atomic
from .task import TrainingTask

__all__ = ["LoopConfig", "RunResult", "train"]
log = logging.getLogger(__name__)


@dataclass
class LoopConfig:
    """Settings of the loop itself (model hyper-parameters belong to the task)."""

    total_steps: int
    batch_size: int = 8  # per process
    num_workers: int = 0
    log_every: int = 20
    checkpoint_every: int = 200
    eval_every: int = 0  # 0 = never
    ema_decay: float = 0.999
    ema_start: int = 0  # before this step the EMA copies the weights, then it averages
    seed: int = 0
    max_minutes: float | None = None  # time budget of this invocation; stops with a checkpoint
    tensorboard: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`InputError` for an unusable setting."""
        ints = {
            "total_steps": 0,
            "batch_size": 1,
            "num_workers": 0,
            "log_every": 1,
            "checkpoint_every": 1,
            "eval_every": 0,
            "ema_start": 0,
        }
        for name, low in ints.items():
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
        if not 0.0 <= self.ema_decay <= 1.0:
            raise InputError(f"ema_decay must be in [0, 1], got {self.ema_decay}")
        if self.max_minutes is not None and self.max_minutes < 0:
            raise InputError(f"max_minutes must be >= 0, got {self.max_minutes}")


@dataclass
class RunResult:
    """``step`` is the number of completed steps; ``last_stats`` the last logged averages."""

    run_dir: Path
    step: int
    stopped_early: bool
    last_stats: dict[str, float]


def train(
    task: TrainingTask,
    cfg: LoopConfig,
    *,
    runs_root: Path = Path("runs"),
    resume: Path | None = None,
    device: str | torch.device = "cpu",
) -> RunResult:
    """Train ``task`` for steps ``0 .. cfg.total_steps - 1`` (or the rest of them on resume).

    ``resume`` is a run folder or a checkpoint file; a larger ``total_steps`` than the first
    run extends it. Under torchrun every rank calls this; only rank 0 writes files.
    """
    cfg.validate()
    name = getattr(task, "name", None)
    if not isinstance(name, str) or not name:
        raise InputError(f"{type(task).__name__}.name must be a non-empty string")
    ctx = D.setup(device)
    try:
        result = _Run(task, cfg, ctx).run(Path(runs_root), resume)
        D.barrier(ctx)
        return result
    finally:
        D.teardown(ctx)


class _StopSignals:
    """Turns SIGTERM and a first SIGINT into a flag checked between steps."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: stop now
        self.requested = True
        log.warning("signal %d: stopping after this step", signum)

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


def _to_device(batch: Any, device: torch.device) -> Any:
    """Move tensors in a (nested) tensor / list / tuple / dict batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return type(batch)({k: _to_device(v, device) for k, v in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class _Run:
    """State of one invocation of :func:`train` (one process)."""

    def __init__(self, task: TrainingTask, cfg: LoopConfig, ctx: D.DistContext) -> None:
        self.task, self.cfg, self.ctx = task, cfg, ctx
        self.main = ctx.is_main
        self.elapsed0 = 0.0

    # ---- setup -------------------------------------------------------------------------------
    def run(self, runs_root: Path, resume: Path | None) -> RunResult:
        task, cfg, ctx = self.task, self.cfg, self.ctx
        ckpt, resume_dir = None, None
        if resume is not None:
            path, resume_dir = resolve_resume(Path(resume))
            ckpt = load_checkpoint(path)
            if ckpt["task"] != task.name:
                raise CheckpointError(
                    f"checkpoint is from task '{ckpt['task']}', not '{task.name}'"
                )
        seed_all(cfg.seed)  # same on every rank: identical initial weights and dataset
        task.build(ctx.device)
        self.modules, self.optimizers = dict(task.modules()), dict(task.optimizers())
        dataset, self.phases = task.dataset(), list(task.phases())
        if not self.phases:
            raise InputError(f"task '{task.name}' defines no phases")
        if ckpt is not None:
            self._load_states(ckpt)
        if ctx.world_size > 1:
            task.wrap_modules(D.wrap_ddp(self.modules, ctx))
        self._make_ema(ckpt)
        start = int(ckpt["step"]) if ckpt is not None else 0
        if ckpt is not None:
            task.load_extra_state(ckpt["extra"])
            self.elapsed0 = float(ckpt.get("elapsed", 0.0))
            rng = ckpt["rng"]
            if ctx.rank < len(rng):
                restore_rng(rng[ctx.rank])
            else:
                seed_all(cfg.seed + ctx.rank + 7919 * start)
        else:
            seed_all(cfg.seed + ctx.rank)
        self.run_dir = Path(
            D.broadcast_object(
                str(self._prepare_dir(runs_root, resume_dir, ckpt, start)) if self.main else None,
                ctx,
            )
        )
        epoch, batch = 0, 0
        if ckpt is not None:  # data position, rescaled if batch size or world size changed
            pos = ckpt["data"]
            per_step = max(1, cfg.batch_size * ctx.world_size)
            epoch = int(pos["epoch"])
            batch = int(pos["batch"]) * int(pos["batch_size"]) * int(pos["world_size"]) // per_step
        self.sampler = D.EpochBatchSampler(
            dataset,
            cfg.batch_size,
            rank=ctx.rank,
            world_size=ctx.world_size,
            seed=cfg.seed,
            epoch=epoch,
            skip=batch,
        )
        gen = torch.Generator().manual_seed(hash((cfg.seed, ctx.rank, epoch, batch)) % 2**62)
        loader = DataLoader(
            dataset,
            batch_sampler=self.sampler,
            num_workers=cfg.num_workers,
            pin_memory=ctx.device.type == "cuda",
            generator=gen,
        )
        if start >= cfg.total_steps:
            log.info(
                "checkpoint is at step %d >= total_steps %d: nothing to do", start, cfg.total_steps
            )
            return RunResult(self.run_dir, start, False, {})
        writer = (
            StatsWriter(
                self.run_dir,
                tensorboard=cfg.tensorboard,
                start_step=start if ckpt is not None else None,
            )
            if self.main
            else None
        )
        try:
            return self._loop(loader, start, writer, saved=start if ckpt is not None else -1)
        finally:
            if writer is not None:
                writer.close()

    def _load_states(self, ckpt: dict[str, Any]) -> None:
        for kind, own in (("modules", self.modules), ("optimizers", self.optimizers)):
            if set(ckpt[kind]) != set(own):
                raise CheckpointError(
                    f"checkpoint {kind} {sorted(ckpt[kind])} do not match the task's {sorted(own)}"
                )
        for n, m in self.modules.items():
            check_fit(m, ckpt["modules"][n], f"module '{n}'")
            m.load_state_dict(ckpt["modules"][n])
        for n, opt in self.optimizers.items():
            try:
                opt.load_state_dict(ckpt["optimizers"][n])
            except (ValueError, KeyError, RuntimeError) as err:
                first = (str(err).splitlines() or [""])[0]
                raise CheckpointError(
                    f"optimizer '{n}' does not fit the checkpoint: {first}"
                ) from None

    def _make_ema(self, ckpt: dict[str, Any] | None) -> None:
        self.emas: dict[str, EMA] = {}
        for n in self.task.ema_modules():
            if n not in self.modules:
                raise InputError(f"EMA module '{n}' is not one of {sorted(self.modules)}")
            ema = EMA(self.modules[n])
            saved = ckpt["ema"].get(n) if ckpt is not None else None
            if saved is not None:
                check_fit(ema.module, saved, f"EMA of module '{n}'")
                ema.load_state_dict(saved)
            elif ckpt is not None:
                log.warning("checkpoint has no EMA of '%s': starting it from the weights", n)
            self.emas[n] = ema
        if self.emas:
            self.task.set_ema({n: e.module for n, e in self.emas.items()})

    def _prepare_dir(self, root: Path, resume_dir: Path | None, ckpt: Any, start: int) -> Path:
        cfg, ctx = self.cfg, self.ctx
        conf = {
            "loop": asdict(cfg),
            "task": self.task.config(),
            "world_size": ctx.world_size,
            "torch": torch.__version__,
            "started": now_iso(),
        }
        if resume_dir is not None:
            run_dir = resume_dir
            old = run_dir / "config.json"
            if old.is_file():
                try:
                    prev = _json_object(old)
                    conf["started"] = prev.get("started", conf["started"])
                    conf["resumes"] = list(prev.get("resumes", []))
                except ValueError:
                    log.warning("unreadable %s: rewriting it", old)
            conf.setdefault("resumes", []).append(
                {"step": start, "time": now_iso(), "world_size": ctx.world_size}
            )
            trim_stats(run_dir / "stats.jsonl", start)
        else:
            run_dir = create_run_dir(root, self.task.name)
            if ckpt is not None:
                conf["resumed_from"] = {"step": start, "time": now_iso()}
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        write_json_atomic(conf, run_dir / "config.json")
        return run_dir

    # ---- the loop ----------------------------------------------------------------------------
    def _loop(
        self, loader: DataLoader, start: int, writer: StatsWriter | None, saved: int
    ) -> RunResult:
        cfg, ctx = self.cfg, self.ctx
        window, last_stats = StatsWindow(), {}
        done, consumed, t0 = start, 0, time.monotonic()
        bar = tqdm(
            total=cfg.total_steps,
            initial=start,
            desc=self.task.name,
            file=sys.stderr,
            dynamic_ncols=True,
            disable=None if (cfg.progress and self.main) else True,
        )
        batches = iter(loader)
        try:
            with _StopSignals() as signals:
                while done < cfg.total_steps:
                    step = done
                    stats, bad = self._step(_to_device(next(batches), ctx.device), step)
                    late = (
                        cfg.max_minutes is not None
                        and time.monotonic() - t0 >= 60 * cfg.max_minutes
                    )
                    nonfinite, stop = D.any_across(
                        [bad is not None, signals.requested or late], ctx
                    )
                    if nonfinite:
                        where = bad or "a non-finite loss on another process"
                        raise ToonforgeError(
                            f"{where} at step {step}; stopped without saving "
                            "(the last good checkpoint is kept)"
                        )
                    decay = 0.0 if step < cfg.ema_start else cfg.ema_decay
                    for n, ema in self.emas.items():
                        ema.update(self.modules[n], decay)
                    done, consumed = step + 1, consumed + 1
                    window.add(stats)
                    bar.update(1)
                    if stats:
                        bar.set_postfix({k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)
                    if cfg.eval_every and done % cfg.eval_every == 0 and self.main:
                        window.add({k: float(v) for k, v in self.task.evaluate(done).items()})
                    end = stop or done == cfg.total_steps
                    if done % cfg.log_every == 0 or end:
                        last_stats = self._log(window, done, t0, writer, bar.disable)
                    if done % cfg.checkpoint_every == 0 or end:
                        self._save(done, consumed, t0, gather=True)
                        saved = done
                    if stop:
                        return RunResult(self.run_dir, done, True, last_stats)
        except KeyboardInterrupt:
            if done > saved:
                self._save(done, consumed, t0, gather=False)
            raise
        finally:
            bar.close()
        return RunResult(self.run_dir, done, False, last_stats)

    def _step(self, batch: Any, step: int) -> tuple[dict[str, float], str | None]:
        """Run the phases due at ``step``; also report the first non-finite scalar."""
        stats: dict[str, float] = {}
        for phase in self.phases:
            if not phase.due(step):
                continue
            for k, v in phase.fn(batch, step).items():
                value = float(v)
                if not math.isfinite(value):
                    return stats, f"loss '{k}' is {value} in phase '{phase.name}'"
                stats[k] = value
        return stats, None

    def _log(
        self, window: StatsWindow, done: int, t0: float, writer: StatsWriter | None, quiet_bar: bool
    ) -> dict[str, float]:
        parts = D.all_gather_objects((window.sums, window.counts), self.ctx)
        window.reset()
        avg = StatsWindow.merge(parts)
        if writer is not None:
            writer.write(done, self.elapsed0 + time.monotonic() - t0, avg)
            if quiet_bar:
                text = " ".join(f"{k}={v:.4g}" for k, v in avg.items())
                log.info("%s step %d/%d %s", self.task.name, done, self.cfg.total_steps, text)
        return avg

    def _save(self, done: int, consumed: int, t0: float, *, gather: bool) -> None:
        ctx = self.ctx
        rng = D.all_gather_objects(capture_rng(), ctx) if gather else [capture_rng()]
        if gather and not D.replicas_in_sync(self.modules, ctx) and self.main:
            log.warning(
                "weights differ between processes: does the task use the modules "
                "handed to wrap_modules?"
            )
        if not self.main:
            return
        epoch, batch = self.sampler.locate(self.sampler.epoch, self.sampler.skip + consumed)
        state = {
            "format": FORMAT,
            "kind": KIND,
            "task": self.task.name,
            "step": done,
            "elapsed": self.elapsed0 + time.monotonic() - t0,
            "data": {
                "epoch": epoch,
                "batch": batch,
                "batch_size": self.cfg.batch_size,
                "world_size": ctx.world_size,
            },
            "modules": {n: m.state_dict() for n, m in self.modules.items()},
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
            "ema": {n: e.state_dict() for n, e in self.emas.items()},
            "rng": rng,
            "extra": self.task.extra_state(),
            "loop": asdict(self.cfg),
            "torch": torch.__version__,
        }
        save_atomic(state, self.run_dir / "checkpoints" / "latest.pt")
        self.task.on_checkpoint(self.run_dir, done)


def _json_object(path: Path) -> dict[str, Any]:
    """Read a JSON object (raises ValueError when it is not one)."""
    obj = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(obj, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return obj
