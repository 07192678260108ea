"""A config checked against everything that defines its words: the one place, one floor above the
registries, where ``loss.name``, ``data.name``, ``model.g.arch``, ``eval.metrics`` ... meet the
registries of :mod:`ganforge.data`, :mod:`ganforge.models`, :mod:`ganforge.objectives`, the
training's optimizers, schedules and precisions, and :mod:`ganforge.evaluation.catalog`.

:func:`validate` = the choices + :func:`ganforge.config_values.check_values` + the checks that need a data
set's shape or classes. :func:`load_config` (a file or preset name, and overrides) and
:func:`load_run_config` (the config stored in a run's checkpoint) return only configs it passed.
Registering a new loss, data set, architecture, optimizer, schedule or activation is all it takes to
make it a valid choice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import Config, apply_overrides, config_from_dict, read_config
from .config_values import _fail, _get, check_values
from .errors import GanforgeError
from .registry import did_you_mean


def choice_sources() -> dict[str, Any]:
    """Config key -> the registry (or tuple) that defines its words."""
    from .data import DATASETS
    from .data.clusters import CLUSTER_METHODS
    from .models import DISCRIMINATORS, GENERATORS
    from .models.conditioning import CONDITIONINGS, LABEL_INPUTS
    from .models.latent import LATENTS
    from .models.layers import ACTIVATIONS, DATA_RANGES, INITS, NORMS, OUTPUTS, UPSAMPLES, WEIGHT_NORM_SCALES
    from .objectives import LOSSES
    from .objectives.gan_loss import FEATURE_DISTANCES, FEATURE_LAYERS, FEATURE_REALS, MODE_SEEKING_SPACES, SEMI_REALS
    from .training.compile import COMPILE_MODES
    from .training.optimizers import OPTIMIZERS
    from .training.precision import PRECISIONS
    from .training.schedules import SCHEDULES

    return {
        "data.name": DATASETS, "loss.name": LOSSES, "optim.name": OPTIMIZERS, "optim.schedule": SCHEDULES,
        "model.g.arch": GENERATORS, "model.d.arch": DISCRIMINATORS, "model.latent_dist": LATENTS,
        "model.conditioning": CONDITIONINGS, "model.cluster_method": CLUSTER_METHODS, "model.g_label": LABEL_INPUTS,
        "model.g.norm": NORMS, "model.d.norm": NORMS, "model.g.output": OUTPUTS,
        "model.g.activation": ACTIVATIONS, "model.d.activation": ACTIVATIONS, "train.precision": PRECISIONS,
        "train.compile": COMPILE_MODES,
        "loss.feature_distance": FEATURE_DISTANCES, "loss.feature_real": FEATURE_REALS,
        "loss.feature_layer": FEATURE_LAYERS, "loss.semi_real": SEMI_REALS,
        "loss.mode_seeking_space": MODE_SEEKING_SPACES,
        "model.g.weight_norm_scale": WEIGHT_NORM_SCALES, "model.d.weight_norm_scale": WEIGHT_NORM_SCALES,
        "model.g.init": INITS, "model.d.init": INITS, "model.g.upsample": UPSAMPLES,
        "model.data_range": DATA_RANGES,
    }


def validate(cfg: Config) -> None:
    """Every check of a config, in one place, before anything is built: its words against the
    registries, its values (:func:`ganforge.config_values.check_values`), and what needs the data set."""
    for key, source in choice_sources().items():
        value, choices = _get(cfg, key), list(source.names() if hasattr(source, "names") else source)
        if value not in choices:
            raise GanforgeError(f"config key '{key}' = '{value}' is not one of {', '.join(choices)}"
                                f"{did_you_mean(value, choices)}")
    check_values(cfg)
    from .models.conv import check_conv_net

    for net in ("g", "d"):
        if _get(cfg, f"model.{net}.arch") == "conv":
            check_conv_net(_get(cfg, f"model.{net}"), net)
    from .objectives import LOSSES
    from .objectives.augment import AUGMENTS

    for name in cfg.loss.augment:
        if name not in AUGMENTS:
            raise GanforgeError(f"config key 'loss.augment' names an unknown augmentation '{name}'"
                                f"{did_you_mean(name, AUGMENTS.names())}; choose from {', '.join(AUGMENTS.names())}")
    from .data import DATASETS, data_info

    if cfg.loss.augment and DATASETS.get(cfg.data.name).eval.kind == "points":
        raise GanforgeError("loss.augment (DiffAugment) is for images; the toy mixtures are 2-D points")
    info = data_info(cfg.data)
    _check_excluded_classes(cfg, info.num_classes)
    if not LOSSES.get(cfg.loss.name).label_smoothing and cfg.loss.real_label != 1.0:
        raise GanforgeError(f"loss.real_label (label smoothing) does not apply to the {cfg.loss.name} loss; leave it at 1.0")
    if cfg.model.clusters:
        _check_clusters(cfg, info)
    # batch norm needs at least 2 samples per batch (D sees batch / pack packed samples)
    from .models.layers import BATCH_NORMS

    if cfg.model.g.norm in BATCH_NORMS and cfg.data.batch_size < 2:
        raise GanforgeError(f"data.batch_size=1 cannot train a generator with batch norm (model.g.norm="
                            f"{cfg.model.g.norm}); use data.batch_size >= 2 or model.g.norm=none")
    if cfg.model.d.norm in BATCH_NORMS and cfg.data.batch_size // cfg.model.d.pack < 2:
        raise GanforgeError(f"D's batch norm sees data.batch_size / model.d.pack = {cfg.data.batch_size // cfg.model.d.pack} "
                            "sample(s) per batch; it needs >= 2: raise data.batch_size or use model.d.norm=none/layer")
    _check_eval(cfg)


def _check_excluded_classes(cfg: Config, num_classes: int) -> None:
    """``data.exclude_classes`` names classes of the data set and leaves at least two."""
    excluded = cfg.data.exclude_classes
    if excluded:
        if any(not 0 <= c < num_classes for c in excluded):
            _fail("data.exclude_classes", excluded, f"a list of classes in 0..{num_classes - 1}")
        if len(set(excluded)) >= num_classes - 1:
            _fail("data.exclude_classes", excluded, "a list that leaves at least two classes")


def _check_clusters(cfg: Config, info) -> None:
    """A self-conditioned GAN (``model.clusters``) needs image data, a conditioning whose G takes labels, and
    nothing else that decides G's labels."""
    m = cfg.model
    if m.clusters < 2:
        raise GanforgeError(f"model.clusters must be 0 (off) or 2 or more, got {m.clusters}")
    if m.conditioning not in ("acgan", "projection"):
        raise GanforgeError("model.clusters conditions G and D on clusters of the images: set "
                            "model.conditioning to acgan or projection (the clusters are its labels)")
    if info.kind != "image":
        raise GanforgeError(f"model.clusters clusters images; {cfg.data.name} is not an image data set")
    if m.latent_categories:
        raise GanforgeError("model.clusters picks G's cluster from z's first entry; set model.latent_categories=0")
    if m.cluster_channels:
        channels = info.shape[0]
        if m.conditioning != "projection":
            raise GanforgeError("model.cluster_channels embeds each channel's cluster, which the projection "
                                "discriminator does: set model.conditioning=projection")
        if channels < 2:
            raise GanforgeError(f"model.cluster_channels clusters each channel; {cfg.data.name} images have one: "
                                "set model.cluster_channels=false")
        if m.latent_dim < channels:
            raise GanforgeError(f"model.cluster_channels draws each of the {channels} channels' clusters from an "
                                f"entry of z: model.latent_dim must be at least {channels}")


def _check_eval(cfg: Config) -> None:
    """``eval.metrics`` names exist, and (when ``eval.every`` > 0) fit the data set, before training starts."""
    from .evaluation.catalog import METRICS, check_feature_choice, validate_metrics

    if cfg.eval.features:
        check_feature_choice(cfg.data.name, cfg.eval.features, cfg.eval.inception_weights or None)
    if cfg.eval.every > 0:
        validate_metrics(cfg.eval.metrics, cfg.data.name, labelled=cfg.model.conditioning != "none",
                         inception_weights=cfg.eval.inception_weights or None, discriminator=True,
                         features=cfg.eval.features or None, dcfg=cfg.data)
        return
    for name in cfg.eval.metrics:
        if name not in METRICS:
            raise GanforgeError(f"config key 'eval.metrics' names an unknown metric '{name}'"
                                f"{did_you_mean(name, METRICS.names())}; choose from {', '.join(METRICS.names())}")


def load_config(source: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """A checked :class:`Config` from a TOML file or a preset name (``dcgan_mnist``,
    ``tutorials/tutorial1_tf_dcgan_mnist``; a file that exists wins) and ``key=value`` overrides."""
    cfg = read_config(source, overrides)
    validate(cfg)
    return cfg


def load_run_config(source: str | Path, overrides: list[str] | None = None) -> tuple[Config, dict]:
    """(config, checkpoint state) of a run directory, checkpoint file or ``zoo:NAME`` entry: the config
    stored in the checkpoint, plus ``overrides``, checked."""
    from .training.checkpoint import load_checkpoint
    from .zoo import is_zoo, load_entry

    state = load_entry(source) if is_zoo(source) else load_checkpoint(source)
    try:
        cfg = config_from_dict(state["config"])
    except GanforgeError as exc:
        raise GanforgeError(f"the config inside {source}'s checkpoint is not valid for this version: {exc}") from None
    apply_overrides(cfg, overrides or [])
    validate(cfg)
    return cfg, state
