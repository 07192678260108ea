"""Typed configuration: dataclasses, TOML presets and ``section.key=value`` overrides.

A config is a tree of dataclasses. Presets (:mod:`ganforge.presets`, TOML files shipped in the
package) fill it; command-line overrides such as ``train.epochs=3 data.name=fashion_mnist`` change
single values. An unknown key or a value of the wrong type is a :class:`GanforgeError` with one line
and a did-you-mean suggestion. This module is the schema and imports nothing else of ganforge but
the errors, the did-you-mean hint and the preset lookup; :mod:`ganforge.config_values` checks the
values that need nothing but the config, and checking the words of a config against the
registries that define them is :mod:`ganforge.choices`, one floor above the registries.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import GanforgeError
from .registry import did_you_mean


@dataclass
class DataConfig:
    name: str = "mnist"  # mnist | fashion_mnist | ring8 | grid25
    root: str = ""  # directory of the IDX files; "" = $GANFORGE_DATA or the user cache
    split: str = "train"
    batch_size: int = 64
    download: bool = True
    num_samples: int = 0  # stacked_mnist: images to build (0 = 60,000 train / 10,000 test)
    path: str = ""  # folder: directory of images (searched recursively)
    size: int = 64  # folder: images are centre-cropped and resized to size x size
    val_fraction: float = 0.0  # folder: fraction held out as the "val" split (fixed by a seed)
    val_count: int = 0  # folder: this many images held out as the "val" split instead (the CelebA tutorial's 2,000)
    toy_epoch_size: int = 100_000  # points per "epoch" for the (infinite) toy mixtures
    device: str = "auto"  # where the in-memory data lives: auto = the training device
    exclude_classes: list[int] = field(default_factory=list)  # mnist/fashion_mnist: leave these classes out (anomaly detection)
    labels_per_class: int = 0  # model.conditioning=semi: keep this many labels per class (a seeded choice), 0 = all
    # folder: class labels. "" = unlabelled | "folders" (each first-level subfolder is a class, sorted by name) |
    # a StyleGAN2-ADA dataset.json (path relative to data.path, or absolute): {"labels": [["a/b.png", 3], ...]}
    labels: str = ""
    # folder with labels: the class names, recorded when a run starts (index i is class_names[i]); a resumed
    # run checks the folder still has them. Set by hand, they must match the labels
    class_names: list[str] = field(default_factory=list)

    @property
    def val_held(self) -> float:
        """The held-out "val" split of a folder: ``val_count`` images when set, else the fraction ``val_fraction``."""
        return float(self.val_count) if self.val_count > 0 else self.val_fraction


@dataclass
class NetConfig:
    arch: str = "mlp"  # mlp | dcgan | resnet
    hidden: list[int] = field(default_factory=lambda: [128])  # mlp: hidden layer widths
    width: int = 64  # dcgan: channels of the widest-resolution layer (doubling as resolution halves)
    activation: str = "relu"  # relu | leaky_relu | tanh | elu
    negative_slope: float = 0.2  # for leaky_relu
    dropout: float = 0.0
    # none | batch | batch_shift (batch norm with a learned shift, no scale: Salimans et al.'s semi-supervised G)
    # | layer (layer: e.g. a WGAN-GP critic, where batch norm is wrong)
    norm: str = "none"
    spectral_norm: bool = False  # spectral normalization of every weight layer (Miyato et al. 2018)
    output: str = "none"  # G: tanh | sigmoid | none; D: always raw logits
    pack: int = 1  # D only: PacGAN packing (D judges `pack` samples at once)
    mbstd_group: int = 0  # D only (conv archs): minibatch standard deviation over groups of this size (ProGAN: 4); 0 = off
    mbstd_channels: int = 1  # D only: feature channels the minibatch-std statistic is split into (StyleGAN2: 1)
    weight_norm: bool = False  # weight normalization (Salimans & Kingma 2016) of every weight layer
    # D only, with weight_norm: fixed = the hidden layers' weight vectors keep a fixed norm (1 for the first
    # layer, sqrt(2) after it; only the output head's scale is trained), as in Salimans et al.'s
    # semi-supervised code; trained = every scale is trained
    weight_norm_scale: str = "trained"
    noise: float = 0.0  # mlp D only: std of Gaussian noise added to each hidden layer's output while training
    input_noise: float = 0.0  # mlp D only: std of Gaussian noise added to D's input while training
    # weight init of every Linear/Conv layer: pytorch (PyTorch's defaults) | xavier_uniform (Keras' glorot
    # default) | xavier_normal | normal_0.02 (DCGAN) | truncated_normal_0.02 (TF's truncated_normal, cut at 2
    # std); all but pytorch zero the biases. Batch-norm gains and biases stay 1 and 0.
    init: str = "pytorch"
    # batch norm's running-statistics momentum in PyTorch's convention (new = (1 - m) old + m batch):
    # Keras' momentum=0.8 is 0.2 here, TF's decay=0.9 is 0.1
    bn_momentum: float = 0.1
    # --- arch = "conv": a conv net laid out layer by layer (the tutorials' Keras and TF networks) ---
    # G: a dense layer to channels[0] x base x base, then one conv per further entry of `channels` and a last
    # conv to the image channels; `up` gives each of those convs' upsampling factor (1 or 2), the image side
    # is base * prod(up). D: one conv per entry of `channels`, with `strides`, then a dense head.
    channels: list[int] = field(default_factory=list)
    base: int = 7  # conv G: side of the dense layer's map (7 for 28 and 112 px)
    up: list[int] = field(default_factory=list)  # conv G: upsampling factor of each conv (len(channels) entries)
    strides: list[int] = field(default_factory=list)  # conv D: each conv's stride (len(channels) entries)
    kernel: int = 4  # conv: kernel size of every conv (3, 4, 5)
    upsample: str = "transposed"  # conv G: transposed (strided ConvTranspose2d) | nearest (Keras' UpSampling2D + conv)
    norm_after_activation: bool = False  # conv: norm after the activation (the tutorials' Keras/TF order), else before
    norm_layers: list[int] = field(default_factory=list)  # conv D: which convs (0-based) get model.d.norm; [] = all but the first
    pad_after: list[int] = field(default_factory=list)  # conv D: zero rows/columns added right and bottom after each conv (Keras ZeroPadding2D((0,1),(0,1)) = 1)
    lrn: bool = False  # conv D: TF's local_response_normalization(depth_radius=5, bias=2, alpha=1e-4, beta=0.75) after each conv
    pool: list[str] = field(default_factory=list)  # conv D: none | max | avg (2x2, stride 2) after each conv
    dense_activation: bool = True  # conv G: the activation on the dense layer's output


@dataclass
class ModelConfig:
    latent_dim: int = 100
    latent_dist: str = "normal"  # normal | uniform (in [-1, 1])
    # K > 0: the first K of z's latent_dim entries are a one-hot code of a category drawn uniformly
    # (a discrete latent, as InfoGAN's code without its information loss, or DeLiGAN's mixture); the
    # rest follow latent_dist. A G over a unimodal latent must leave "bridges" of samples between
    # separated modes; with a discrete part each category can go to its own mode (ring8, grid25).
    latent_categories: int = 0
    # the value of the code's hot entry: above 1, the category outweighs the continuous entries in G's
    # first layer (grid25: scale 4 100% high quality, scale 1 89%)
    latent_category_scale: float = 1.0
    # InfoGAN (Chen et al. 2016): D gets a second head, Q, that predicts the latent category of a fake
    # sample; D (with Q) and G both minimise its cross-entropy (weight loss.info_weight), so each
    # category must make samples that can be told apart. Needs latent_categories and no conditioning.
    latent_info: bool = False
    # conv architectures: channels_last memory format. Measured faster here (2-core CPU, dcgan_mnist):
    # width 32 fp32 +9%, bf16 +6%; width 128 fp32 +13%, bf16 +23%. MLPs ignore it.
    channels_last: bool = True
    conditioning: str = "none"  # none | acgan | projection | semi (labels from the data set)
    # K > 0: a self-conditioned GAN (Liu et al. 2020, "cluster-conditioned"): the training images are
    # put in K clusters of their pixels (model.cluster_method), and G and D are conditioned on the cluster (the labels
    # of model.conditioning = acgan | projection are then the clusters, not the data set's labels).
    # G picks its cluster from z (its first entry, through the inverse CDF of the clusters' sizes), so
    # it is unconditional to the user and draws each cluster as often as the data has it.
    clusters: int = 0
    # how the clusters are found: kmeans (of the pixels) | spectral (spectral clustering of the pixels'
    # 10-nearest-neighbour graph; on MNIST 10 clusters hold one digit each for 77% of the images, k-means 59.5%)
    cluster_method: str = "kmeans"
    # M > 0: cluster M images drawn with the seed, and give every other image the cluster most of its 10 nearest
    # sampled images have (spectral) or its nearest centre (kmeans): the exact spectral graph costs N^2 distances,
    # too many for a CelebA-size folder. 0 = all images.
    cluster_sample: int = 0
    # per-channel clusters (images whose channels are separate pictures, like stacked MNIST's three digits): each
    # channel is clustered as a one-channel image into model.clusters clusters, an image's label is its channels'
    # clusters together (K^C combinations), G and D embed it as the sum of one embedding per channel, and G draws
    # each channel's cluster from its own entry of z (z's first C entries), at that channel's data shares.
    # Needs model.conditioning=projection.
    cluster_channels: bool = False
    # the range G's last layer and D's first layer work in: symmetric ([-1, 1]) | unit ([0, 1]: the tutorials' sigmoid output with
    # data scaled by 1/255: G's output is read in [0, 1] and D sees (x + 1) / 2). Samples outside the models
    # (data, grids, evaluation) are in [-1, 1] either way
    data_range: str = "symmetric"
    g_label: str = "multiply"  # how G combines the label embedding with z: multiply | concat
    g_cbn: bool = False  # conditional batch norm in G: per-class gains and biases (needs model.g.norm=batch)
    # H > 0: self-modulation (Chen et al. 2019): every norm layer of G also scales and shifts its output by a gain and a
    # bias computed from z by a small MLP (latent_dim -> H -> channels, ReLU; the paper's H is 32), so G can set
    # image-wide properties (a flat background colour) at every layer. Needs model.g.norm. 0 = off
    g_self_mod: int = 0
    sync_bn: bool = False  # data-parallel runs: batch norm over the global batch of all ranks (torchrun)
    g: NetConfig = field(default_factory=lambda: NetConfig(output="tanh"))
    d: NetConfig = field(default_factory=NetConfig)


@dataclass
class LossConfig:
    name: str = "non_saturating"  # minimax | non_saturating | max_likelihood | wasserstein | hinge | least_squares
    real_label: float = 1.0  # one-sided label smoothing: 0.9 in the classic tutorials (BCE and least squares)
    gp_weight: float = 0.0  # WGAN-GP gradient penalty lambda (10 in Gulrajani et al. 2017); 0 = off
    r1_gamma: float = 0.0  # R1 penalty gamma on real data (Mescheder et al. 2018); 0 = off
    r1_every: int = 1  # lazy R1: apply every k discriminator steps, scaled by k (StyleGAN2)
    aux_weight: float = 1.0  # AC-GAN: weight of the class cross-entropy (on real and fake, for D; on fake, for G)
    info_weight: float = 1.0  # model.latent_info (InfoGAN): weight of Q's category cross-entropy, for D and G (their lambda)
    aux_fake_d: bool = True  # AC-GAN: D's class loss includes fake samples (the original); false = real only
    augment: list[str] = field(default_factory=list)  # DiffAugment of D's inputs: any of translation, cutout, color
    augment_p: float = 1.0  # probability of each augmentation per image (the start value when adaptive)
    augment_target: float = 0.0  # > 0: adaptive p (StyleGAN2-ADA's r_t = E[sign(D(x))] heuristic, target 0.6)
    augment_kimg: float = 100.0  # adaptive: thousands of images for p to move from 0 to 1
    feature_matching: bool = False  # G matches the mean of D's last features on real data (Salimans et al. 2016)
    feature_distance: str = "squared"  # feature matching's mean over features of: squared | abs (their MNIST code) differences
    # feature matching's real mean from: d_step (the D step's batch, D before its step) | current (that
    # batch, D after its step) | fresh (the next real batch, D after its step)
    feature_real: str = "d_step"
    feature_layer: str = "head"  # features matched: head (what D's head receives) | clean (before D's last noise layer)
    semi_real: str = "all"  # semi-supervised D's GAN term and feature target on: all real rows | unlabelled ones
    # mode seeking (MSGAN, Mao et al. 2019): G also minimises weight / (mean|G(z1) - G(z2)| / mean|z1 - z2|) over
    # pairs of latents with the same label (cluster), so G cannot ignore z; 0 = off (1 in their paper)
    mode_seeking: float = 0.0
    # > 0: mode seeking compares the images average-pooled to this size (16: 16x16), so that pairs must differ in
    # their shapes and colours rather than in pixel noise, which the full-resolution ratio also rewards
    mode_seeking_size: int = 0
    # where mode seeking measures |G(z1) - G(z2)|: pixels | d_features (D's last features, what its output head
    # receives, under D's current weights): pairs must then differ in what D looks at, not in any pixels
    mode_seeking_space: str = "pixels"


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | sgd
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    # G's and D's own Adam betas where they differ (the Keras MLP tutorial: D Adam(2e-4, 0.5), G Keras'
    # default 'adam', 1e-3 and 0.9); [] = optim.betas
    g_betas: list[float] = field(default_factory=list)
    d_betas: list[float] = field(default_factory=list)
    momentum: float = 0.0  # sgd only
    # adam only: added to sqrt(v) in the update's denominator. Salimans et al.'s code adds 1e-8 *under* the
    # square root, about eps = 1e-4 in PyTorch's form: steps shrink once a weight's gradients are tiny
    eps: float = 1e-8
    weight_decay: float = 0.0
    # adam: one fused kernel for all of a model's weights (PyTorch's fused=True, CPU and CUDA); false: the
    # per-tensor loop (bit-identical to runs before 2026-11-28; fused differs in the last bits)
    fused: bool = True
    schedule: str = "constant"  # constant | linear (linear decay to 0 at the end of training)
    decay_start: float = 0.0  # linear: fraction of training after which the decay starts


@dataclass
class TrainConfig:
    epochs: int = 1
    steps: int = 0  # if > 0, number of generator steps (overrides kimg and epochs)
    kimg: float = 0.0  # if > 0, thousands of real images shown to D (overrides epochs)
    d_steps: int = 1  # discriminator steps per generator step
    ema_kimg: float = 0.0  # generator EMA half-life in thousands of images (StyleGAN2-ADA: 10); 0 = off
    # > 0: before the EMA generator draws, is evaluated or saved, its batch-norm statistics are recomputed over
    # this many batches of its own (BigGAN's "standing statistics"); 0 = it uses the training G's statistics
    ema_bn_batches: int = 0
    d_ema_kimg: float = 0.0  # discriminator weight-average half-life in kimg (Salimans et al.'s MNIST code: 693); 0 = off
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "fp32"  # fp32 | bf16 (CPU and CUDA) | fp16 (CUDA, with a gradient scaler): autocast of G and D
    threads: int = 0  # torch CPU threads; 0 = leave PyTorch's default
    # torch.compile of G and D for the training passes: none | default | reduce-overhead | max-autotune |
    # max-autotune-no-cudagraphs (training/compile.py); not with loss.gp_weight or loss.r1_gamma
    compile: str = "none"
    # D updated on the real and the fake batch in two separate optimizer steps (Keras' two train_on_batch
    # calls); with batch norm in D each step normalises one kind of batch. false: one step on both
    d_split: bool = False
    # G schedule counted in D iterations (the CelebA tutorial: G trains when it < 5 or it % 5 == 0):
    # G trains at D iteration i when i < g_warmup or i % g_every == 0; g_every = 1 trains it every time.
    # train.steps still counts G steps; kimg and epochs count D iterations
    g_every: int = 1
    g_warmup: int = 0


@dataclass
class LogConfig:
    every: int = 50  # steps between metrics.jsonl lines and progress-bar updates
    sample_every: int = 500  # steps between fixed-noise grids (0 = only first and last)
    n_samples: int = 64  # images in the fixed-noise grid / points in toy scatter plots
    fresh_every: int = 0  # also a grid of fresh noise every this many steps (samples/fresh_step_N.png); 0 = never
    checkpoint_every: int = 1000  # steps between checkpoints/last.pt writes (0 = only at the end)
    keep_every: int = 0  # also keep checkpoints/step_N.pt every this many steps (0 = never)
    tensorboard: bool = True  # used when the `tb` extra is installed
    progress: bool = True
    out_dir: str = "runs"


@dataclass
class EvalConfig:
    every: int = 0  # steps between evaluations during training (0 = never); keeps checkpoints/best.pt by FID
    n: int = 2000  # samples per periodic evaluation
    metrics: list[str] = field(default_factory=lambda: ["fid"])
    inception_weights: str = ""  # image folders: FID Inception-v3 weights file (pt_inception-2015-12-05); "" = pixel features
    # image folders: a classifier file from `ganforge train-classifier --data folder` (its card, FILE.json, beside
    # it; sha256 checked): FID/KID/PRDC in its features, class accuracy of a conditional run's samples
    features: str = ""


@dataclass
class Config:
    name: str = "run"
    seed: int = 0
    ganforge_version: str = ""  # filled in when a run writes its resolved config
    ganforge_commit: str = ""  # likewise: the git commit of ganforge's source checkout ("" for an installed wheel)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


# ---------------------------------------------------------------------------- helpers


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Check/convert ``value`` to the annotated type ``typ``; raise a one-line error."""
    origin = typing.get_origin(typ)
    if origin is list:
        (item_t,) = typing.get_args(typ)
        if not isinstance(value, (list, tuple)):
            raise GanforgeError(f"config key '{where}' must be a list, got {value!r}")
        return [_coerce(v, item_t, f"{where}[{i}]") for i, v in enumerate(value)]
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise GanforgeError(f"config key '{where}' must be true or false, got {value!r}")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise GanforgeError(f"config key '{where}' must be an integer, got {value!r}")
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise GanforgeError(f"config key '{where}' must be a number, got {value!r}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise GanforgeError(f"config key '{where}' must be a string, got {value!r}")
    raise TypeError(f"unsupported config type {typ} at {where}")  # programming error


def _apply(obj: Any, values: dict, prefix: str = "") -> None:
    hints = _hints(type(obj))
    for key, value in values.items():
        where = f"{prefix}{key}"
        if key not in hints:
            raise GanforgeError(f"unknown config key '{where}'{did_you_mean(key, hints)}")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                raise GanforgeError(f"config key '{where}' is a section; set '{where}.<key>' instead")
            _apply(getattr(obj, key), value, where + ".")
        else:
            setattr(obj, key, _coerce(value, typ, where))


def _parse_value(text: str) -> Any:
    """Parse the right-hand side of an override the TOML way; bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise GanforgeError(f"override '{item}' is not of the form section.key=value")
    key, text = item.split("=", 1)
    return key.strip().split("."), _parse_value(text.strip())


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    for item in overrides:
        path, value = parse_override(item)
        nested: dict = {path[-1]: value}
        for part in reversed(path[:-1]):
            nested = {part: nested}
        _apply(cfg, nested)
    return cfg


def read_config(source: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """A :class:`Config` from a TOML file or a preset name (optional, see :mod:`ganforge.presets`) and
    ``key=value`` overrides. Keys and types are checked here; values by
:func:`ganforge.config_values.check_values`, and
    against the registries by :func:`ganforge.choices.validate` (:func:`ganforge.choices.load_config`
    does all three)."""
    from .presets import resolve

    cfg = Config()
    if source is not None:
        path = resolve(source)
        try:
            values = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise GanforgeError(f"config file '{path}' is not valid TOML: {exc}") from None
        _apply(cfg, values)
    apply_overrides(cfg, overrides or [])
    return cfg


def config_from_dict(values: dict) -> Config:
    cfg = Config()
    _apply(cfg, values)
    return cfg


def to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def to_toml(values: dict, header: str = "") -> str:
    """Serialise a nested dict of plain values as TOML (enough for configs)."""
    scalars = [f"{k} = {_toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
    lines = ([f"[{header}]"] if header and scalars else []) + scalars
    for k, v in values.items():
        if isinstance(v, dict):
            sub = to_toml(v, f"{header}.{k}" if header else k)
            lines += ["", sub] if lines else [sub]
    return "\n".join(lines)
