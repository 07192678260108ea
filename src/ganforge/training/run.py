"""Run directories: create one, train into it, resume from it.

```
runs/<name>/config.toml            fully resolved config (seed, package version)
runs/<name>/metrics.jsonl          one JSON object per logged step
runs/<name>/samples/step_N.png     fixed-noise grids (scatter plots for toy data)
runs/<name>/checkpoints/last.pt    full state (+ last.prev.pt, step_N.pt by policy)
runs/<name>/tensorboard/           with the `tb` extra
```
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import __version__
from ..build import build_experiment
from ..config import Config, config_from_dict, to_dict, to_toml, validate
from ..errors import GanforgeError
from .callbacks import Checkpointer, Evaluator, JsonlLogger, ProgressBar, SampleWriter, TensorBoardLogger
from .checkpoint import load_checkpoint
from .trainer import Trainer, TrainingDiverged


def new_run_dir(cfg: Config, run_dir: str | Path | None = None) -> Path:
    """``runs/<name>``, or ``runs/<name>-2``, ``-3``… when taken: never reuse a run's directory."""
    if run_dir is not None:
        path = Path(run_dir)
        if (path / "checkpoints" / "last.pt").exists():
            raise GanforgeError(f"{path} already holds a run; resume it with --resume {path} or pick another --run-dir")
    else:
        base = Path(cfg.log.out_dir) / cfg.name
        path, i = base, 1
        while path.exists():
            i += 1
            path = base.with_name(f"{base.name}-{i}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_config(cfg: Config, run_dir: Path) -> None:
    cfg.ganforge_version = __version__
    (run_dir / "config.toml").write_text(to_toml(to_dict(cfg)) + "\n")


def make_callbacks(cfg: Config, run_dir: Path, info, progress: bool | None = None) -> list:
    callbacks = []
    if cfg.log.progress if progress is None else progress:
        callbacks.append(ProgressBar())
    callbacks.append(JsonlLogger(run_dir / "metrics.jsonl"))
    tb = None
    if cfg.log.tensorboard and TensorBoardLogger.available():
        tb = TensorBoardLogger(run_dir / "tensorboard")
        callbacks.append(tb)
    callbacks.append(SampleWriter(run_dir / "samples", cfg.log.sample_every, cfg.log.n_samples, info, cfg.seed, tb))
    if cfg.eval.every:
        callbacks.append(Evaluator(cfg.eval.every, cfg.eval.n, cfg.eval.metrics, cfg.data.name, cfg.seed,
                                   cfg.data, cfg.eval.inception_weights))
    callbacks.append(Checkpointer(run_dir / "checkpoints", cfg.log.checkpoint_every, cfg.log.keep_every))
    return callbacks


def _run(trainer: Trainer, run_dir: Path) -> str:
    try:
        status = trainer.run()
    except TrainingDiverged as exc:
        last = run_dir / "checkpoints" / "last.pt"
        kept = f"the last good checkpoint {last} is kept" if last.exists() else "no checkpoint was written"
        raise TrainingDiverged(f"{exc}; stopped, {kept}. Try a lower learning rate or another loss") from None
    if status == "interrupted":
        print(f"\n{trainer.stop_reason}: stopped at step {trainer.step}, saved {run_dir}/checkpoints/last.pt; "
              f"continue with: ganforge train --resume {run_dir}", file=sys.stderr)
    return status


def train(cfg: Config, run_dir: str | Path | None = None, callbacks: list | None = None,
          progress: bool | None = None) -> tuple[Path, Trainer, str]:
    """Train a new run. Returns (run directory, trainer, status)."""
    exp = build_experiment(cfg)
    run_dir = new_run_dir(cfg, run_dir)
    write_config(cfg, run_dir)
    trainer = Trainer(exp, make_callbacks(cfg, run_dir, exp.data.info, progress) + list(callbacks or []))
    return run_dir, trainer, _run(trainer, run_dir)


def load_run_config(run_dir: str | Path, overrides: list[str] | None = None) -> tuple[Config, dict]:
    """The config stored in a run's last checkpoint (plus overrides) and the checkpoint itself."""
    from ..config import apply_overrides

    state = load_checkpoint(run_dir)
    try:
        cfg = config_from_dict(state["config"])
    except GanforgeError as exc:
        raise GanforgeError(f"the config inside {run_dir}'s checkpoint is not valid for this version: {exc}") from None
    apply_overrides(cfg, overrides or [])
    validate(cfg)
    return cfg, state


def _note_schedule_change(trainer: Trainer) -> None:
    """A resumed run whose length changed re-plans its lr decay: say so (one line) when lr jumps."""
    for sched in trainer.schedulers[:1]:
        group = sched.optimizer.param_groups[0]
        now, planned = group["lr"], sched.base_lrs[0] * sched.lr_lambdas[0](trainer.step)
        if abs(now - planned) > 1e-6 * sched.base_lrs[0]:
            print(f"note: optim.schedule={trainer.cfg.optim.schedule} now spans {trainer.total_steps} steps: "
                  f"G's learning rate moves from {now:.3g} to {planned:.3g} at step {trainer.step}", file=sys.stderr)


def resume(run_dir: str | Path, overrides: list[str] | None = None, callbacks: list | None = None,
           progress: bool | None = None) -> tuple[Path, Trainer, str]:
    """Continue a run exactly where its last checkpoint stopped (overrides may extend it)."""
    run_dir = Path(run_dir)
    cfg, state = load_run_config(run_dir, overrides)
    exp = build_experiment(cfg)
    trainer = Trainer(exp, make_callbacks(cfg, run_dir, exp.data.info, progress) + list(callbacks or []))
    trainer.load_state_dict(state)
    if overrides:
        write_config(cfg, run_dir)
    _note_schedule_change(trainer)
    if trainer.step >= trainer.total_steps:
        print(f"{run_dir} already finished ({trainer.step} steps); extend it with e.g. train.epochs=N or train.steps=N",
              file=sys.stderr)
        return run_dir, trainer, "finished"
    return run_dir, trainer, _run(trainer, run_dir)
