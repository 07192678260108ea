"""The standard FID Inception-v3 (TF graph ``pt_inception-2015-12-05``) from a weights file the user gives.

This is the network behind published FID/KID/IS numbers (pytorch-fid, torch-fidelity, StyleGAN): the
2015-12-05 TF Inception graph as ported to PyTorch by pytorch-fid, weights file
``pt_inception-2015-12-05-6726825d.pth``. Module and parameter names follow torchvision's ``Inception3``
(without ``AuxLogits``) so that file loads as is; torchvision itself is not needed. The FID network
differs from torchvision's Inception-v3 in three ways, all inherited from the TF graph:

- the average-pool branch of the A, C and E blocks ignores the padding (``count_include_pad=False``);
- the last E block (``Mixed_7c``) uses max pooling, not average pooling, in its pool branch;
- the classifier ``fc`` has 1008 outputs (index 0 is "background", 1..1000 the ImageNet classes,
  1001..1007 unused).

Nothing is downloaded: :func:`load_fid_inception` reads the file and checks its sha256.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GanforgeError
from .base import Extractor, file_sha256

__all__ = ["FIDInceptionV3", "InceptionExtractor", "load_fid_inception",
           "REFERENCE_NAME", "REFERENCE_SHA256", "REFERENCE_URL"]

REFERENCE_NAME = "pt_inception-2015-12-05-6726825d.pth"
REFERENCE_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
# Only quoted in error messages; never fetched.
REFERENCE_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"

INPUT_SIZE = 299
_HINT = (f"pass --inception-weights FILE; download {REFERENCE_NAME} from {REFERENCE_URL} "
         f"(sha256 {REFERENCE_SHA256[:16]}...)")


class BasicConv2d(nn.Module):
    """Convolution without bias -> BatchNorm (eps 0.001) -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _chain(x: torch.Tensor, *layers: nn.Module) -> torch.Tensor:
    for layer in layers:
        x = layer(x)
    return x


def _avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average pool that does not count the padding (the TF graph; torchvision counts it)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """Mixed_5b/5c/5d: 35x35, out 224 + pool_features channels."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x),
                          _chain(x, self.branch5x5_1, self.branch5x5_2),
                          _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                          self.branch_pool(_avg_pool(x))], 1)


class InceptionB(nn.Module):
    """Mixed_6a: 35x35 -> 17x17, out 384 + 96 + cin channels."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x),
                          _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                          F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    """Mixed_6b..6e: 17x17 with factorised 7x7 convolutions, out 768 channels."""

    def __init__(self, cin: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1x1(x),
                          _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
                          _chain(x, self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                                 self.branch7x7dbl_4, self.branch7x7dbl_5),
                          self.branch_pool(_avg_pool(x))], 1)


class InceptionD(nn.Module):
    """Mixed_7a: 17x17 -> 8x8, out 320 + 192 + cin channels."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([_chain(x, self.branch3x3_1, self.branch3x3_2),
                          _chain(x, self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4),
                          F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """Mixed_7b/7c: 8x8, out 2048 channels. ``max_pool``: the pool branch of Mixed_7c (TF graph)."""

    def __init__(self, cin: int, max_pool: bool = False):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        bd = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x),
                          self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd),
                          self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3: uint8 images in, ``(pool features N x 2048, logits N x 1008)`` out.

    Input: N x C x H x W uint8 (C = 1 is repeated to 3 channels; float input is taken to be in
    [0, 255] too), any H x W: it is resized to 299 x 299 and mapped to [-1, 1] here.

    The logits are ``features @ fc.weight.T`` over all 1008 outputs, **without fc's bias**, as the
    original TF Inception Score code (Salimans et al. 2016) and torch-fidelity compute them, so that
    IS values are comparable with published ones (:class:`Extractor` takes the softmax over all 1008).
    Some other tools add the bias or keep only ``logits[:, 1:1001]``; each gives slightly different IS.
    """

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = x.float() / 255.0
        if tuple(x.shape[-2:]) != (INPUT_SIZE, INPUT_SIZE):
            # pytorch-fid's convention: torch bilinear resize (align_corners=False, no antialias) of the
            # [0, 1] image. torch-fidelity and StyleGAN reproduce the TF1 resize of the original graph
            # instead, so their FID/IS can differ from ours slightly (in the decimals).
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = x * 2.0 - 1.0
        x = _chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)  # 149 -> 147 -> 147
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # 73
        x = _chain(x, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)  # 73 -> 71
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # 35
        x = _chain(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a,  # 35 -> 17
                   self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a,  # -> 8
                   self.Mixed_7b, self.Mixed_7c)
        features = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return features, features @ self.fc.weight.T  # unbiased logits, as the TF IS code


class InceptionExtractor(Extractor):
    """FID Inception features (2048-d pool3) and 1008-way class probabilities of uint8 images."""

    def __init__(self, net: FIDInceptionV3, device="cpu", batch_size: int = 50):
        super().__init__(net, device, batch_size=batch_size, scale=1.0)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] not in (1, 3):
            raise GanforgeError(f"{self.name} expects 1- or 3-channel images, got {x.shape[1]} channels")
        return x.to(self.device)  # the network resizes and normalises


def _few(keys: list[str], n: int = 3) -> str:
    return ", ".join(keys[:n]) + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def _load_checked(net: nn.Module, state, path: Path) -> None:
    """Load ``state`` into ``net`` strictly, with one-line errors; ``num_batches_tracked`` may be absent."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GanforgeError(f"Inception weights {path} hold no state dict (name -> tensor); {_HINT}")
    expected = net.state_dict()
    optional = {k for k in expected if k.endswith("num_batches_tracked")}  # unused in eval mode
    missing = [k for k in expected if k not in state and k not in optional]
    unexpected = [str(k) for k in state if k not in expected]
    shapes = [f"{k} {tuple(v.shape)} (want {tuple(expected[k].shape)})"
              for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    problems = [f"{what} {_few(keys)}" for what, keys in
                (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes)) if keys]
    if problems:
        raise GanforgeError(f"Inception weights {path} do not fit the FID Inception-v3: "
                            f"{'; '.join(problems)}; {_HINT}")
    net.load_state_dict({**{k: expected[k] for k in optional if k not in state}, **state})


def load_fid_inception(path, device="cpu", check_sha256: bool = True) -> InceptionExtractor:
    """The FID Inception-v3 extractor from ``path`` (``pt_inception-2015-12-05-6726825d.pth``).

    ``check_sha256=False`` accepts any file with the right keys and shapes (tests; another port used
    knowingly). Every problem is a one-line :class:`GanforgeError` naming the fix.
    """
    if path is None or not str(path).strip():
        raise GanforgeError(f"no Inception weights given; {_HINT}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise GanforgeError(f"Inception weights {path}: no such file; {_HINT}")
    sha = file_sha256(path)
    if check_sha256 and sha != REFERENCE_SHA256:
        raise GanforgeError(f"Inception weights {path} have sha256 {sha[:16]}..., expected {REFERENCE_SHA256[:16]}... "
                            f"({REFERENCE_NAME}); download it again from {REFERENCE_URL}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and torch errors alike; their messages span lines
        raise GanforgeError(f"Inception weights {path} is not a PyTorch weights file "
                            f"({type(e).__name__}); {_HINT}") from None
    net = FIDInceptionV3()
    _load_checked(net, state, path)
    ext = InceptionExtractor(net, device)
    ext.name, ext.sha256 = "inception", sha
    return ext
