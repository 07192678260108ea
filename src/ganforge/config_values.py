"""The value checks of a config that need nothing but the config: ranges, finite numbers, keys that
exclude or need each other. :func:`ganforge.choices.validate` runs them between its check of the
config's words against the registries and the checks that need a data set's shape or classes."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .config import Config
from .errors import GanforgeError


def _get(cfg: Config, dotted: str) -> Any:
    obj: Any = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


# ranges of numeric keys: (keys, test, what the error says the value must be)
_RANGES = [
    (("data.batch_size", "train.d_steps", "model.latent_dim", "log.every", "log.n_samples", "model.d.pack",
      "loss.r1_every", "model.g.width", "model.d.width", "data.size", "data.toy_epoch_size", "train.g_every",
      "model.g.kernel", "model.d.kernel", "model.g.base", "model.d.base"),
     lambda v: v >= 1, ">= 1"),
    (("train.epochs", "train.steps", "train.kimg", "train.ema_kimg", "train.ema_bn_batches", "train.d_ema_kimg", "train.threads", "log.sample_every",
      "log.checkpoint_every", "log.keep_every", "eval.every", "loss.gp_weight", "loss.r1_gamma", "loss.aux_weight", "loss.info_weight", "loss.mode_seeking", "loss.mode_seeking_size",
      "optim.weight_decay", "optim.momentum", "data.num_samples", "model.g.negative_slope", "model.d.negative_slope",
      "data.labels_per_class", "model.d.noise", "model.d.input_noise", "model.latent_categories",
      "data.val_count", "train.g_warmup", "log.fresh_every", "model.cluster_sample", "model.g_self_mod"),
     lambda v: v >= 0, ">= 0"),
    (("optim.g_lr", "optim.d_lr"), lambda v: v > 0, "> 0 (a learning rate)"),
    (("optim.eps", "model.latent_category_scale"), lambda v: v > 0, "> 0"),
    (("optim.decay_start", "data.val_fraction", "model.g.dropout", "model.d.dropout"),
     lambda v: 0 <= v < 1, "in [0, 1)"),
    (("loss.real_label", "model.g.bn_momentum", "model.d.bn_momentum"), lambda v: 0 < v <= 1, "in (0, 1]"),
    (("loss.augment_p",), lambda v: 0 <= v <= 1, "in [0, 1] (a probability)"),
    (("loss.augment_target", "model.d.mbstd_group"), lambda v: v >= 0 and (not isinstance(v, float) or v < 1),
     ">= 0 (augment_target < 1)"),
    (("loss.augment_kimg", "model.d.mbstd_channels"), lambda v: v > 0, "> 0"),
]


def _fail(key: str, value: Any, must: str) -> None:
    raise GanforgeError(f"config key '{key}' must be {must}, got {value!r}")


def _check_finite(obj: Any, prefix: str = "") -> None:
    """TOML allows nan and inf: no config value may be either."""
    for f in dataclasses.fields(obj):
        value, where = getattr(obj, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            _check_finite(value, where + ".")
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, float) and not math.isfinite(v):
                _fail(where, value, "a finite number")


def check_values(cfg: Config) -> None:
    """Every value check that needs nothing but the config itself (ranges, finite numbers, keys that
    exclude or need each other). The checks against the registries (names of losses, data sets,
    metrics ...) are :func:`ganforge.choices.validate`, which calls this one."""
    _check_finite(cfg)
    for keys, ok, must in _RANGES:
        for key in keys:
            if not ok(_get(cfg, key)):
                _fail(key, _get(cfg, key), must)
    for net in ("g", "d"):
        hidden = _get(cfg, f"model.{net}.hidden")
        if any(h < 1 for h in hidden):
            _fail(f"model.{net}.hidden", hidden, "a list of layer widths >= 1")
    for key in ("optim.betas", "optim.g_betas", "optim.d_betas"):
        betas = _get(cfg, key)
        if (betas or key == "optim.betas") and (len(betas) != 2 or not all(0 <= b < 1 for b in betas)):
            _fail(key, betas, "two numbers in [0, 1) (Adam's beta1, beta2)")
    if cfg.train.epochs < 1 and cfg.train.steps < 1 and cfg.train.kimg <= 0:
        raise GanforgeError("set train.epochs >= 1, train.kimg > 0 or train.steps >= 1")
    if cfg.train.d_split:
        clash = [key for key, on in (("loss.gp_weight", cfg.loss.gp_weight > 0), ("loss.r1_gamma", cfg.loss.r1_gamma > 0),
                                     ("loss.feature_matching", cfg.loss.feature_matching),
                                     ("loss.augment_target", cfg.loss.augment_target > 0),
                                     ("model.conditioning=semi", cfg.model.conditioning == "semi")) if on]
        if clash:
            raise GanforgeError(f"train.d_split=true steps D on the real and the fake batch apart; {clash[0]} needs "
                                "both in one step: set train.d_split=false")
    if cfg.train.compile != "none" and (cfg.loss.gp_weight > 0 or cfg.loss.r1_gamma > 0):
        raise GanforgeError(f"train.compile={cfg.train.compile} cannot run the double backward of loss.gp_weight / "
                            "loss.r1_gamma (torch.compile does not support it); set train.compile=none")
    if cfg.data.val_count and cfg.data.val_fraction:
        raise GanforgeError("data.val_count and data.val_fraction both set the held-out split; keep one")
    _check_labels(cfg)
    if cfg.model.latent_categories >= cfg.model.latent_dim:
        raise GanforgeError(f"model.latent_categories ({cfg.model.latent_categories}) must be below model.latent_dim "
                            f"({cfg.model.latent_dim}), which counts them: set latent_dim to the categories plus "
                            "the continuous entries")
    if cfg.model.d.mbstd_group and cfg.model.d.arch == "mlp":
        raise GanforgeError("model.d.mbstd_group (minibatch std) is for the conv discriminators (dcgan, resnet)")
    if cfg.model.latent_info:
        if cfg.model.latent_categories < 2:
            raise GanforgeError("model.latent_info (InfoGAN) predicts the latent category: set model.latent_categories "
                                "to 2 or more (and model.latent_dim to the categories plus the continuous entries)")
        if cfg.model.conditioning != "none":
            raise GanforgeError("model.latent_info (InfoGAN) is for unconditional models; set model.conditioning=none")
        if cfg.model.d.pack > 1:
            raise GanforgeError("model.latent_info (InfoGAN) needs one sample per D input; set model.d.pack=1")
    if not cfg.model.clusters and cfg.model.cluster_channels:
        raise GanforgeError("model.cluster_channels clusters each channel for a self-conditioned GAN: set "
                            "model.clusters (e.g. 20) too, or model.cluster_channels=false")
    if cfg.model.conditioning != "none" and cfg.model.d.pack > 1:
        raise GanforgeError("model.d.pack > 1 (PacGAN) cannot be combined with model.conditioning; use one of them")
    if cfg.data.batch_size % cfg.model.d.pack:
        raise GanforgeError(
            f"data.batch_size ({cfg.data.batch_size}) must be a multiple of model.d.pack ({cfg.model.d.pack})"
        )
    if cfg.loss.mode_seeking and cfg.data.batch_size < 2:
        raise GanforgeError("loss.mode_seeking compares pairs of samples: set data.batch_size to 2 or more")
    if cfg.loss.mode_seeking_space == "d_features":
        if cfg.loss.mode_seeking_size:
            raise GanforgeError("loss.mode_seeking_size pools images; loss.mode_seeking_space=d_features compares D's "
                                "features: set one of them back (mode_seeking_size=0 or mode_seeking_space=pixels)")
        if cfg.model.d.pack > 1:
            raise GanforgeError("loss.mode_seeking_space=d_features compares one sample's D features with another's; "
                                "with model.d.pack > 1 D sees packs: set model.d.pack=1 or mode_seeking_space=pixels")
    if cfg.train.ema_bn_batches and cfg.model.sync_bn:
        raise GanforgeError("train.ema_bn_batches recomputes the EMA generator's batch-norm statistics on one process; "
                            "with model.sync_bn its batch norm would wait for the other ranks: set one of them off")
    if cfg.train.ema_bn_batches and not cfg.train.ema_kimg:
        raise GanforgeError("train.ema_bn_batches recomputes the EMA generator's batch-norm statistics: set "
                            "train.ema_kimg (e.g. 10) too, or train.ema_bn_batches=0")
    if cfg.eval.every > 0 and cfg.eval.n < 2:
        _fail("eval.n", cfg.eval.n, ">= 2 (samples per periodic evaluation)")


def _check_labels(cfg: Config) -> None:
    """The semi-supervised GAN's keys, the normalisations and feature matching's keys fit each other
    (``data.exclude_classes`` against the data set's classes: :mod:`ganforge.choices`)."""
    m, d = cfg.model, cfg.data
    if d.labels_per_class and m.conditioning != "semi":
        raise GanforgeError("data.labels_per_class is for the semi-supervised GAN: set model.conditioning=semi "
                            "(or leave data.labels_per_class at 0)")
    if m.conditioning == "semi" and m.g_cbn:
        raise GanforgeError("model.g_cbn needs a generator that takes labels (acgan, projection); the semi-supervised "
                            "GAN's generator takes none")
    for net in ("g", "d"):
        if _get(cfg, f"model.{net}.spectral_norm") and _get(cfg, f"model.{net}.weight_norm"):
            raise GanforgeError(f"model.{net}.spectral_norm and model.{net}.weight_norm exclude each other; keep one")
        if _get(cfg, f"model.{net}.weight_norm_scale") == "fixed" and (net == "g" or not m.d.weight_norm):
            raise GanforgeError("model.d.weight_norm_scale=fixed is for a weight-normalised discriminator: set "
                                "model.d.weight_norm=true (the generator keeps trained scales)")
    if cfg.loss.semi_real != "all" and m.conditioning != "semi":
        raise GanforgeError(f"loss.semi_real={cfg.loss.semi_real} is for the semi-supervised GAN: set "
                            "model.conditioning=semi (or leave loss.semi_real at all)")
    if not cfg.loss.feature_matching and (cfg.loss.feature_real, cfg.loss.feature_layer) != ("d_step", "head"):
        raise GanforgeError("loss.feature_real / loss.feature_layer choose feature matching's features: set "
                            "loss.feature_matching=true (or leave them at d_step, head)")
    if (m.d.noise or m.d.input_noise) and m.d.arch != "mlp":
        raise GanforgeError("model.d.noise / model.d.input_noise (Gaussian noise layers) are for the mlp discriminator")
    if (d.labels or d.class_names) and d.name != "folder":
        raise GanforgeError(f"data.labels / data.class_names label an image folder (data.name=folder), not {d.name}")
    if d.class_names and not d.labels:
        raise GanforgeError("data.class_names names the classes of data.labels; set data.labels (folders or a "
                            "dataset.json) or leave data.class_names empty")
    if d.exclude_classes and d.name not in ("mnist", "fashion_mnist"):
        raise GanforgeError(f"data.exclude_classes is for mnist and fashion_mnist, not {d.name}")
