"""The one training loop.

The trainer knows models, optimizers, a loss (:class:`ganforge.objectives.GANLoss`), a precision
and a batch source with ``next()``; it
knows nothing about MNIST, PNG files or run directories. It emits events to callbacks:
``on_start``, ``on_log(record)`` every ``log.every`` steps, ``on_step`` after each generator
step, ``on_end(status)``. A "step" is one generator update (after ``train.d_steps``
discriminator updates).
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..config import Config, to_dict
from ..errors import GanforgeError
from ..models.conditioning import generator_conditional, info_categories
from ..objectives import D_STATS, GANLoss
from ..objectives.gan_loss import head_input
from ..objectives.penalties import mode_seeking
from .ema import EMA
from ..models.latent import model_latent
from .distributed import SINGLE, Dist, all_reduce_mean_, any_rank, average_gradients, barrier
from .precision import Precision
from .rng import rng_state, set_rng_state
from .schedules import make_schedulers


class TrainingDiverged(GanforgeError):
    """A loss or a parameter became NaN/inf; nothing after the last good checkpoint is saved."""


@dataclass
class Experiment:
    """Everything ``build_experiment`` made from a config."""

    cfg: Config
    data: object
    G: nn.Module
    D: nn.Module
    loss: GANLoss
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    device: torch.device
    precision: Precision | None = None
    dist: Dist = SINGLE  # this process's rank in a torchrun job
    G_train: nn.Module | None = None  # G for the training passes (DDP-wrapped when distributed, compiled by train.compile)
    D_train: nn.Module | None = None  # D for the training passes (compiled by train.compile); shares D's weights


def g_iteration(step: int, every: int = 1, warmup: int = 0) -> int:
    """The D iteration (0-based) at which generator step ``step`` (0-based) runs under the schedule
    ``train.g_every``/``train.g_warmup``: G trains at iteration i when i < warmup or i % every == 0
    (the CelebA tutorial's 5/5: iterations 0, 1, 2, 3, 4, 5, 10, 15, ...). -1 for step -1."""
    if step < 0:
        return -1
    if step < warmup:
        return step
    return (math.ceil(warmup / every) + step - warmup) * every


def g_steps_within(iterations: int, every: int = 1, warmup: int = 0) -> int:
    """How many generator steps the schedule runs in the first ``iterations`` D iterations."""
    early = min(iterations, warmup)
    late = max(0, math.ceil(iterations / every) - math.ceil(warmup / every)) if iterations > warmup else 0
    return early + late


def planned_steps(cfg, batches_per_epoch: int) -> int:
    """Generator steps a config trains for: ``train.steps``, else ``train.kimg`` of real images (at
    ``data.batch_size * train.d_steps`` per D iteration), else ``train.epochs`` of the data; with a G
    schedule (``train.g_every``) the generator steps within those D iterations."""
    tc = cfg.train
    if tc.steps > 0:
        return tc.steps
    if tc.kimg > 0:
        iterations = max(1, math.ceil(tc.kimg * 1000 / (cfg.data.batch_size * tc.d_steps)))
    else:
        iterations = max(1, tc.epochs * batches_per_epoch // tc.d_steps)
    return max(1, g_steps_within(iterations, tc.g_every, tc.g_warmup))


class Trainer:
    def __init__(self, exp: Experiment, callbacks=()):
        self.exp = exp
        self.cfg = exp.cfg
        self.G, self.D, self.data = exp.G, exp.D, exp.data
        self.loss = exp.loss
        self.opt_g, self.opt_d = exp.opt_g, exp.opt_d
        self.device = exp.device
        self.precision = exp.precision or Precision("fp32", exp.device)
        self.dist = exp.dist
        self.G_train = exp.G_train if exp.G_train is not None else exp.G
        self.D_train = exp.D_train if exp.D_train is not None else exp.D
        self.callbacks = list(callbacks)
        tc = self.cfg.train
        self.total_steps = planned_steps(self.cfg, self.data.batches_per_epoch)
        self.conditional = generator_conditional(self.cfg.model)  # G takes labels
        self.labelled = self.cfg.model.conditioning != "none"  # D sees the real batches' labels
        # InfoGAN (model.latent_info): the loss gets each fake sample's latent category in place of a label
        self.info_categories = info_categories(self.cfg.model)
        self.mode_seeking = self.cfg.loss.mode_seeking  # MSGAN's lambda: the G step's batch comes in label-sharing pairs
        self.num_classes = self.data.info.num_classes
        self.ema = EMA(self.G, tc.ema_kimg, self.cfg.data.batch_size) if tc.ema_kimg > 0 else None
        self._stats_step = -1  # the step whose EMA batch-norm statistics were last recomputed
        self.d_ema = EMA(self.D, tc.d_ema_kimg, self.cfg.data.batch_size) if tc.d_ema_kimg > 0 else None
        self.schedulers = make_schedulers(self.cfg.optim, self.total_steps, [self.opt_g, self.opt_d])
        self.step = 0
        self.latent_gen = torch.Generator(device=self.device)
        self.latent_gen.manual_seed(self.cfg.seed + 1)
        self.stop_reason = ""
        self.final_saved = False
        # running sums since the last log line: [d_loss, D(x), D(G(z)), penalty, class loss] and [g_loss]
        self._acc_d = torch.zeros(len(D_STATS), device=self.device)
        self._acc_g = torch.zeros(1, device=self.device)
        self._n_d = 0
        self._n_g = 0
        self._clock = time.perf_counter()
        self._images = 0

    # ------------------------------------------------------------------ the step
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return model_latent(self.cfg.model, n, self.device, generator or self.latent_gen)

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator to show and evaluate: the EMA copy when there is one (with its batch-norm statistics
        recomputed at this step, ``train.ema_bn_batches``)."""
        if self.ema is None:
            return self.G
        self.ema_standing_stats()
        return self.ema.model

    def ema_standing_stats(self) -> None:
        """``train.ema_bn_batches``: the EMA G's batch-norm statistics, once per step, over latents (and
        labels) of a generator seeded by the step; the global RNG is forked, so training is unchanged."""
        batches = self.cfg.train.ema_bn_batches
        if self.ema is None or not batches or self._stats_step == self.step:
            return
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.cfg.seed * 1_000_003 + 555 + self.step)
        n = self.cfg.data.batch_size
        classes = self.conditional and not self.cfg.model.clusters  # a self-conditioned G picks its clusters from z

        def batch():
            z = self.latent(n, generator=gen)
            return (z, torch.randint(self.num_classes, (n,), generator=gen, device=self.device) if classes else None)

        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            self.ema.standing_stats(batch, batches)
        self._stats_step = self.step

    def fake_labels(self, z: torch.Tensor) -> torch.Tensor | None:
        """Labels for a batch of latents ``z``: uniform random classes for conditional generators, the
        clusters that z picks for a self-conditioned one (``model.clusters``), None when unconditional."""
        if self.cfg.model.clusters:
            return self.G.clusters_of(z)
        if not self.conditional:
            return None
        return torch.randint(self.num_classes, (len(z),), generator=self.latent_gen, device=self.device)

    def pair_latents(self, z: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Mode seeking's pairs: row h + i (h = len // 2) gets row i's label and the entries of z that pick it
        (a self-conditioned G's cluster entries, InfoGAN's categories), keeping its own other entries."""
        h = len(z) // 2
        z = z.clone()
        shared = self.G.factors if self.cfg.model.clusters else self.info_categories
        z[h:2 * h, :shared] = z[:h, :shared]
        if y is not None:
            y = y.clone()
            y[h:2 * h] = y[:h]
        return z, y

    def d_steps_now(self) -> int:
        """D steps before this generator step: ``train.d_steps`` per D iteration of the G schedule."""
        tc = self.cfg.train
        iterations = g_iteration(self.step, tc.g_every, tc.g_warmup) - g_iteration(self.step - 1, tc.g_every, tc.g_warmup)
        return tc.d_steps * iterations

    def train_step(self) -> None:
        """One generator step: its D steps (``d_steps_now``), then a G step, EMA and schedulers."""
        d_steps, batch = self.d_steps_now(), self.cfg.data.batch_size
        part = self.dist.slice(batch)  # a data-parallel rank's share of the global batch
        for i in range(d_steps):
            real, y_real = self.fetch()
            z = self.latent(batch)
            y_fake = self.fake_labels(z)
            z, y_fake = z[part], (y_fake[part] if y_fake is not None else None)
            if self.mode_seeking and i == d_steps - 1:
                z, y_fake = self.pair_latents(z, y_fake)
            with torch.set_grad_enabled(i == d_steps - 1), self.precision.autocast():
                fake = self.G_train(z, y_fake).float()  # the last fake batch is reused by the G step
            if self.info_categories:
                y_fake = z[:, :self.info_categories].argmax(1)
            self.d_step(real, y_real, fake.detach(), y_fake)
        self.g_step(fake, y_fake, z)
        if self.ema is not None:
            self.ema.update(self.G)
            self._stats_step = -1
        for sched in self.schedulers:
            sched.step()

    def fetch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next real batch (labels only for conditional models), prepared for the D step."""
        real, y_real = self.data.next()
        self._images += len(real) * self.dist.world
        return self.loss.prepare_real(real), (y_real if self.labelled else None)

    def d_step(self, real, y_real, fake, y_fake) -> None:
        """One D update on both batches, or (``train.d_split``) one on the real batch, then one on the fake."""
        sync = lambda: average_gradients(self.D, self.dist)  # noqa: E731
        if self.cfg.train.d_split:
            stats = 0
            for side, x, y in (("real", real, y_real), ("fake", fake, y_fake)):
                total, half = self.loss.discriminator_half(self.D_train, x, y, side)
                self.opt_d.zero_grad(set_to_none=True)
                self.precision.step(total, self.opt_d, "d", sync=sync)
                stats = stats + half
        else:
            total, stats = self.loss.discriminator(self.D_train, real, y_real, fake, y_fake)
            self.opt_d.zero_grad(set_to_none=True)
            self.precision.step(total, self.opt_d, "d", sync=sync)
        if self.d_ema is not None:
            self.d_ema.update(self.D)
        self._acc_d += stats
        self._n_d += 1

    def g_step(self, fake, y_fake, z: torch.Tensor | None = None) -> None:
        self.D.requires_grad_(False)  # gradients flow through D to G only
        if self.loss.wants_feature_batch:  # loss.feature_real=fresh: G's feature target on a batch of its own
            real, y_real = self.data.next()
            self.loss.feature_batch(real, y_real if self.labelled else None)
        in_d = self.mode_seeking and self.cfg.loss.mode_seeking_space == "d_features"
        with head_input(self.D) if in_d else contextlib.nullcontext() as seen:
            total, g_loss = self.loss.generator(self.D_train, fake, y_fake)
        if self.mode_seeking:
            compared = seen[-1] if in_d else fake  # D's features of the fakes (its last pass; gradient to G), or pixels
            total = total + self.mode_seeking * mode_seeking(compared, z, size=self.cfg.loss.mode_seeking_size)
        self.opt_g.zero_grad(set_to_none=True)
        self.precision.step(total, self.opt_g, "g")
        self.D.requires_grad_(True)
        self._acc_g += g_loss
        self._n_g += 1

    # ------------------------------------------------------------------ logging
    def flush_stats(self) -> dict:
        """Average the statistics since the last call into one record (syncs the device)."""
        acc = torch.cat([self._acc_d, self._acc_g])
        all_reduce_mean_(acc, self.dist)  # a data-parallel run logs the mean over ranks
        n_d = len(D_STATS)
        d = (acc[:n_d] / max(self._n_d, 1)).tolist()
        g = (acc[n_d:] / max(self._n_g, 1)).tolist()
        now = time.perf_counter()
        rate = self._images / max(now - self._clock, 1e-9)
        stats = dict(zip(D_STATS, d))
        record = {"step": self.step, "epoch": round(self.data.progress, 4), "d_loss": d[0], "g_loss": g[0],
                  **{k: stats[k] for k in self.loss.logged() if k != "d_loss"}, **self.loss.extra_log(),
                  "img_per_s": round(rate, 1)}
        self._acc_d.zero_()
        self._acc_g.zero_()
        self._n_d = self._n_g = 0
        self._clock, self._images = now, 0
        return record

    def check_finite(self, record: dict | None = None) -> None:
        """Raise :class:`TrainingDiverged` when a logged loss or any parameter is NaN/inf."""
        if record is not None:
            bad = {k: record[k] for k in ("d_loss", "g_loss") if not math.isfinite(record[k])}
            if bad:
                detail = ", ".join(f"{k}={v}" for k, v in bad.items())
                raise TrainingDiverged(f"training diverged at step {self.step} ({detail})")
        for name, model in (("generator", self.G), ("discriminator", self.D)):
            for p in model.parameters():
                if not torch.isfinite(p).all():
                    raise TrainingDiverged(f"training diverged at step {self.step} (NaN/inf in the {name}'s weights)")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "g": self.G.state_dict(),
            "d": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "data": self.data.state_dict(),
            "rng": rng_state(),
            "latent_gen": self.latent_gen.get_state(),
            "g_ema": self.sampling_generator.state_dict() if self.ema is not None else None,
            "d_ema": self.d_ema.model.state_dict() if self.d_ema is not None else None,
            "schedulers": [sched.state_dict() for sched in self.schedulers],
            **self.loss.state_dict(),
            "grad_scalers": self.precision.state_dict(),
            "acc": {"d": self._acc_d.cpu(), "g": self._acc_g.cpu(), "n_d": self._n_d, "n_g": self._n_g},
            "config": to_dict(self.cfg),
        }

    def load_state_dict(self, state: dict) -> None:
        try:
            self.G.load_state_dict(state["g"])
            self.D.load_state_dict(state["d"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            if self.ema is not None:
                self.ema.model.load_state_dict(state["g_ema"] if state.get("g_ema") is not None else state["g"])
            if self.d_ema is not None:
                self.d_ema.model.load_state_dict(state["d_ema"] if state.get("d_ema") is not None else state["d"])
        except (RuntimeError, ValueError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0][:160]
            raise GanforgeError(f"checkpoint does not match the models of this config ({first}); "
                                "resume with the run's own config") from None
        self.step = int(state["step"])
        self.data.load_state_dict(state["data"])
        set_rng_state(state["rng"])
        self.latent_gen.set_state(state["latent_gen"])
        for sched, sched_state in zip(self.schedulers, state.get("schedulers", [])):
            sched.load_state_dict(sched_state)
        self.loss.load_state_dict(state)
        self.precision.load_state_dict(state.get("grad_scalers"))
        acc = state["acc"]
        self._acc_d.copy_(acc["d"])
        self._acc_g.copy_(acc["g"])
        self._n_d, self._n_g = int(acc["n_d"]), int(acc["n_g"])

    # ------------------------------------------------------------------ the loop
    def _emit(self, event: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, event)(self, *args)

    def request_stop(self, reason: str) -> None:
        self.stop_reason = reason

    def _install_signals(self):
        """SIGINT/SIGTERM ask the loop to stop after the current step; the state is then saved.

        Further signals are ignored until that final checkpoint is written (a second Ctrl-C can
        never lose the run); after it they raise KeyboardInterrupt to cut the slow end work short.
        """
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum, frame):
            name = signal.Signals(signum).name
            if not self.stop_reason:
                self.request_stop(name)
                print(f"\n{name}: stopping after step {self.step + 1}; saving a checkpoint", file=sys.stderr)
            elif not self.final_saved:
                print(f"\n{name}: still saving the checkpoint, please wait", file=sys.stderr)
            else:
                raise KeyboardInterrupt

        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, handler)
        return old

    def _end(self, status: str) -> None:
        """``on_end`` to the callbacks that save state first (before anything slow), then the rest."""
        savers = [cb for cb in self.callbacks if getattr(cb, "saves_state", False)]
        for cb in savers:
            cb.on_end(self, status)
        self.final_saved = True
        for cb in self.callbacks:
            if cb not in savers:
                cb.on_end(self, status)

    def run(self) -> str:
        """Train until ``total_steps`` or a stop request. Returns "finished" or "interrupted"."""
        old_handlers = self._install_signals()
        every = self.cfg.log.every
        status = "finished"
        self.final_saved = False
        try:
            self.G.train()
            self.D.train()
            self._clock = time.perf_counter()
            self._emit("on_start")
            while self.step < self.total_steps and not self._stop_agreed():
                self.train_step()
                self.step += 1
                if self.step % every == 0 or self.step == self.total_steps:
                    record = self.flush_stats()
                    self.check_finite(record)
                    self._emit("on_log", record)
                self._emit("on_step")
            if self.stop_reason:
                status = "interrupted"
            self._end(status)
            barrier(self.dist)  # the other ranks wait for rank 0's final save before they exit
        except TrainingDiverged:
            self._end("diverged")
            raise
        finally:
            for sig, h in old_handlers.items():
                signal.signal(sig, h)
        return status

    def _stop_agreed(self) -> bool:
        """Whether to stop now. One process: as soon as a stop was requested. Data-parallel: all
        ranks agree (every step on CPU, at log intervals on CUDA, where the check syncs the host)."""
        if not self.dist.active:
            return bool(self.stop_reason)
        if self.device.type == "cuda" and self.step % self.cfg.log.every and self.step < self.total_steps:
            return False
        # the collective's answer alone decides: a signal handled right after it (stop_reason set
        # on this rank only) must wait for the next check, or the ranks would part ways
        agreed = any_rank(bool(self.stop_reason), self.dist, self.device)
        if agreed and not self.stop_reason:
            self.request_stop("stop requested on another rank")
        return agreed
