"""Conditioning as an ingredient (``model.conditioning = none | acgan | projection | semi``).

- Generator side, :class:`LabelInput`: a label embedding combined with the noise, multiplied
  into it (``model.g_label = "multiply"``, the AC-GAN tutorial's choice) or concatenated to it;
  optionally :class:`ConditionalBatchNorm` (``model.g_cbn = true``): every batch norm of G gets
  per-class gains and biases (de Vries et al. 2017; the SNGAN/BigGAN generators).
- Labels are class indices (N,) or, for label morphing, class weights (N x K, rows summing to 1):
  embeddings are then the weighted mixtures of the class embeddings.
- Every label embedding (G's input, its conditional gains and biases, D's projection) is an
  ``nn.Embedding``, or, for per-channel clusters (``model.cluster_channels``), a :class:`FactorEmbedding`:
  a label is then C per-channel clusters (id sum_c k_c K^(C-1-c)) and its embedding the sum of C
  per-channel embeddings, so K^C combinations cost C x K rows and each row sees every combination.
- Discriminator side, :class:`OutputHead` on D's last features h:
  ``none``: logit = w.h + b; ``acgan`` (Odena et al. 2017): the same logit plus an auxiliary
  class head (raw class logits; the class loss is cross-entropy on them); ``projection``
  (Miyato & Koyama 2018): logit = w.h + b + <embed(y), h>; ``semi`` (Salimans et al. 2016,
  semi-supervised learning): K class logits l_k = w_k.h + b_k with the fake class implicit, the
  real/fake logit being logsumexp_k l_k (so D(x) = Z/(Z+1), Z = sum_k exp l_k). G is unconditional.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import GanforgeError
from .latent import latent_cdf
from .layers import norm_layer

CONDITIONINGS = ("none", "acgan", "projection", "semi")  # model.conditioning
G_CONDITIONINGS = ("acgan", "projection")  # the conditionings whose generator takes labels
LABEL_INPUTS = ("multiply", "concat")  # model.g_label


def generator_conditional(mcfg) -> bool:
    """Whether the user gives G labels (AC-GAN, projection); a semi-supervised GAN's G does not, nor does a
    self-conditioned one (``model.clusters``), which picks its own cluster from z."""
    return mcfg.conditioning in G_CONDITIONINGS and not mcfg.clusters


def _g_takes_labels(mcfg) -> bool:
    """Whether G's network has label inputs (a self-conditioned G's are fed by :class:`ClusterConditioned`)."""
    return mcfg.conditioning in G_CONDITIONINGS


def check_conditioning(mcfg, num_classes: int) -> None:
    if mcfg.conditioning not in CONDITIONINGS:
        raise GanforgeError(f"model.conditioning must be one of {', '.join(CONDITIONINGS)}, got '{mcfg.conditioning}'")
    if mcfg.conditioning != "none" and num_classes < 2:
        raise GanforgeError(f"model.conditioning={mcfg.conditioning} needs a labelled data set (mnist, "
                            "fashion_mnist, stacked_mnist, or a folder with data.labels=folders or a "
                            "dataset.json) with 2 or more classes; this one has "
                            f"{num_classes or 'no'} class{'' if num_classes == 1 else 'es'}")


class FactorEmbedding(nn.Module):
    """An embedding of labels that are ``factors`` digits base ``k`` (id = sum_c d_c k^(factors-1-c)): the sum
    of one table per digit, ``tables[c][d_c]``. ``weight`` is the full k^factors x dim table (class weights)."""

    def __init__(self, k: int, factors: int, dim: int):
        super().__init__()
        self.k, self.factors = k, factors
        self.tables = nn.Parameter(torch.randn(factors, k, dim) / factors ** 0.5)  # sums have nn.Embedding's N(0, 1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        from ..data.clusters import split_factors

        digits = split_factors(y, self.k, self.factors)
        return sum(self.tables[c][digits[:, c]] for c in range(self.factors))

    @property
    def weight(self) -> torch.Tensor:
        return self(torch.arange(self.k ** self.factors, device=self.tables.device))


def label_embedding(mcfg, num_classes: int, dim: int, fill: float | None = None, std: float = 1.0) -> nn.Module:
    """An embedding of ``num_classes`` labels into ``dim`` numbers, filled with ``fill`` or drawn N(0, std^2):
    a :class:`FactorEmbedding` for per-channel clusters (``model.cluster_channels``, with the same sums at
    the start), else an ``nn.Embedding``."""
    if getattr(mcfg, "cluster_channels", False) and mcfg.clusters:
        factors = 1
        while mcfg.clusters ** factors < num_classes:
            factors += 1
        if mcfg.clusters ** factors != num_classes:
            raise GanforgeError(f"per-channel clusters make {mcfg.clusters}^C labels, not {num_classes}")
        emb = FactorEmbedding(mcfg.clusters, factors, dim)  # its tables start N(0, 1 / factors)
        table, scale = emb.tables, factors
    else:
        emb = nn.Embedding(num_classes, dim)  # starts N(0, 1), drawn as before FactorEmbedding existed
        table, scale = emb.weight, 1
    with torch.no_grad():
        if fill is not None:
            table.fill_(fill / scale)
        elif std != 1.0:
            table.normal_(0.0, std / scale ** 0.5)
    return emb


class LabelInput(nn.Module):
    """G's input: z combined with a label embedding, as ``g_label`` (``model.g_label``) says."""

    def __init__(self, g_label: str, num_classes: int, latent_dim: int, mcfg=None):
        super().__init__()
        if g_label not in LABEL_INPUTS:
            raise GanforgeError(f"model.g_label must be multiply or concat, got '{g_label}'")
        self.g_label = g_label
        self.embed = label_embedding(mcfg, num_classes, latent_dim)
        self.out_dim = latent_dim * (2 if g_label == "concat" else 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if y is None:
            raise GanforgeError("this generator is conditional: give labels (e.g. ganforge sample RUN --label 3)")
        e = embed_labels(self.embed, y)
        return z * e if self.g_label == "multiply" else torch.cat([z, e], dim=1)


def embed_labels(embedding: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Class indices (N,) -> embeddings; class weights (N x K floats) -> mixtures of embeddings."""
    if y.is_floating_point():
        return y @ embedding.weight
    return embedding(y)


class ConditionalBatchNorm(nn.Module):
    """Batch norm without its own affine part, then a gain and a bias looked up per class."""

    def __init__(self, channels: int, num_classes: int, spatial: bool, mcfg=None):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False) if spatial else nn.BatchNorm1d(channels, affine=False)
        self.gain = label_embedding(mcfg, num_classes, channels, fill=1.0)
        self.bias = label_embedding(mcfg, num_classes, channels, fill=0.0)

    def affine(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The gains and biases (N x channels) of labels or class weights ``y``."""
        return embed_labels(self.gain, y), embed_labels(self.bias, y)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)
        gain, bias = self.affine(y)
        return torch.addcmul(bias.view(shape), self.bn(x), gain.view(shape))


class SelfModulation(nn.Module):
    """Self-modulation (Chen et al. 2019, "On Self Modulation for Generative Adversarial Networks"): the output
    of G's norm layer ``norm`` (conditional or not) times 1 + gain(z), plus bias(z), where gain and bias are
    MLPs latent_dim -> ``hidden`` -> channels with a ReLU between. Their last layers start at zero, so a new
    G computes what it would without them. Around a conditional batch norm the class's gain g_y and bias b_y
    and z's are applied as one product and one sum on the feature maps: bn(x) g_y (1 + g_z) + b_y (1 + g_z)
    + b_z."""

    def __init__(self, norm: nn.Module, latent_dim: int, channels: int, hidden: int):
        super().__init__()
        self.norm = norm
        self.gain = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        self.bias = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, channels))
        for mlp in (self.gain, self.bias):
            nn.init.zeros_(mlp[2].weight)
            nn.init.zeros_(mlp[2].bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        if z is None:
            raise GanforgeError("a self-modulated norm layer (model.g_self_mod) needs G's latent z")
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)
        gain, bias = 1 + self.gain(z), self.bias(z)
        if isinstance(self.norm, ConditionalBatchNorm):
            gain_y, bias_y = self.norm.affine(y)
            h, bias, gain = self.norm.bn(x), torch.addcmul(bias, bias_y, gain), gain_y * gain
        else:
            h = apply_layer(self.norm, x, y)
        return torch.addcmul(bias.view(shape), h, gain.view(shape))


def conditional_norm(mcfg, channels: int, num_classes: int, spatial: bool) -> nn.Module | None:
    """G's norm layer: conditional batch norm when ``model.g_cbn`` is on (with conditioning), else
    ``model.g.norm``; inside a :class:`SelfModulation` with ``model.g_self_mod``. For G only: D's
    norm layers are plain ``norm_layer(mcfg.d.norm, ...)``."""
    if _g_takes_labels(mcfg) and mcfg.g_cbn:
        if mcfg.g.norm != "batch":
            raise GanforgeError(f"model.g_cbn=true needs model.g.norm=batch, got '{mcfg.g.norm}'")
        norm = ConditionalBatchNorm(channels, num_classes, spatial, mcfg)
    else:
        norm = norm_layer(mcfg.g.norm, channels, spatial)
    if getattr(mcfg, "g_self_mod", 0):
        if norm is None:
            raise GanforgeError("model.g_self_mod modulates G's norm layers: set model.g.norm (batch) or "
                                "model.g_self_mod=0")
        norm = SelfModulation(norm, mcfg.latent_dim, channels, mcfg.g_self_mod)
    return norm


def apply_layer(layer: nn.Module | None, x: torch.Tensor, y: torch.Tensor | None,
                z: torch.Tensor | None = None) -> torch.Tensor:
    """``layer(x)``, or ``layer(x, y)`` for a conditional batch norm, ``layer(x, y, z)`` for a
    self-modulated one; None is the identity."""
    if layer is None:
        return x
    if isinstance(layer, SelfModulation):
        return layer(x, y, z)
    return layer(x, y) if isinstance(layer, ConditionalBatchNorm) else layer(x)


def run_layers(layers: nn.Sequential, x: torch.Tensor, y: torch.Tensor | None,
               z: torch.Tensor | None = None) -> torch.Tensor:
    """``layers(x)``, giving the labels to the conditional batch norms among them and z to the
    self-modulated ones."""
    for layer in layers:
        x = apply_layer(layer, x, y, z)
    return x


def label_input(mcfg, num_classes: int) -> LabelInput | None:
    """G's label input, or None when G is unconditional (it then takes z alone)."""
    if not _g_takes_labels(mcfg):
        return None
    return LabelInput(mcfg.g_label, num_classes, mcfg.latent_dim, mcfg)


class ClusterConditioned(nn.Module):
    """A self-conditioned generator (``model.clusters``): ``net``, a G conditioned on K clusters, fed the
    cluster that z's first entry picks. The entry goes through its CDF to a uniform number u, and u through
    the inverse CDF of ``prior`` (the clusters' shares of the training images, a buffer saved with G), so
    clusters come as often as in the data and G is a function of z alone. The trainer also gives ``y``
    explicitly (the same clusters, from :meth:`clusters_of`)."""

    def __init__(self, net: nn.Module, clusters: int, latent_dist: str, feature_dim: int = 1, factors: int = 1):
        super().__init__()
        self.net = net
        self.latent_dist = latent_dist
        self.k, self.factors = clusters, factors
        # per-channel clusters (model.cluster_channels): one row of shares per channel, each drawn from its own
        # entry of z (z's first ``factors`` entries), so the channels' clusters are independent as in the data
        shape = (clusters,) if factors == 1 else (factors, clusters)
        self.register_buffer("prior", torch.full(shape, 1.0 / clusters))
        # the clusters' mean pixels (ganforge.data.clusters' features): any image's nearest cluster, for evaluation
        self.register_buffer("centers", torch.zeros(clusters, feature_dim))

    def set_clusters(self, counts: torch.Tensor, centers: torch.Tensor | None = None) -> None:
        """The clusters' shares, from their image counts (K,; per-channel clusters: channels x K), and their
        centres (K x feature_dim)."""
        counts = torch.as_tensor(counts, dtype=torch.float64)
        if counts.shape != self.prior.shape or (counts < 0).any() or (counts.sum(-1) <= 0).any():
            raise GanforgeError(f"cluster counts must be {' x '.join(map(str, self.prior.shape))} non-negative "
                                "numbers, not all 0")
        self.prior.copy_((counts / counts.sum(-1, keepdim=True)).to(self.prior))
        if centers is not None:
            self.centers.copy_(centers)

    def clusters_of(self, z: torch.Tensor) -> torch.Tensor:
        """The cluster (N,) each latent vector (N x latent_dim) picks; per-channel clusters: their combined
        label (:func:`ganforge.data.clusters.combine_factors`), channel c's from z's entry c."""
        ids = None  # (no batch-sized constant, so that a traced export takes any batch)
        for c, share in enumerate(self.prior.view(self.factors, self.k)):
            cdf = torch.cumsum(share.double(), 0)
            u = latent_cdf(z[:, c].float(), self.latent_dist).double()
            # searchsorted(cdf, u, right=True) written as a count, which ONNX can export: the cdf entries <= u
            cluster = (cdf.unsqueeze(0) <= u.unsqueeze(1)).sum(1).clamp(max=self.k - 1)
            ids = cluster if ids is None else ids * self.k + cluster
        return ids

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z, self.clusters_of(z) if y is None else y)


class ClusterLabelled(nn.Module):
    """A self-conditioned run's D for evaluation: an image without a label gets the cluster with the
    nearest mean (``centers``, from the run's generator) as its label. For k-means clusters this is the
    training images' own rule; spectral clusters are not convex in pixel space, so there it approximates.
    ``channels`` (``model.cluster_channels``): each channel gets its nearest one-channel centre."""

    def __init__(self, D: nn.Module, centers: torch.Tensor, channels: bool = False):
        super().__init__()
        self.D = D
        self.pack = getattr(D, "pack", 1)
        self.channels = channels
        self.register_buffer("centers", centers.detach().clone())

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_classes: bool = False):
        if y is None:
            from ..data.clusters import combine_factors, nearest_channel_clusters, nearest_cluster

            if self.channels:
                y = combine_factors(nearest_channel_clusters(x, self.centers), len(self.centers))
            else:
                y = nearest_cluster(x, self.centers)
            y = y[::self.pack]
        return self.D(x, y, return_classes)


def info_categories(mcfg) -> int:
    """The number of latent categories D's InfoGAN head predicts (0: no such head)."""
    return mcfg.latent_categories if mcfg.latent_info else 0


class OutputHead(nn.Module):
    """D's last layer on features h (N x feat_dim), as ``conditioning`` (``model.conditioning``) says;
    with ``info_categories`` K > 0 (``model.latent_info``), also InfoGAN's Q: K logits of the latent
    category, returned as the class logits of an unconditional D."""

    def __init__(self, conditioning: str, num_classes: int, feat_dim: int, info_categories: int = 0, mcfg=None):
        super().__init__()
        self.conditioning = conditioning
        self.info = nn.Linear(feat_dim, info_categories) if info_categories else None
        if conditioning == "semi":  # K class logits; the real/fake logit is their logsumexp
            self.classes = nn.Linear(feat_dim, num_classes)
            return
        self.linear = nn.Linear(feat_dim, 1)
        if conditioning == "acgan":
            self.aux = nn.Linear(feat_dim, num_classes)
        elif conditioning == "projection":
            self.embed = label_embedding(mcfg, num_classes, feat_dim, std=0.02)

    def forward(self, h: torch.Tensor, y: torch.Tensor | None = None, return_classes: bool = False):
        if self.conditioning == "semi":
            cls = self.classes(h)
            out = torch.logsumexp(cls.float(), dim=1)
            return (out, cls) if return_classes else out
        out = self.linear(h).squeeze(1)
        if self.conditioning == "projection":
            if y is None:
                raise GanforgeError("the projection discriminator needs labels")
            out = out + (self.embed(y) * h).sum(dim=1)
        if return_classes:
            if self.info is not None:
                return out, self.info(h)
            return out, (self.aux(h) if self.conditioning == "acgan" else None)
        return out
