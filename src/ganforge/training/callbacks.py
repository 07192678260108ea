"""Callbacks: progress bar, metrics.jsonl, TensorBoard, fixed-noise sample grids, checkpoints.

Each reacts to the trainer's events (``on_start``, ``on_log``, ``on_step``, ``on_end``); the
paths they write come from :class:`ganforge.runs.RunDir`, the trainer knows none of them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from ..runs import RunDir
from ..viz import save_grid, save_scatter, to_uint8
from .checkpoint import save_checkpoint


class Callback:
    """What a training tells its callbacks; subclass and override the events you need. ``trainer`` is
    the :class:`~ganforge.training.trainer.Trainer` (``step``, ``G``, ``D``, ``cfg`` ...); ``record`` is
    one line of metrics.jsonl (step, epoch, d_loss, g_loss, d_real, d_fake, img_per_s); ``result`` an
    evaluation's numbers; ``status`` "finished" or "interrupted"."""

    def on_start(self, trainer) -> None:
        pass

    def on_log(self, trainer, record: dict) -> None:
        pass

    def on_step(self, trainer) -> None:
        pass

    def on_eval(self, trainer, result: dict) -> None:
        pass

    def on_end(self, trainer, status: str) -> None:
        pass


class ProgressBar(Callback):
    """tqdm bar: epoch, step, D/G losses, D(x), D(G(z)), img/s."""

    def __init__(self, file=None):
        self.file = file
        self.bar = None

    def on_start(self, trainer) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", dynamic_ncols=True,
                        file=self.file or sys.stderr, desc=f"epoch {int(trainer.data.progress)}")
        self._shown = trainer.step

    def on_log(self, trainer, record: dict) -> None:
        self.bar.set_description(f"epoch {int(record['epoch'])}", refresh=False)
        self.bar.set_postfix({"D": f"{record['d_loss']:.3f}", "G": f"{record['g_loss']:.3f}",
                              "D(x)": f"{record['d_real']:.2f}", "D(G(z))": f"{record['d_fake']:.2f}",
                              "img/s": f"{record['img_per_s']:.0f}"}, refresh=False)
        self.bar.update(trainer.step - self._shown)
        self._shown = trainer.step

    def on_end(self, trainer, status: str) -> None:
        if self.bar is not None:
            self.bar.update(trainer.step - self._shown)
            self.bar.close()


class JsonlLogger(Callback):
    """One JSON object per logged step in ``metrics.jsonl`` (appended on resume)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.file = None

    def on_start(self, trainer) -> None:
        self.file = open(self.path, "a")

    def on_log(self, trainer, record: dict) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def on_eval(self, trainer, result: dict) -> None:
        self.on_log(trainer, {"step": trainer.step, "epoch": round(trainer.data.progress, 4), "eval": result})

    def on_end(self, trainer, status: str) -> None:
        if self.file is not None:
            self.file.close()


class TensorBoardLogger(Callback):
    """Scalars, sample grids and the resolved config (text) in ``tensorboard/`` when the ``tb`` extra
    is installed."""

    def __init__(self, log_dir: str | Path, config_file: str | Path | None = None):
        from torch.utils.tensorboard import SummaryWriter  # ImportError without tensorboard

        self.writer = SummaryWriter(str(log_dir))
        self.config_file = Path(config_file) if config_file else None

    def on_start(self, trainer) -> None:
        """The resolved config as text (TensorBoard's TEXT tab), once per start or resume."""
        if self.config_file is not None and self.config_file.is_file():
            text = self.config_file.read_text()
            self.writer.add_text("config", "    " + text.replace("\n", "\n    "), trainer.step)  # markdown code block

    @staticmethod
    def available() -> bool:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            return False
        return True

    def on_log(self, trainer, record: dict) -> None:
        for key in ("d_loss", "g_loss", "d_real", "d_fake", "img_per_s"):
            self.writer.add_scalar(f"train/{key}", record[key], record["step"])

    def on_eval(self, trainer, result: dict) -> None:
        for key, value in result.items():
            if isinstance(value, (int, float)) and key not in ("n", "seconds"):
                self.writer.add_scalar(f"eval/{key}", value, trainer.step)

    def add_images(self, step: int, images_uint8: torch.Tensor) -> None:
        from ..viz import make_grid
        import numpy as np

        grid = np.asarray(make_grid(images_uint8, scale=1))
        self.writer.add_image("samples", grid, step, dataformats="HW" if grid.ndim == 2 else "HWC")

    def on_end(self, trainer, status: str) -> None:
        self.writer.close()


class SampleWriter(Callback):
    """Fixed-noise samples every ``every`` steps and at the end: a PNG grid for images, a
    scatter plot over the true modes for 2-D toy data. The noise is the same all run long
    (drawn from its own seeded generator), so the pictures show learning over time. With
    ``fresh_every`` > 0 (``log.fresh_every``) image runs also get a grid of fresh noise every that
    many steps (``fresh_step_N.png``, noise seeded by the run's seed and the step, so a resumed run
    draws the same), as the CelebA tutorial's new noise every 100 iterations."""

    def __init__(self, out_dir: str | Path, every: int, n: int, info, seed: int, tensorboard=None,
                 fresh_every: int = 0):
        self.out_dir = Path(out_dir)
        self.every = every
        self.fresh_every = fresh_every
        self.n = n
        self.info = info
        self.seed = seed
        self.tensorboard = tensorboard
        self.z = None
        self.last_written = -1

    def on_start(self, trainer) -> None:
        gen = torch.Generator(device=trainer.device)
        gen.manual_seed(self.seed + 12345)
        self.y, self.nrow, self.row_titles = None, None, None
        if trainer.conditional:  # one row per class (the first 10), the same noise in every row
            rows = min(trainer.num_classes, 10)
            self.nrow = max(1, self.n // rows)
            self.row_titles = list(self.info.class_names[:rows]) or None  # a labelled folder's rows say their class
            z = trainer.latent(self.nrow, generator=gen)
            self.z = z.repeat(rows, 1)
            self.y = torch.arange(rows, device=trainer.device).repeat_interleave(self.nrow)
        else:
            self.z = trainer.latent(self.n, generator=gen)
        if trainer.step == 0:
            self.write(trainer)

    def on_step(self, trainer) -> None:
        if self.every and trainer.step % self.every == 0:
            self.write(trainer)
        if self.fresh_every and trainer.step % self.fresh_every == 0 and self.info.kind != "points":
            self.write_fresh(trainer)

    @torch.no_grad()
    def write_fresh(self, trainer) -> Path:
        """A grid of fresh noise (same labels as the fixed grid), ``fresh_step_N.png``."""
        gen = torch.Generator(device=trainer.device)
        gen.manual_seed(self.seed * 1_000_003 + 777 + trainer.step)
        z = trainer.latent(len(self.z), generator=gen)
        G = trainer.sampling_generator
        was_training = G.training
        G.eval()
        x = G(z, self.y)
        G.train(was_training)
        path = self.out_dir / f"fresh_step_{trainer.step:06d}.png"
        save_grid(to_uint8(x), path, nrow=self.nrow, row_titles=self.row_titles)
        return path

    def on_end(self, trainer, status: str) -> None:
        if status != "diverged" and self.last_written != trainer.step:
            self.write(trainer)

    @torch.no_grad()
    def write(self, trainer) -> Path:
        G = trainer.sampling_generator
        was_training = G.training
        G.eval()
        x = G(self.z, self.y)
        G.train(was_training)
        path = self.out_dir / f"step_{trainer.step:06d}.png"  # RunDir.sample_grid
        if self.info.kind == "points" and tuple(self.info.shape) == (1,):  # Goodfellow et al. 2014, figure 1
            from ..viz.theory import gan_1d_curves, save_gan_1d

            D = getattr(trainer.D, "module", trainer.D)
            modes = G.training, D.training
            G.eval(), D.eval()  # no batch-norm statistics are touched: resuming stays exact
            save_gan_1d(gan_1d_curves(G, D, self.z, self.info.name, y=self.y), path, title=f"step {trainer.step}")
            G.train(modes[0]), D.train(modes[1])
        elif self.info.kind == "points":
            save_scatter(x.cpu().numpy(), path, centers=self.info.centers, title=f"step {trainer.step}")
        else:
            images = to_uint8(x)
            save_grid(images, path, nrow=self.nrow, row_titles=self.row_titles)
            if self.tensorboard is not None:
                self.tensorboard.add_images(trainer.step, images)
        self.last_written = trainer.step
        return path


class Evaluator(Callback):
    """Metrics of ``n`` generated samples every ``every`` steps (fixed seed, own RNG, so the
    training run is unchanged); results go to every callback's ``on_eval``."""

    def __init__(self, every: int, n: int, metrics: list[str], data_name: str, seed: int, dcfg=None,
                 inception_weights: str | None = None, features: str | None = None):
        self.every, self.n, self.metrics, self.data_name, self.seed = every, n, list(metrics), data_name, seed
        self.dcfg, self.inception_weights, self.features = dcfg, inception_weights or None, features or None

    def on_step(self, trainer) -> None:
        if self.every and trainer.step % self.every == 0:
            self.evaluate(trainer)

    @torch.no_grad()
    def evaluate(self, trainer) -> dict:
        from ..evaluation.samples import as_samples, evaluate_samples

        gen = torch.Generator(device=trainer.device)
        gen.manual_seed(self.seed + 777)
        G = trainer.sampling_generator
        was_training = G.training
        G.eval()
        labels = torch.arange(self.n, device=trainer.device) % trainer.num_classes if trainer.conditional else None
        x = torch.cat([G(trainer.latent(min(500, self.n - i), generator=gen),
                         None if labels is None else labels[i:i + 500]).cpu() for i in range(0, self.n, 500)])
        G.train(was_training)
        samples = as_samples(x, self.data_name, labels)
        # on the training device, with the run's own data root (reference statistics are cached)
        root = (self.dcfg.root or None) if self.dcfg is not None else None
        disc = None
        if "age" in self.metrics:  # the training D on training, held-out and generated images
            from ..evaluation.discriminator import discriminator_inputs

            D = getattr(trainer.D, "module", trainer.D)
            if trainer.cfg.model.clusters:  # a self-conditioned D judges an image against its nearest cluster
                from ..models.conditioning import ClusterLabelled

                D = ClusterLabelled(D, getattr(trainer.G, "module", trainer.G).centers, trainer.cfg.model.cluster_channels)
            disc = discriminator_inputs(D, self.data_name, samples["images"],
                                        samples.get("labels"), seed=self.seed, root=root, dcfg=self.dcfg,
                                        conditional=trainer.conditional, device=trainer.device)
        result = evaluate_samples(samples, self.data_name, self.metrics, dcfg=self.dcfg, device=trainer.device,
                                  root=root, inception_weights=self.inception_weights, features=self.features,
                                  discriminator=disc)
        for cb in trainer.callbacks:
            cb.on_eval(trainer, result)
        return result


class Checkpointer(Callback):
    """``checkpoints/last.pt`` every ``every`` steps and at the end (also on Ctrl-C / SIGTERM),
    never after a divergence; optionally ``step_N.pt`` every ``keep_every`` steps; ``best.pt``
    (+ ``best.json``) whenever a periodic evaluation gives the lowest FID so far. Its ``on_end``
    runs before every other callback's (``saves_state``), so nothing slow delays the final save."""

    saves_state = True

    def __init__(self, run, every: int, keep_every: int = 0):
        self.run = RunDir(run)
        self.every = every
        self.keep_every = keep_every
        self.last_saved = -1
        best = self.run.best_json
        self.best_fid = json.loads(best.read_text())["fid"] if best.is_file() else float("inf")

    def on_eval(self, trainer, result: dict) -> None:
        fid = result.get("fid")
        if fid is not None and fid < self.best_fid:
            trainer.check_finite()
            save_checkpoint(trainer.state_dict(), self.run.best, keep_previous=False)
            self.run.best_json.write_text(json.dumps({"step": trainer.step, "fid": fid}) + "\n")
            self.best_fid = fid

    def save(self, trainer) -> Path:
        trainer.check_finite()
        state = trainer.state_dict()
        path = save_checkpoint(state, self.run.last)
        if self.keep_every and trainer.step % self.keep_every == 0:
            save_checkpoint(state, self.run.step_checkpoint(trainer.step), keep_previous=False)
        self.last_saved = trainer.step
        return path

    def on_step(self, trainer) -> None:
        if self.every and trainer.step % self.every == 0:
            self.save(trainer)

    def on_end(self, trainer, status: str) -> None:
        if status != "diverged" and self.last_saved != trainer.step:
            self.save(trainer)
