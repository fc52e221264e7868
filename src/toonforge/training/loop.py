"""The one training loop every model family plugs into (see :class:`~.task.TrainingTask`).

Stopping: SIGTERM or a first Ctrl-C (SIGINT) lets the current step finish, writes a
checkpoint and returns a :class:`RunResult` with ``stopped_early=True``; the ``max_minutes``
budget and the task's ``should_stop()`` (asked after each evaluation) do the same. A
``KeyboardInterrupt`` raised *inside* a step (a second Ctrl-C, task code, or ``train`` running
outside the main thread, where no signal handler can be installed) writes a checkpoint of the
steps completed so far (any partial updates of the interrupted step included) and is re-raised.
Any other error, a non-finite loss included, writes nothing: the last good checkpoint stays.

Learning rates: the ones the task's optimizers are built with (this call's settings) are the
base rates, also on resume (a checkpoint's optimizer state brings its own, which are replaced,
with a note when they differ). With ``lr_decay_steps`` N > 0 every base rate falls linearly
over the last N steps, to 1/N of itself at the last step (pix2pix/CycleGAN/U-GAT-IT's schedule).
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..errors import CheckpointError, InputError, ToonforgeError
from . import checkpoint as ck
from . import distributed as D
from .ema import make_emas
from .run_dir import StatsWindow, StatsWriter, drop_unsaved_run, now_iso, open_run_dir
from .task import TrainingTask

__all__ = ["LoopConfig", "RunResult", "ema_decay_at", "lr_factor_at", "train"]
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
    ema_warmup: bool = True  # decay min(ema_decay, (1 + k) / (10 + k)), k steps after ema_start
    seed: int = 0
    max_minutes: float | None = None  # time budget of this call; stops with a checkpoint
    lr_decay_steps: int = 0  # > 0: learning rates fall linearly over the last this many steps
    tensorboard: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`InputError` for an unusable setting."""
        lows = {"total_steps": 0, "batch_size": 1, "num_workers": 0, "log_every": 1}
        lows |= {"checkpoint_every": 1, "eval_every": 0, "ema_start": 0, "lr_decay_steps": 0}
        for name, low in lows.items():
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
        if not 0.0 <= self.ema_decay <= 1.0:
            raise InputError(f"ema_decay must be in [0, 1], got {self.ema_decay}")
        if self.lr_decay_steps > self.total_steps:
            raise InputError(f"lr_decay_steps ({self.lr_decay_steps}) must not exceed total_steps ({self.total_steps})")
        if self.max_minutes is not None and self.max_minutes < 0:
            raise InputError(f"max_minutes must be >= 0, got {self.max_minutes}")


def ema_decay_at(step: int, cfg: LoopConfig) -> float:
    """The EMA decay used after 0-based ``step``: 0 (a copy) before ``ema_start``; then
    ``ema_decay``, or with ``ema_warmup`` the smaller ``(1 + k) / (10 + k)`` for the k-th step
    since ``ema_start``, so a short run's EMA is not stuck near the initial weights (a decay of
    0.999 would otherwise keep 94% of them after 60 steps)."""
    if step < cfg.ema_start:
        return 0.0
    if not cfg.ema_warmup:
        return cfg.ema_decay
    k = step - cfg.ema_start
    return min(cfg.ema_decay, (1.0 + k) / (10.0 + k))


def lr_factor_at(step: int, cfg: LoopConfig) -> float:
    """The multiplier of every base learning rate at 0-based ``step``: 1, or with
    ``lr_decay_steps`` N > 0, ``(total_steps - step) / N`` over the last N steps (1 before them,
    1/N at the last step)."""
    n = cfg.lr_decay_steps
    return 1.0 if n <= 0 else min(1.0, (cfg.total_steps - step) / n)


@dataclass
class RunResult:
    """``step`` is the number of completed steps; ``last_stats`` the last logged averages."""

    run_dir: Path
    step: int
    stopped_early: bool
    last_stats: dict[str, float]
    signal: int | None = None  # the signal (SIGTERM, SIGINT) that stopped it, after a checkpoint

    @property
    def exit_code(self) -> int:
        """What a command should exit with: 128 + the signal when one stopped the run (the shell's
        convention, as ``stylize`` does on Ctrl-C), else 0."""
        return 128 + int(self.signal) if self.signal else 0


def train(
    task: TrainingTask,
    cfg: LoopConfig,
    *,
    runs_root: Path = Path("runs"),
    resume: Path | None = None,
    device: str | torch.device = "cpu",
) -> RunResult:
    """Train ``task`` for steps ``0 .. cfg.total_steps - 1`` (the remaining ones on resume).

    ``resume`` is a run folder or a checkpoint file; a ``total_steps`` larger than the first
    run's extends it. Under torchrun every rank calls this; only rank 0 writes files.
    """
    cfg.validate()
    name = getattr(task, "name", None)
    if not isinstance(name, str) or not name:
        raise InputError(f"{type(task).__name__}.name must be a non-empty string")
    ctx = D.setup(device)
    run = _Run(task, cfg, ctx)
    try:
        result = run.run(Path(runs_root), resume)
        D.barrier(ctx)
        return result
    finally:
        if run.wrapped:  # hand back the plain modules: the DDP wrappers end with the group
            task.wrap_modules(dict(run.modules))
        D.teardown(ctx)


class _StopSignals:
    """Turns SIGTERM and a first SIGINT into a flag that the loop checks between steps."""

    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:  # noqa: PYI034
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: stop now
        self.requested, self.signum = True, signum
        log.warning("signal %d: stopping after this step", signum)

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


class _Run:
    """One process's share of one call to :func:`train`."""

    def __init__(self, task: TrainingTask, cfg: LoopConfig, ctx: D.DistContext) -> None:
        self.task, self.cfg, self.ctx = task, cfg, ctx
        self.main = ctx.is_main
        self.elapsed0 = 0.0
        self.wrapped = False

    def run(self, runs_root: Path, resume: Path | None) -> RunResult:
        task, cfg, ctx = self.task, self.cfg, self.ctx
        ckpt, resume_dir = None, None
        if resume is not None:
            path, resume_dir = ck.resolve_resume(Path(resume))
            ckpt = ck.load_checkpoint(path)
            if ckpt["task"] != task.name:
                raise CheckpointError(f"checkpoint is from task '{ckpt['task']}', not '{task.name}'")
        ck.seed_all(cfg.seed)  # the same on every rank: identical initial weights and dataset
        task.resuming = ckpt is not None
        task.build(ctx.device)
        self.modules, self.optimizers = dict(task.modules()), dict(task.optimizers())
        self.base_lrs = {n: [g["lr"] for g in o.param_groups] for n, o in self.optimizers.items()}
        dataset, self.phases = task.dataset(), list(task.phases())
        if not self.phases:
            raise InputError(f"task '{task.name}' defines no phases")
        if ckpt is not None:
            fresh = ck.load_states(ckpt, self.modules, self.optimizers, task.added_on_resume())
            if fresh and self.main:
                print(f"starting {', '.join(fresh)} fresh: the checkpoint has none", flush=True)
            changed = self._lr_changes(ckpt)
            if changed and self.main:
                print(f"learning rates from this command, not the checkpoint: {', '.join(changed)}", flush=True)
        if ctx.world_size > 1:
            task.wrap_modules(D.wrap_ddp(self.modules, ctx))
            self.wrapped = True
        self.emas = make_emas(self.modules, task.ema_modules(), ckpt["ema"] if ckpt else None)
        if self.emas:
            task.set_ema({n: e.module for n, e in self.emas.items()})
        start = int(ckpt["step"]) if ckpt is not None else 0
        if ckpt is not None:
            task.load_extra_state(ckpt["extra"])
            self.elapsed0 = float(ckpt.get("elapsed", 0.0))
        ck.seed_rank(cfg.seed, ctx.rank, ckpt["rng"] if ckpt else None)
        made = err = None
        if self.main:  # the others wait for the folder name (or the reason there is none)
            conf = {"loop": asdict(cfg), "task": task.config(), "world_size": ctx.world_size}
            conf |= {"torch": str(torch.__version__), "started": now_iso()}
            resumed = start if ckpt is not None else None
            try:
                made = open_run_dir(runs_root, task.name, conf, resume_dir=resume_dir, start=resumed)
            except OSError as e:
                err = f"cannot prepare the run folder in {runs_root}: {e}"
        made, err = D.broadcast_object((str(made), err), ctx)
        if err:
            raise InputError(err)
        self.run_dir = Path(made)
        writer, failed = None, True
        try:
            position = ckpt["data"] if ckpt is not None else None
            loader, self.sampler = D.build_loader(dataset, cfg, ctx, position)
            if start >= cfg.total_steps:
                log.info("checkpoint step %d >= total_steps %d: nothing to do", start, cfg.total_steps)
                failed = False
                return RunResult(self.run_dir, start, False, {})
            if self.main:
                purge = start if ckpt is not None else None
                writer = StatsWriter(self.run_dir, tensorboard=cfg.tensorboard, start_step=purge)
            result = self._loop(iter(loader), start, writer, saved=start if ckpt else -1)
            failed = False
            return result
        finally:
            if writer is not None:
                writer.close()
            if failed and self.main and (resume_dir is None or self.run_dir.resolve() != Path(resume_dir).resolve()):
                drop_unsaved_run(self.run_dir)  # a new folder that never got a checkpoint

    def _loop(self, batches: Any, start: int, writer: StatsWriter | None, saved: int) -> RunResult:
        cfg, ctx = self.cfg, self.ctx
        window, last_stats = StatsWindow(), {}
        done, t0 = start, time.monotonic()
        off = None if (cfg.progress and self.main) else True  # None: off unless a TTY
        bar = tqdm(total=cfg.total_steps, initial=start, desc=self.task.name, file=sys.stderr, disable=off)
        try:
            with _StopSignals() as signals:
                while done < cfg.total_steps:
                    step = done
                    lr_factor = lr_factor_at(step, cfg)
                    self._set_lr_factor(lr_factor)
                    stats, bad = self._step(D.to_device(next(batches), ctx.device), step)
                    late = self._out_of_time(t0)
                    nonfinite, stop = D.any_across([bad is not None, signals.requested or late], ctx)
                    if nonfinite:
                        where = bad or "a non-finite loss on another process"
                        raise ToonforgeError(
                            f"{where} at step {step}; stopped without saving "
                            "(the last good checkpoint is kept)"
                        )
                    decay = ema_decay_at(step, cfg)
                    for n, ema in self.emas.items():
                        ema.update(self.modules[n], decay)
                    done = step + 1
                    window.add(stats | ({"lr_factor": lr_factor} if cfg.lr_decay_steps else {}))
                    bar.update(1)
                    if stats:
                        bar.set_postfix({k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)
                    if cfg.eval_every and done % cfg.eval_every == 0:
                        if self.main:
                            window.add({k: float(v) for k, v in self.task.evaluate(done).items()})
                        stop = D.any_across([stop or self.task.should_stop()], ctx)[0]  # early stopping
                    end = stop or done == cfg.total_steps
                    if done % cfg.log_every == 0 or end:
                        last_stats = self._log(window, done, t0, writer, bar.disable)
                    if done % cfg.checkpoint_every == 0 or end:
                        self._save(done, start, t0, gather=True)
                        saved = done
                    if stop:
                        return RunResult(self.run_dir, done, True, last_stats, signals.signum)
        except KeyboardInterrupt:
            if done > saved:
                self._save(done, start, t0, gather=False)
            raise
        finally:
            bar.close()
        return RunResult(self.run_dir, done, False, last_stats)

    def _lr_changes(self, ckpt: dict[str, Any]) -> list[str]:
        """``"NAME OLD -> NEW"`` for each optimizer whose base rate in this call differs from the
        checkpoint's run (``loop.base_lrs``; a checkpoint without it ran at a constant rate, the
        one its optimizer state carries). The loop sets every step's rates from this call's base
        rates, so the loaded ones are never used."""
        before = ckpt.get("loop", {}).get("base_lrs", {})
        changed = []
        for name, opt in self.optimizers.items():
            old = before.get(name, [g["lr"] for g in opt.param_groups])
            new = self.base_lrs[name]
            if len(old) != len(new) or not all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(old, new)):
                changed.append(f"{name} {old[0]:.3g} -> {new[0]:.3g}")
        return changed

    def _set_lr_factor(self, factor: float) -> None:
        """Set every optimizer's learning rates to ``factor`` times their base rates."""
        for name, opt in self.optimizers.items():
            for group, lr in zip(opt.param_groups, self.base_lrs[name], strict=True):
                group["lr"] = lr * factor

    def _out_of_time(self, t0: float) -> bool:
        budget = self.cfg.max_minutes
        return budget is not None and time.monotonic() - t0 >= 60.0 * budget

    def _step(self, batch: Any, step: int) -> tuple[dict[str, float], str | None]:
        """Run the phases due at ``step``; also name the first non-finite scalar, if any."""
        stats: dict[str, float] = {}
        for phase in self.phases:
            if not phase.due(step):
                continue
            for k, v in (phase.fn(batch, step) or {}).items():
                value = float(v.detach() if isinstance(v, torch.Tensor) else v)
                if not math.isfinite(value):
                    return stats, f"loss '{k}' is {value} in phase '{phase.name}'"
                stats[k] = value
        return stats, None

    def _log(
        self, window: StatsWindow, done: int, t0: float, writer: StatsWriter | None, quiet_bar: bool
    ) -> dict[str, float]:
        """Average the window over steps and ranks, write it (rank 0) and reset it."""
        avg = StatsWindow.merge(D.all_gather_objects((window.sums, window.counts), self.ctx))
        window.reset()
        if writer is not None:
            writer.write(done, self.elapsed0 + time.monotonic() - t0, avg)
            if quiet_bar:
                text = " ".join(f"{k}={v:.4g}" for k, v in avg.items())
                log.info("%s step %d/%d %s", self.task.name, done, self.cfg.total_steps, text)
        return avg

    def _save(self, done: int, start: int, t0: float, *, gather: bool) -> None:
        """Write ``checkpoints/latest.pt`` (rank 0); ``gather`` collects every rank's RNG."""
        ctx = self.ctx
        rng = D.all_gather_objects(ck.capture_rng(), ctx) if gather else [ck.capture_rng()]
        if gather and not ck.replicas_in_sync(self.modules, ctx) and self.main:
            log.warning(
                "weights differ between processes: do the phases use the modules handed to wrap_modules?"
            )
        if not self.main:
            return
        state = ck.training_state(
            task=self.task.name,
            step=done,
            elapsed=self.elapsed0 + time.monotonic() - t0,
            data=self.sampler.position(done - start),
            modules=self.modules,
            optimizers=self.optimizers,
            ema={n: e.state_dict() for n, e in self.emas.items()},
            rng=rng,
            extra=self.task.extra_state(),
            loop=asdict(self.cfg) | {"base_lrs": self.base_lrs},
        )
        ck.save_atomic(state, self.run_dir / "checkpoints" / "latest.pt")
        self.task.on_checkpoint(self.run_dir, done)
