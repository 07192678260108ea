"""Train into a run directory, or resume one (layout: :mod:`ganforge.runs`).

A training holds the run's lock (``RUN/.lock``) for its whole life: a second ``ganforge train``
on the same directory is refused in one line naming the first one's PID.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from ..build import build_experiment
from ..config import Config
from ..errors import GanforgeError
from ..choices import load_run_config
from ..runs import RunDir, RunLock, claim_given, claim_new, quote, resolve, write_config
from .callbacks import Checkpointer, Evaluator, JsonlLogger, ProgressBar, SampleWriter, TensorBoardLogger
from . import distributed
from .checkpoint import remove_stray_temps
from .trainer import Trainer, TrainingDiverged


def make_callbacks(cfg: Config, run: RunDir, info, progress: bool | None = None) -> list:
    callbacks = [Checkpointer(run, cfg.log.checkpoint_every, cfg.log.keep_every)]
    if cfg.log.progress if progress is None else progress:
        callbacks.append(ProgressBar())
    callbacks.append(JsonlLogger(run.metrics))
    tb = None
    if cfg.log.tensorboard and TensorBoardLogger.available():
        tb = TensorBoardLogger(run.tensorboard, run.config)
        callbacks.append(tb)
    callbacks.append(SampleWriter(run.samples, cfg.log.sample_every, cfg.log.n_samples, info, cfg.seed, tb,
                                  fresh_every=cfg.log.fresh_every))
    if cfg.eval.every:
        callbacks.append(Evaluator(cfg.eval.every, cfg.eval.n, cfg.eval.metrics, cfg.data.name, cfg.seed,
                                   cfg.data, cfg.eval.inception_weights, cfg.eval.features))
    return callbacks


def _run(trainer: Trainer, run: RunDir) -> str:
    try:
        status = trainer.run()
    except TrainingDiverged as exc:
        kept = f"the last good checkpoint {run.last} is kept" if run.last.exists() else "no checkpoint was written"
        raise TrainingDiverged(f"{exc}; stopped, {kept}. Try a lower learning rate or another loss") from None
    except KeyboardInterrupt:  # a further Ctrl-C after the final checkpoint was written
        if not trainer.final_saved:
            raise
        status = "interrupted"
    if status == "interrupted":
        print(f"{trainer.stop_reason or 'interrupted'}: stopped at step {trainer.step}, saved {run.last}; "
              f"continue with: ganforge train --resume {quote(run)}", file=sys.stderr)
    return status


def train(cfg: Config, run_dir: str | Path | None = None, callbacks: list | None = None,
          progress: bool | None = None) -> tuple[Path | None, Trainer, str]:
    """Train a new run. Returns (run directory, trainer, status); under torchrun, ranks other than
    0 return None for the directory (rank 0 alone writes it)."""
    d = distributed.setup(cfg.train.device)
    exp = build_experiment(cfg, progress=cfg.log.progress if progress is None else progress, dist=d)
    if not d.is_main:  # a data-parallel rank other than 0: trains its share, writes nothing
        trainer = Trainer(exp, list(callbacks or []))
        return None, trainer, trainer.run()
    run = claim_given(run_dir) if run_dir is not None else claim_new(cfg.log.out_dir, cfg.name)
    with RunLock(run):
        if run_dir is not None and run.has_checkpoint():  # another process got there between claim and lock
            raise GanforgeError(f"{run} already holds a run; resume it with --resume {quote(run)}")
        write_config(cfg, run)
        trainer = Trainer(exp, make_callbacks(cfg, run, exp.data.info, progress) + list(callbacks or []))
        return run.path, trainer, _run(trainer, run)


def _note_schedule_change(trainer: Trainer) -> None:
    """A resumed run whose length changed re-plans its lr decay: say so (one line) when lr jumps."""
    for sched in trainer.schedulers[:1]:
        group = sched.optimizer.param_groups[0]
        now, planned = group["lr"], sched.base_lrs[0] * sched.lr_lambdas[0](trainer.step)
        if abs(now - planned) > 1e-6 * sched.base_lrs[0]:
            print(f"note: optim.schedule={trainer.cfg.optim.schedule} now spans {trainer.total_steps} steps: "
                  f"G's learning rate moves from {now:.3g} to {planned:.3g} at step {trainer.step}", file=sys.stderr)


def _set_aside_corrupt(run: RunDir, state: dict) -> None:
    """After a fallback to last.prev.pt, keep the bad last.pt as last.corrupt.pt (never rotate it
    over the good previous checkpoint, never delete what a user may want to inspect)."""
    if state.get("fell_back") and run.last.exists():
        os.replace(run.last, run.last.with_name("last.corrupt.pt"))


def resume(source: str | Path, overrides: list[str] | None = None, callbacks: list | None = None,
           progress: bool | None = None) -> tuple[Path, Trainer, str]:
    """Continue a run exactly where its last checkpoint stopped (overrides may extend it).

    ``source`` is a run directory or a checkpoint file (``RUN/checkpoints/last.prev.pt``,
    ``RUN/checkpoints/step_N.pt``): either way the run continues in ``RUN``.
    """
    run, file = resolve(source)
    if not run.path.is_dir():
        raise GanforgeError(f"run directory {run} not found")
    main = distributed.env_world().is_main  # other data-parallel ranks read the same checkpoint, write nothing
    with RunLock(run) if main else contextlib.nullcontext():
        cfg, state = load_run_config(file or run.path, overrides)
        d = distributed.setup(cfg.train.device)
        exp = build_experiment(cfg, progress=cfg.log.progress if progress is None else progress, dist=d)
        own = make_callbacks(cfg, run, exp.data.info, progress) if main else []
        trainer = Trainer(exp, own + list(callbacks or []))
        trainer.load_state_dict(state)
        if not main:
            return None, trainer, trainer.run() if trainer.step < trainer.total_steps else "finished"
        remove_stray_temps(run.checkpoints)
        if file is not None and Path(state["loaded_from"]) != run.last:
            print(f"note: resuming {run} from {Path(state['loaded_from']).name} (step {trainer.step})", file=sys.stderr)
        _set_aside_corrupt(run, state)
        if overrides or not run.config.exists():
            write_config(cfg, run)
        _note_schedule_change(trainer)
        if trainer.step >= trainer.total_steps:
            print(f"{run} already finished ({trainer.step} steps); extend it with e.g. train.epochs=N or train.steps=N",
                  file=sys.stderr)
            return run.path, trainer, "finished"
        return run.path, trainer, _run(trainer, run)


__all__ = ["train", "resume", "make_callbacks", "load_run_config"]
