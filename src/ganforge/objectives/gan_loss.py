"""The whole arithmetic of a D step and a G step in one object (as StyleGAN2-ADA's loss class).

:class:`GANLoss` combines the adversarial objective (``loss.name``), the discriminator penalties
(gradient penalty, lazy R1), AC-GAN's class loss (cross-entropy on raw class logits), the
semi-supervised GAN's class loss (cross-entropy on the labelled rows of the real batch, label -1 =
unlabelled), InfoGAN's category loss (cross-entropy of D's Q head on the fake batch's latent
categories, which the trainer passes in place of fake labels) and feature matching for G
(``loss.feature_matching``, Salimans et al. 2016). The trainer only fetches data, calls :meth:`GANLoss.discriminator` / :meth:`GANLoss.generator`, steps
the optimizers and logs the returned statistics, so autocast, DDP, new penalties and new
conditionings touch this module alone.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
import torch.nn.functional as F

from ..data.batches import UNLABELLED
from .augment import Augment
from .losses import build_objective
from .penalties import Penalties

# statistics of a D step, in this order (the trainer averages them between log lines)
D_STATS = ("d_loss", "d_real", "d_fake", "d_penalty", "d_class_loss")
FEATURE_DISTANCES = ("squared", "abs")  # loss.feature_distance
# loss.feature_real: where feature matching's real mean E h(x) comes from. d_step: the D step's real
# pass (D before its update, no extra forward pass); current: a pass of that real batch through D as
# it is after its update, in the G step (Salimans et al.'s code: both means under the same D); fresh:
# as current, but on the next real batch of the data stream, one D has not just been trained on
# (their code's second permutation of the unlabelled set, trainx_unl2)
FEATURE_REALS = ("d_step", "current", "fresh")
# loss.feature_layer: head = what D's output head receives; clean = the same features before D's
# last Gaussian noise layer (Salimans et al.'s code matches layers[-3], before that noise)
FEATURE_LAYERS = ("head", "clean")
MODE_SEEKING_SPACES = ("pixels", "d_features")  # loss.mode_seeking_space
# loss.semi_real: which real rows a semi-supervised D's GAN term and the feature target use: all
# (the unlabelled batch and the labelled one) or unlabelled (as their code's loss_unl)
SEMI_REALS = ("all", "unlabelled")


def feature_module(D: nn.Module, layer: str = "head") -> nn.Module:
    """The module whose input is D's features h: the head, or (``clean``) D's last Gaussian noise
    layer when its layer stack ends with one (else the head: there is no noise to leave out)."""
    from ..models.layers import GaussianNoise

    net = getattr(D, "net", None)
    if layer == "clean" and isinstance(net, nn.Sequential) and len(net) and isinstance(net[-1], GaussianNoise):
        return net[-1]
    return D.head


@contextlib.contextmanager
def head_input(D: nn.Module, layer: str = "head"):
    """Collects D's features h (N x feat_dim), one tensor per forward pass inside the ``with``
    block: what D's last layer (``D.head``, every architecture has one) receives, or with
    ``layer="clean"`` the same before D's last noise layer (:func:`feature_module`)."""
    seen: list[torch.Tensor] = []
    handle = feature_module(D, layer).register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        yield seen
    finally:
        handle.remove()


def feature_matching(fake_features: torch.Tensor, real_mean: torch.Tensor, distance: str = "squared") -> torch.Tensor:
    """Salimans et al. (2016): mean over features of (E h(x) - E h(G(z)))^2 (``squared``), or of
    |E h(x) - E h(G(z))| (``abs``, their MNIST code), for G."""
    diff = fake_features.float().mean(0) - real_mean
    return diff.abs().mean() if distance == "abs" else diff.square().mean()


def samples_independent(D: nn.Module) -> bool:
    """Whether D's output for a sample depends on that sample alone in training mode: no PyTorch batch norm and
    no layer that says it mixes samples (``mixes_samples = True``: minibatch standard deviation, the data-parallel
    :class:`~ganforge.training.distributed.SyncBatchNorm`). Packing groups consecutive samples, which stay within
    each batch."""
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) or getattr(m, "mixes_samples", False)
                   for m in D.modules())


def _one_pass(D: nn.Module, real: torch.Tensor, y_real, fake: torch.Tensor, y_fake):
    """((logits, class outputs) of the real batch, those of the fake batch) from one pass of D over both."""
    y = None if y_real is None else torch.cat([y_real, y_fake])
    logits, classes = D(torch.cat([real, fake.to(real.dtype)]), y, return_classes=True)
    k = logits.shape[0] * len(real) // (len(real) + len(fake))  # D's outputs for the real batch (packs of it)
    if classes is None:
        return (logits[:k], None), (logits[k:], None)
    return (logits[:k], classes[:k]), (logits[k:], classes[k:])


class GANLoss:
    def __init__(self, lcfg, conditioning: str = "none", precision=None, info: bool = False):
        self.objective = build_objective(lcfg)
        self.info = info  # model.latent_info: y_fake holds the fake batch's latent categories
        self.info_weight = lcfg.info_weight
        self.penalties = Penalties(lcfg)
        self.aux_weight = lcfg.aux_weight
        self.aux_fake_d = lcfg.aux_fake_d
        self.conditioning = conditioning
        self.feature_matching = lcfg.feature_matching
        self.feature_distance = lcfg.feature_distance
        self.feature_real = lcfg.feature_real
        self.feature_layer = lcfg.feature_layer
        self.semi_real = lcfg.semi_real
        self.real_features: torch.Tensor | None = None  # feature matching: E h(x) of the last D step
        self._feature_batch = None  # feature_real=current/fresh: (real rows, labels) to measure in the G step
        self.precision = precision  # training.precision.Precision; None = fp32 without autocast
        self.augment = (Augment(lcfg.augment, lcfg.augment_p, lcfg.augment_target, lcfg.augment_kimg)
                        if lcfg.augment else None)  # DiffAugment of everything D sees

    @property
    def conditional(self) -> bool:
        return self.conditioning != "none"

    def _autocast(self):
        return self.precision.autocast() if self.precision is not None else contextlib.nullcontext()

    def _full(self):
        return self.precision.full() if self.precision is not None else contextlib.nullcontext()

    @property
    def wants_feature_batch(self) -> bool:
        """True when the G step needs a real batch of its own (``loss.feature_real=fresh``): the
        trainer draws one and hands it to :meth:`feature_batch` before each G step."""
        return self.feature_matching and self.feature_real == "fresh"

    def _target_rows(self, y_real):
        """The real rows the GAN term and the feature target see (None: all of them)."""
        return (y_real == UNLABELLED) if self.conditioning == "semi" and self.semi_real == "unlabelled" else None

    def feature_batch(self, real: torch.Tensor, y_real) -> None:
        """``loss.feature_real=fresh``: the real batch whose features the next G step matches."""
        if self.augment is not None:
            real = self.augment(real)
        rows = self._target_rows(y_real)
        self._feature_batch = (real, y_real) if rows is None else (real[rows], y_real[rows])

    def prepare_real(self, real: torch.Tensor) -> torch.Tensor:
        """The real batch as D should see it (with requires_grad when R1 is due this step)."""
        return real.requires_grad_(True) if self.penalties.r1_due() else real

    def discriminator(self, D, real: torch.Tensor, y_real, fake: torch.Tensor, y_fake) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to minimise, detached statistics in :data:`D_STATS` order) of one D step.

        ``fake`` must be detached from G; ``y_real``/``y_fake`` are None for unconditional models.
        Under mixed precision D's forward passes are autocast, except the real pass of a step where
        R1 is due: R1's double backward (like the gradient penalty's) runs in fp32. A D that treats each
        sample on its own (:func:`samples_independent`) sees both batches in one pass (unless R1 is due or
        feature matching reads D's features).
        """
        obj = self.objective
        if self.augment is not None:  # differentiable: R1's gradient still reaches the real batch
            real, fake = self.augment(real), self.augment(fake)
        with head_input(D, self.feature_layer) if self.feature_matching else contextlib.nullcontext() as seen:
            if self.penalties.r1_due():
                with self._full():
                    real_logits, real_cls = D(real, y_real, return_classes=True)
                with self._autocast():
                    fake_logits, fake_cls = D(fake, y_fake, return_classes=True)
            elif not self.feature_matching and (y_real is None) == (y_fake is None) and samples_independent(D):
                # one pass over both batches: D's layers run once on 2B samples (spectral norm's power
                # iteration too), as its output for a sample depends on that sample alone
                with self._autocast():
                    (real_logits, real_cls), (fake_logits, fake_cls) = _one_pass(D, real, y_real, fake, y_fake)
            else:  # one autocast region: D's weights are cast to the low precision once, not twice
                with self._autocast():
                    real_logits, real_cls = D(real, y_real, return_classes=True)
                    fake_logits, fake_cls = D(fake, y_fake, return_classes=True)
        # semi_real=unlabelled: the GAN term and the feature target see the unlabelled rows alone
        rows = self._target_rows(y_real)
        if self.feature_matching:  # the G step matches these (the real batch's features under this D)
            features = seen[0].detach() if rows is None else seen[0].detach()[rows]
            self.real_features = features.float().mean(0)
            if self.feature_real == "current":  # the G step measures them again, under D after this step
                self._feature_batch = ((real, y_real) if rows is None else (real[rows], y_real[rows]))
        real_logits, fake_logits = real_logits.float(), fake_logits.float()  # the objective sees fp32
        if self.augment is not None:
            self.augment.observe(real_logits, self.penalties.part[1])
        d_loss = total = obj.d_loss(real_logits if rows is None else real_logits[rows], fake_logits)
        zero = torch.zeros((), device=real_logits.device)
        class_loss = zero
        if self.conditioning == "semi":  # cross-entropy on the labelled real rows (K+1 classes, fake implicit)
            labelled = y_real != UNLABELLED
            if bool(labelled.any()):
                class_loss = F.cross_entropy(real_cls.float()[labelled], y_real[labelled])
                total = total + self.aux_weight * class_loss
        else:
            term, weight = self._class_term(real_cls, y_real, fake_cls, y_fake)
            if term is not None:
                class_loss, total = term, total + weight * term
        penalty = zero
        if self.penalties.active:
            def d_fp32(x):
                with self._full():
                    return D(x, y_real).float()

            p = self.penalties(d_fp32, real, fake, real_logits)
            if p is not None:  # lazy R1 without a gradient penalty: nothing on the steps in between
                penalty = p
                total = total + penalty
        with torch.no_grad():
            stats = torch.stack([d_loss.detach(), obj.score(real_logits), obj.score(fake_logits),
                                 penalty.detach(), class_loss.detach()])
        return total, stats

    def _class_term(self, real_cls, y_real, fake_cls, y_fake) -> tuple[torch.Tensor | None, float]:
        """The class loss of a D step and its weight, or None: InfoGAN's Q (and D's shared layers)
        learn each fake sample's category; AC-GAN's cross-entropy on raw class logits of the real
        batch, and of the fake one with ``aux_fake_d``. A side given as None logits (the other half
        of a ``train.d_split`` step) adds nothing."""
        if self.info:
            return (None if fake_cls is None else F.cross_entropy(fake_cls.float(), y_fake)), self.info_weight
        parts = [F.cross_entropy(c.float(), t) for c, t, on in
                 ((real_cls, y_real, True), (fake_cls, y_fake, self.aux_fake_d)) if c is not None and on]
        return (sum(parts) if parts else None), self.aux_weight

    def discriminator_half(self, D, x: torch.Tensor, y, side: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, statistics in :data:`D_STATS` order) of one of ``train.d_split``'s two D steps: on the
        real batch (``side="real"``) or the detached fake batch (``"fake"``) alone, as Keras'
        ``train_on_batch`` on each. The statistics of the other side are zero, so the two halves add up
        to one step's. (The config rules out what needs both batches at once: penalties, feature
        matching, the semi-supervised D, adaptive augmentation.)"""
        obj = self.objective
        if self.augment is not None:
            x = self.augment(x)
        with self._autocast():
            logits, cls = D(x, y, return_classes=True)
        logits = logits.float()
        d_loss = obj.d_real(logits) if side == "real" else obj.d_fake(logits)
        total, zero = d_loss, torch.zeros((), device=logits.device)
        term, weight = self._class_term(*((cls, y, None, None) if side == "real" else (None, None, cls, y)))
        class_loss = zero if term is None else term
        if term is not None:
            total = total + weight * term
        with torch.no_grad():
            score = obj.score(logits)
            stats = torch.stack([d_loss.detach(), score if side == "real" else zero,
                                 score if side == "fake" else zero, zero, class_loss.detach()])
        return total, stats

    def generator(self, D, fake: torch.Tensor, y_fake) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to minimise, detached adversarial G loss) of one G step; D's weights should be frozen."""
        if self.augment is not None:
            fake = self.augment(fake)  # G learns through the same augmentations D sees
        if self.feature_matching and self.feature_real != "d_step" and self._feature_batch is not None:
            real, y_real = self._feature_batch
            self._feature_batch = None
            with torch.no_grad(), head_input(D, self.feature_layer) as seen_real, self._autocast():
                D(real.detach(), y_real)
            self.real_features = seen_real[0].float().mean(0)
        with (head_input(D, self.feature_layer) if self.feature_matching else contextlib.nullcontext()) as seen, \
                self._autocast():
            g_logits, g_cls = D(fake, y_fake, return_classes=True)
        if self.feature_matching:
            g_loss = feature_matching(seen[0], self.real_features, self.feature_distance)
        else:
            g_loss = self.objective.g_loss(g_logits.float())
        if g_cls is None or self.conditioning == "semi":
            total = g_loss
        elif self.info:  # G makes each latent category recognisable to Q
            total = g_loss + self.info_weight * F.cross_entropy(g_cls.float(), y_fake)
        else:
            total = g_loss + self.aux_weight * F.cross_entropy(g_cls.float(), y_fake)
        return total, g_loss.detach()

    def logged(self) -> tuple[str, ...]:
        """Which of :data:`D_STATS` a log line carries for this configuration."""
        names = ["d_loss", "d_real", "d_fake"]
        if self.penalties.active:
            names.append("d_penalty")
        if self.conditioning in ("acgan", "semi") or self.info:
            names.append("d_class_loss")
        return tuple(names)

    def extra_log(self) -> dict:
        """Values for a log line beyond the averaged statistics (the augmentation probability, r_t)."""
        if self.augment is None:
            return {}
        out = {"augment_p": round(self.augment.p, 5)}
        if self.augment.adaptive:
            out["ada_rt"] = self.augment.rt
        return out

    # lazy-R1 position and the adaptive augmentation are part of a run's state
    def state_dict(self) -> dict:
        return {"penalty_count": self.penalties.count,
                "augment": self.augment.state_dict() if self.augment is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.penalties.count = int(state.get("penalty_count", 0))
        if self.augment is not None:
            self.augment.load_state_dict(state.get("augment"))


def build_loss(cfg, precision=None) -> GANLoss:
    return GANLoss(cfg.loss, cfg.model.conditioning, precision, info=cfg.model.latent_info)
