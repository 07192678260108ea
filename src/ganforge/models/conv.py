"""A conv G and D laid out layer by layer (``arch = "conv"``), for networks the DCGAN family does not
express: the tutorials' Keras AC-GAN (UpSampling2D + 3x3 convs, zero padding, dropout, batch norm
after the activation) and the TF CelebA DCGAN (5x5 kernels, 7x7x1024 dense start, 112 px, local
response normalization and pooling in D).

G: z [+ labels] -> Linear -> channels[0] x base x base [-> activation] [-> norm], then for each further
entry c of ``channels`` a conv to c channels [-> norm] -> activation [-> norm] (norm before the
activation unless ``norm_after_activation``), then a last conv to the image channels and G's output
layer. Each conv's upsampling factor is ``up[i]`` (``len(channels)`` entries: the convs to channels[1:]
and the last one): ``upsample = "transposed"`` is a ConvTranspose2d of stride up[i] with TF's "same"
size (side x up[i]); ``nearest`` is nearest-neighbour upsampling by up[i] then a stride-1 "same" conv
(for up[i] = 2 computed as one transposed conv, :class:`NearestUpConv2d`).
D: for each entry c of ``channels`` a conv of stride ``strides[i]`` with "same" size (ceil(side /
stride)) -> [zero padding ``pad_after[i]`` right and bottom] -> [norm if i in ``norm_layers``] ->
activation -> [dropout] -> [LRN] -> [pool[i]: 2x2
max or avg, stride 2, ceil mode (TF "same")], the norm after the dropout instead with
``norm_after_activation`` (Keras' order in the AC-GAN tutorial), then flatten -> the output head (real/fake logit and the
conditioning's class head, :class:`OutputHead`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import GanforgeError
from .conditioning import OutputHead, conditional_norm, info_categories, label_input
from .dcgan import DCGANGenerator
from .layers import (pack_images, Dropout, TFLocalResponseNorm, activation, flatten_features, norm_layer, normalize_weights,
                     range_output_layer)

POOLS = ("none", "max", "avg")


def _seq(*layers) -> nn.Sequential:
    return nn.Sequential(*[layer for layer in layers if layer is not None])


def check_conv_net(net, which: str) -> None:
    """One-line errors for a ``conv`` net config (``which``: "g" or "d") whose layer lists disagree."""
    key = f"model.{which}"
    if not net.channels or any(c < 1 for c in net.channels):
        raise GanforgeError(f"{key}.arch=conv needs {key}.channels, a list of channel counts >= 1 "
                            "(e.g. [128, 128, 64])")
    if which == "g":
        if len(net.up) != len(net.channels) or any(u not in (1, 2) for u in net.up):
            raise GanforgeError(f"{key}.up needs one upsampling factor (1 or 2) per conv: {len(net.channels)} "
                                f"entries for channels={net.channels} (the last conv included), got {net.up}")
        if net.upsample == "nearest" and net.kernel % 2 == 0:
            raise GanforgeError(f"{key}.upsample=nearest needs an odd {key}.kernel (3 or 5) for 'same' convs, "
                                f"got {net.kernel}")
        return
    n = len(net.channels)
    if net.kernel % 2 == 0:
        raise GanforgeError(f"{key}.arch=conv needs an odd {key}.kernel (3 or 5) for 'same' convs, got {net.kernel}")
    for name, values in (("strides", net.strides), ("pad_after", net.pad_after), ("pool", net.pool)):
        if values and len(values) != n:
            raise GanforgeError(f"{key}.{name} needs one entry per conv ({n} for channels={net.channels}), got {values}")
    if any(s not in (1, 2) for s in net.strides):
        raise GanforgeError(f"{key}.strides must be 1 or 2, got {net.strides}")
    if any(p not in POOLS for p in net.pool):
        raise GanforgeError(f"{key}.pool entries must be one of {', '.join(POOLS)}, got {net.pool}")
    if any(p < 0 for p in net.pad_after):
        raise GanforgeError(f"{key}.pad_after entries must be >= 0, got {net.pad_after}")
    if any(not 0 <= i < n for i in net.norm_layers):
        raise GanforgeError(f"{key}.norm_layers must index the {n} convs (0 to {n - 1}), got {net.norm_layers}")


def _same_padding(kernel: int, stride: int) -> tuple[int, int]:
    """(padding, output_padding) of a ConvTranspose2d whose output side is input side x stride (TF's "same")."""
    padding = max(0, math.ceil((kernel - stride) / 2))
    return padding, stride - kernel + 2 * padding


def _nearest_up_taps(k: int) -> tuple[torch.Tensor, int]:
    """For nearest x2 upsampling followed by a stride-1 'same' k x k conv (k odd): the stride-2 transposed conv
    that computes the same has T = k + 1 taps per side and padding q, tap t summing the conv's taps u listed in
    row t of the returned T x 2 index table (at most two; index k stands for a zero). Output row 2P + a
    (a = 0, 1) reads the upsampled row 2P + a + d (d = u - k//2), that is input row P + m, m = floor((a + d) / 2);
    the transposed conv gives input row P + m to output row 2P + a through its tap t = a + q - 2m."""
    r = k // 2
    pairs = [(a, u, (a + u - r) // 2) for a in (0, 1) for u in range(k)]
    q = max(2 * m - a for a, _, m in pairs)
    rows: dict[int, list[int]] = {}
    for a, u, m in pairs:
        rows.setdefault(a + q - 2 * m, []).append(u)
    index = torch.full((max(rows) + 1, 2), k, dtype=torch.long)
    for t, us in rows.items():
        index[t, :len(us)] = torch.tensor(us)
    return index, q


class NearestUpConv2d(nn.Conv2d):
    """Nearest-neighbour x2 upsampling, then this stride-1 'same' conv (odd kernel k): computed as one stride-2
    transposed conv of the input with the (k + 1) x (k + 1) kernel the k x k weights sum to (exactly the same
    function; for k = 3 each output pixel costs 4 taps instead of 9, and no upsampled tensor is made).
    Its parameters are the plain conv's (``weight``: C_out x C_in x k x k, ``bias``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, bias: bool = True):
        if kernel % 2 == 0:
            raise GanforgeError(f"model.g.kernel={kernel}: stride-1 'same' convs need an odd kernel (3 or 5)")
        super().__init__(c_in, c_out, kernel, padding=kernel // 2, bias=bias)
        index, self.up_padding = _nearest_up_taps(kernel)
        self.register_buffer("up_taps", index, persistent=False)

    def up_kernel(self) -> torch.Tensor:
        """The transposed conv's kernel, C_in x C_out x (k + 1) x (k + 1): along each side, each new tap the sum
        of (at most) two of the conv's (sums of weights, not the model's products: no matmul to count)."""
        w = self.weight
        for dim in (2, 3):
            padded = nn.functional.pad(w, (0, 1) if dim == 3 else (0, 0, 0, 1))  # index k: zero
            w = padded.index_select(dim, self.up_taps[:, 0]) + padded.index_select(dim, self.up_taps[:, 1])
        return w.transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():  # ONNX wants a conv kernel of known shape: the two layers as written
            return super().forward(nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
        return nn.functional.conv_transpose2d(x, self.up_kernel(), self.bias, stride=2, padding=self.up_padding)


def _up_conv(net, c_in: int, c_out: int, factor: int, bias: bool) -> list[nn.Module]:
    k = net.kernel
    if net.upsample == "nearest" or factor == 1:
        if k % 2 == 0:
            raise GanforgeError(f"model.g.kernel={k}: stride-1 'same' convs need an odd kernel (3 or 5)")
        if factor == 1:
            return [nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias)]
        # nn.Identity holds the place of the nn.Upsample that came before the conv, so that the conv's
        # parameters keep their names (runs saved before NearestUpConv2d load as they are)
        return [nn.Identity(), NearestUpConv2d(c_in, c_out, k, bias=bias)]
    padding, output_padding = _same_padding(k, factor)
    return [nn.ConvTranspose2d(c_in, c_out, k, stride=factor, padding=padding, output_padding=output_padding, bias=bias)]


def _norm_act(norm: nn.Module | None, act: nn.Module, after: bool) -> list[nn.Module | None]:
    return [act, norm] if after else [norm, act]


class ConvGenerator(nn.Module):
    """z (B x latent_dim) [+ labels] -> images (B x C x H x W); the net config is ``mcfg.g``."""

    def __init__(self, mcfg, info):
        super().__init__()
        net, num_classes = mcfg.g, info.num_classes
        check_conv_net(net, "g")
        self.shape, self.latent_dim, self.channels_last = tuple(info.shape), mcfg.latent_dim, mcfg.channels_last
        side = net.base * math.prod(net.up)
        if len(self.shape) != 3 or self.shape[1:] != (side, side):
            raise GanforgeError(f"model.g: base {net.base} x up {net.up} makes {side} x {side} images, the data are "
                                f"{'x'.join(map(str, self.shape[1:]))}: change model.g.base or model.g.up")
        self.base, self.c0 = net.base, net.channels[0]
        self.cond = label_input(mcfg, num_classes)
        in_dim = self.cond.out_dim if self.cond else self.latent_dim
        self.project = nn.Linear(in_dim, self.c0 * net.base * net.base)
        act = activation(net.activation, net.negative_slope) if net.dense_activation else None
        self.project_norm = _seq(*_norm_act(conditional_norm(mcfg, self.c0, num_classes, spatial=True), act,
                                            net.norm_after_activation or act is None))
        blocks, c = [], self.c0
        for c_out, factor in zip(net.channels[1:], net.up[:-1]):
            norm = conditional_norm(mcfg, c_out, num_classes, spatial=True)
            blocks.append(_seq(*_up_conv(net, c, c_out, factor, bias=True),
                               *_norm_act(norm, activation(net.activation, net.negative_slope), net.norm_after_activation)))
            c = c_out
        blocks.append(_seq(*_up_conv(net, c, self.shape[0], net.up[-1], bias=True),
                           range_output_layer(net.output, mcfg.data_range)))
        self.blocks = nn.Sequential(*blocks)
        normalize_weights(self, net)

    forward = DCGANGenerator.forward  # the same layout: cond, project to c0 x base x base, project_norm, blocks


class ConvDiscriminator(nn.Module):
    """images (B x C x H x W) -> one raw logit per image (with conditioning see :class:`OutputHead`);
    the net config is ``mcfg.d``."""

    def __init__(self, mcfg, info):
        super().__init__()
        net = mcfg.d
        check_conv_net(net, "d")
        self.shape, self.pack, self.channels_last = tuple(info.shape), net.pack, mcfg.channels_last
        if len(self.shape) != 3:
            raise GanforgeError(f"model.d.arch=conv needs images, got samples of shape {self.shape}")
        n = len(net.channels)
        strides = net.strides or [2] * n
        norm_at = set(net.norm_layers) if net.norm_layers else set(range(1, n))
        k = net.kernel
        layers, c_in, side = [], self.shape[0] * net.pack, self.shape[1]
        for i, c in enumerate(net.channels):
            norm = norm_layer(net.norm, c, spatial=True) if i in norm_at else None
            pad = net.pad_after[i] if net.pad_after else 0
            pool = net.pool[i] if net.pool else "none"
            layers += [nn.Conv2d(c_in, c, k, stride=strides[i], padding=k // 2),
                       nn.ZeroPad2d((0, pad, 0, pad)) if pad else None,
                       None if net.norm_after_activation else norm,
                       activation(net.activation, net.negative_slope),
                       Dropout(net.dropout) if net.dropout > 0 else None,
                       norm if net.norm_after_activation else None,
                       TFLocalResponseNorm() if net.lrn else None,
                       {"max": nn.MaxPool2d(2, 2, ceil_mode=True), "avg": nn.AvgPool2d(2, 2, ceil_mode=True)}.get(pool)]
            side = math.ceil(side / strides[i]) + pad
            side = math.ceil(side / 2) if pool != "none" else side
            c_in = c
        self.features = _seq(*layers)
        self.feat_dim = c_in * side * side
        self.head = OutputHead(mcfg.conditioning, info.num_classes, self.feat_dim, info_categories(mcfg), mcfg)
        normalize_weights(self, net)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, return_classes: bool = False):
        x = pack_images(x, self.shape, self.pack, self.channels_last)
        return self.head(flatten_features(self.features(x)), y, return_classes)
