"""Shared building blocks: activations, normalization layers (local response normalization
included), spectral normalization, weight init schemes, the data range of G's output and D's input,
the image geometry of the conv architectures, minibatch standard deviation, dropout."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import GanforgeError
from ..registry import Registry


ACTIVATIONS: Registry = Registry("activation", "model.g.activation / model.d.activation")
ACTIVATIONS.register("relu")(lambda negative_slope: nn.ReLU())
ACTIVATIONS.register("leaky_relu")(lambda negative_slope: nn.LeakyReLU(negative_slope))
ACTIVATIONS.register("tanh")(lambda negative_slope: nn.Tanh())
ACTIVATIONS.register("elu")(lambda negative_slope: nn.ELU())
ACTIVATIONS.register("softplus")(lambda negative_slope: nn.Softplus())  # the semi-supervised GAN's G

NORMS = ("none", "batch", "batch_shift", "layer")  # see norm_layer
BATCH_NORMS = ("batch", "batch_shift")  # the norms that need >= 2 samples per batch
OUTPUTS = ("tanh", "sigmoid", "none")  # G's last layer (output_layer); sigmoid is rescaled to [-1, 1]
INITS = ("pytorch", "xavier_uniform", "xavier_normal", "normal_0.02", "truncated_normal_0.02")  # init_weights
UPSAMPLES = ("transposed", "nearest")  # the conv G's upsampling (models/conv.py)
DATA_RANGES = ("symmetric", "unit")  # model.data_range: the range G's last layer and D's first layer work in


class Dropout(nn.Module):
    """Inverted dropout, as ``nn.Dropout`` (zero each entry with probability p while training, scale
    the rest by the inverse of the keep probability), faster on the CPU: ``nn.Dropout``'s
    ``bernoulli_`` draws one random number per entry and made dropout a third of the demo's step
    time. Here each 64-bit random integer gives four 15-bit ones, an entry is kept when its 15-bit
    number is below round((1 - p) * 32768), and kept entries are scaled by 32768 over that threshold
    (so the keep probability is 1 - p to within 1/65536, and the layer is unbiased exactly).
    Forward and backward together: 3.8x faster than ``nn.Dropout`` on a 64 x 32 x 14 x 14 batch.
    Other devices use ``F.dropout``."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise GanforgeError(f"dropout must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, True)
        threshold = max(1, round((1.0 - self.p) * 32768))
        n = x.numel()
        bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_().view(torch.int16)[:n]
        # laid out as x is (channels_last included): a mask in another memory format slows the product
        dense = x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)
        bits = bits.as_strided(x.shape, x.stride()) if dense else bits.view(x.shape)
        return x * (((bits & 0x7FFF) < threshold).to(x.dtype) * (32768.0 / threshold))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _FlattenChannelsLast(torch.autograd.Function):
    """``h.flatten(1)`` of a channels_last feature map whose gradient goes back channels_last: plain
    ``flatten`` hands the layers below a contiguous (NCHW) gradient beside their channels_last
    activations, and mixed memory formats take PyTorch's slow elementwise paths (the demo D's last
    ``leaky_relu_backward`` measured 10x slower that way)."""

    @staticmethod
    def forward(ctx, h):
        ctx.shape = h.shape
        return h.flatten(1)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape).contiguous(memory_format=torch.channels_last)


def check_d_batch(x: torch.Tensor, shape: tuple, pack: int) -> None:
    """A discriminator's input checks: samples of ``shape``, a batch that is a multiple of ``pack``."""
    if x.shape[1:] != shape:
        raise GanforgeError(f"discriminator expects samples of shape {shape}, got {tuple(x.shape[1:])}")
    if x.shape[0] % pack:
        raise GanforgeError(f"batch of {x.shape[0]} is not a multiple of model.d.pack={pack}")


def pack_images(x: torch.Tensor, shape: tuple, pack: int, channels_last: bool) -> torch.Tensor:
    """A conv discriminator's input, checked, PacGAN-packed (``pack`` samples along the channels) and in
    channels_last memory format when asked."""
    check_d_batch(x, shape, pack)
    if pack > 1:
        x = x.reshape(x.shape[0] // pack, pack * shape[0], *shape[1:])
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def flatten_features(h: torch.Tensor) -> torch.Tensor:
    """B x C x H x W features -> B x (C*H*W) in NCHW order, whatever h's memory format; the gradient
    comes back in h's format (see :class:`_FlattenChannelsLast`)."""
    if h.dim() == 4 and h.shape[1] > 1 and not h.is_contiguous() and h.is_contiguous(memory_format=torch.channels_last):
        return _FlattenChannelsLast.apply(h)
    return h.flatten(1)


class ScaledSigmoid(nn.Module):
    """sigmoid rescaled to the data range [-1, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * 2.0 - 1.0


def output_layer(name: str) -> nn.Module | None:
    """G's last layer for ``model.g.output`` (one of OUTPUTS): Tanh, ScaledSigmoid, or None."""
    if name not in OUTPUTS:
        raise GanforgeError(f"model.g.output must be one of {', '.join(OUTPUTS)}, got '{name}'")
    return {"tanh": nn.Tanh, "sigmoid": ScaledSigmoid}.get(name, lambda: None)()


class UnitToSymmetric(nn.Module):
    """y = 2 x - 1: G's last layer output, read in [0, 1] (``model.data_range = "unit"``), mapped to the
    [-1, 1] that samples have everywhere outside the models (data, grids, evaluation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2.0 - 1.0


def unit_range_input(module: nn.Module, args: tuple) -> tuple:
    """A forward pre-hook for D with ``model.data_range = "unit"``: its input, a [-1, 1] sample as
    everywhere outside the models, is mapped to (x + 1) / 2 in [0, 1] before D's first layer, so D
    works on data in [0, 1] as the tutorials' sigmoid-output GANs do."""
    return ((args[0] + 1.0) * 0.5, *args[1:])


def range_output_layer(name: str, data_range: str) -> nn.Module | None:
    """G's last layer for ``model.g.output`` in ``model.data_range``: with "symmetric" as
    :func:`output_layer`; with "unit" the output (sigmoid, tanh or none) is taken in [0, 1] space and
    mapped by 2 x - 1 (a plain sigmoid then spans exactly the data; a tanh G can reach below the data,
    as in the CelebA tutorial's code)."""
    if data_range not in DATA_RANGES:
        raise GanforgeError(f"model.data_range must be one of {', '.join(DATA_RANGES)}, got '{data_range}'")
    if data_range == "symmetric":
        return output_layer(name)
    if name not in OUTPUTS:
        raise GanforgeError(f"model.g.output must be one of {', '.join(OUTPUTS)}, got '{name}'")
    last = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid}.get(name)
    return nn.Sequential(last(), UnitToSymmetric()) if last else UnitToSymmetric()


class TFLocalResponseNorm(nn.Module):
    """TensorFlow's ``tf.nn.local_response_normalization``: over channels,
    y_c = x_c / (bias + alpha * sum_{|c'-c| <= radius} x_c'^2) ^ beta. PyTorch's LocalResponseNorm divides
    alpha by the window size (2 radius + 1); this does not. Defaults: the CelebA tutorial's (AlexNet's)
    radius 5, bias 2, alpha 1e-4, beta 0.75."""

    def __init__(self, radius: int = 5, bias: float = 2.0, alpha: float = 1e-4, beta: float = 0.75):
        super().__init__()
        self.radius, self.bias, self.alpha, self.beta = radius, bias, alpha, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = 2 * self.radius + 1
        # PyTorch's form with alpha * size gives TF's sum (its alpha is per window element)
        return nn.functional.local_response_norm(x, size, alpha=self.alpha * size, beta=self.beta, k=self.bias)

    def extra_repr(self) -> str:
        return f"radius={self.radius}, bias={self.bias}, alpha={self.alpha}, beta={self.beta}"


def _truncated_normal_(w: torch.Tensor, std: float) -> None:
    nn.init.trunc_normal_(w, std=std, a=-2 * std, b=2 * std)


_INIT_FUNCS = {
    "xavier_uniform": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    "normal_0.02": lambda w: nn.init.normal_(w, 0.0, 0.02),
    "truncated_normal_0.02": lambda w: _truncated_normal_(w, 0.02),
}


def init_weights(module: nn.Module, scheme: str) -> nn.Module:
    """Re-initialise every Linear/Conv/ConvTranspose weight of ``module`` by ``scheme`` (one of INITS) and
    zero its bias; ``pytorch`` leaves PyTorch's defaults (and draws nothing). Spectral- or
    weight-normalised layers are initialised through their original weight. Keras' and TF's fans of a
    transposed conv are those of its (in, out, k, k) PyTorch weight read as (out, in): Xavier is
    symmetric in the two fans, so the numbers agree."""
    if scheme not in INITS:
        raise GanforgeError(f"model init must be one of {', '.join(INITS)}, got '{scheme}'")
    if scheme == "pytorch":
        return module
    fn = _INIT_FUNCS[scheme]
    with torch.no_grad():
        for m in module.modules():
            if not isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                continue
            params = getattr(m, "parametrizations", None)
            weight = params.weight.original if params is not None and "weight" in params else m.weight
            fn(weight)
            if m.bias is not None:
                m.bias.zero_()
    return module


def set_bn_momentum(module: nn.Module, momentum: float) -> nn.Module:
    """Every batch norm of ``module`` gets ``momentum`` (PyTorch's convention; Keras' 0.8 is 0.2)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = momentum
    return module


def activation(name: str, negative_slope: float = 0.2) -> nn.Module:
    return ACTIVATIONS.get(name)(negative_slope)


def norm_layer(norm: str, channels: int, spatial: bool) -> nn.Module | None:
    """``norm`` (a NetConfig.norm): ``batch`` -> BatchNorm1d/2d; ``batch_shift`` -> the same with a
    learned shift but no scale (Salimans et al.'s semi-supervised G, their ``batch_norm(g=None)``);
    ``layer`` -> LayerNorm over features (GroupNorm(1, C) for maps); ``none`` -> None. ``spatial``:
    the input is a (N, C, H, W) map."""
    if norm == "none":
        return None
    if norm in BATCH_NORMS:
        bn = nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)
        if norm == "batch_shift":
            bn.weight = None  # no scale parameter (state dict without 'weight'); the bias stays
        return bn
    if norm == "layer":
        return nn.GroupNorm(1, channels) if spatial else nn.LayerNorm(channels)
    raise GanforgeError(f"unknown norm '{norm}'; use none, batch, batch_shift or layer")


class GaussianNoise(nn.Module):
    """x + N(0, std^2) while training, the identity in eval mode (the semi-supervised GAN's D)."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x

    def extra_repr(self) -> str:
        return f"std={self.std}"


def _parametrize_weights(module: nn.Module, parametrization) -> nn.Module:
    """``parametrization`` (e.g. torch's spectral_norm) on every Linear/Conv weight of ``module``."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, parametrization(child))
        else:
            _parametrize_weights(child, parametrization)
    return module


def apply_weight_norm(module: nn.Module) -> nn.Module:
    """Weight normalization (Salimans & Kingma 2016) on every Linear/Conv weight of ``module``."""
    return _parametrize_weights(module, nn.utils.parametrizations.weight_norm)


WEIGHT_NORM_SCALES = ("trained", "fixed")  # model.{g,d}.weight_norm_scale


class UnitNorm(nn.Module):
    """Weight normalization with a fixed scale: W = gain * v / ||v|| per output unit (a
    parametrization; Salimans et al.'s semi-supervised D trains the scale of its output layer only)."""

    def __init__(self, gain: float = 1.0):
        super().__init__()
        self.gain = gain

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        norm = v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (v.dim() - 1))
        return v * (self.gain / norm)

    def extra_repr(self) -> str:
        return f"gain={self.gain:.4g}"


def normalize_weights(module: nn.Module, net) -> nn.Module:
    """Spectral or weight normalization of every weight layer, as ``net`` (a NetConfig) asks. With
    ``weight_norm_scale=fixed`` (a discriminator) the weight vectors of every layer outside
    ``module.head`` have a fixed norm: 1 for the first layer, then sqrt(2) (He's ReLU gain, so each
    layer's pre-activations keep about the input's scale); the head is weight-normalised with a
    trained scale."""
    if net.spectral_norm:
        return apply_spectral_norm(module)
    if net.weight_norm and net.weight_norm_scale == "fixed":
        head = getattr(module, "head", None)
        in_head = {id(m) for m in head.modules()} if head is not None else set()
        body = [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d)) and id(m) not in in_head]
        for i, layer in enumerate(body):
            nn.utils.parametrize.register_parametrization(layer, "weight", UnitNorm(1.0 if i == 0 else 2 ** 0.5))
        if head is not None:
            apply_weight_norm(head)
        return module
    if net.weight_norm:
        return apply_weight_norm(module)
    return module


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) on every Linear/Conv weight of ``module``."""
    return _parametrize_weights(module, nn.utils.parametrizations.spectral_norm)


def image_geometry(shape: tuple[int, ...], arch: str) -> tuple[int, int]:
    """(base, k) with the image side = base * 2**k, base 7 (28 = 7 * 4) or 4 (32, 64, ...), k >= 1:
    the conv architectures start (G) or end (D) at base x base and double (halve) k times."""
    if len(shape) != 3:
        raise GanforgeError(f"{arch} needs images (channels x rows x columns), got samples of shape {shape}")
    if shape[1] != shape[2]:
        raise GanforgeError(f"{arch} needs square images, got {'x'.join(map(str, shape[1:]))}")
    size = shape[1]
    for base in (7, 4):
        k, s = 0, size
        while s > base and s % 2 == 0:
            s //= 2
            k += 1
        if s == base and k >= 1:
            return base, k
    raise GanforgeError(f"{arch} needs square images of side 4*2^k or 7*2^k (28, 32, 64, ...), got {size}")


def mbstd_group_size(n: int, group_size: int) -> int:
    """The group size used for a batch of ``n``: the largest divisor of n that is <= group_size."""
    g = max(1, min(group_size, n))
    while n % g:
        g -= 1
    return g


class MinibatchStd(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, ProGAN; StyleGAN2's ``num_channels``).

    x (N, C, H, W) -> (N, C + F, H, W), F = ``num_channels``: the batch is split into groups of
    G = ``group_size`` samples (fewer when N is smaller or not a multiple: the largest divisor of N
    that is <= group_size); sample i belongs to group i mod N/G (the ProGAN reshape
    ``(G, N/G, ...)``). Per group, the standard deviation of every feature over the group's samples
    (biased, sqrt(var + 1e-8)) is averaged over the C/F channels of each of F channel slices and
    over H, W, giving F numbers per group; each is appended to every sample of the group as a
    constant feature map. D can then tell a batch of too-similar samples (mode collapse) apart.
    No parameters: adding it leaves a state dict's keys unchanged."""

    mixes_samples = True  # each sample's output depends on its group (objectives.gan_loss.samples_independent)

    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        if group_size < 1 or num_channels < 1:
            raise GanforgeError(f"minibatch std needs group_size >= 1 and num_channels >= 1, got "
                                f"{group_size} and {num_channels}")
        self.group_size, self.num_channels = group_size, num_channels

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g, f = mbstd_group_size(n, self.group_size), self.num_channels
        if c % f:
            raise GanforgeError(f"minibatch std: {c} channels do not split into num_channels={f} slices")
        y = x.reshape(g, n // g, f, c // f, h, w).to(torch.promote_types(x.dtype, torch.float32))
        y = (y - y.mean(dim=0)).square().mean(dim=0)  # biased variance over the group
        y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))  # (N/G, F)
        y = y.reshape(n // g, f, 1, 1).repeat(g, 1, h, w)  # sample i gets its group's (i mod N/G) stats
        return torch.cat([x, y.to(x.dtype)], dim=1)


def minibatch_std(net, channels: int) -> MinibatchStd | None:
    """D's minibatch-std layer from its net config (``mbstd_group``, ``mbstd_channels``) for
    features of ``channels`` channels; None when ``mbstd_group`` is 0 (off)."""
    if net.mbstd_group <= 0:
        return None
    if channels % net.mbstd_channels:
        raise GanforgeError(f"model.d.mbstd_channels={net.mbstd_channels} must divide the {channels} channels "
                            "of D's last features")
    return MinibatchStd(net.mbstd_group, net.mbstd_channels)
