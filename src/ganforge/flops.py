"""Model FLOPs of one training step, counted from the layers' shapes, and the machine's matmul peak.

**What is counted.** The products of the weight layers, a multiply-add as 2 FLOPs:

- ``nn.Linear``: 2 x rows x in_features x out_features;
- ``nn.Conv2d``: 2 x output elements (N x C_out x H_out x W_out) x C_in/groups x kh x kw (products
  with the zero padding included);
- ``nn.ConvTranspose2d``: 2 x input elements (N x C_in x H_in x W_in) x C_out/groups x kh x kw (the
  products of the conv whose transpose it is).
- ``NearestUpConv2d`` (nearest x2 upsampling and a k x k conv, computed as one transposed conv): 2 x input
  elements x C_out x (k + 1)^2, the products it computes (4/9 of the plain conv's on the upsampled
  image for k = 3).

Biases, norms, activations, pooling, upsampling, dropout, embeddings, the projection head's inner
product, the losses, the optimizer, EMA and spectral norm's power iteration (matrix-vector) are not
counted: elementwise or memory-bound work (PyTorch's ``FlopCounterMode`` leaves them out too; the
tests check that the two counts agree on every preset's G and D and on whole training steps).

**Forward.** Forward hooks on every counted layer, run on a probe batch of 2 x ``model.d.pack``
samples through copies of G and D in training mode (under a forked RNG: the run's weights, batch-norm
statistics and random streams are untouched), scaled to the batch (exact: each counted layer's
FLOPs are proportional to its rows). A hook also records whether the layer's input needs a gradient.

**One generator step** (``train.d_steps`` x ``train.g_every`` D steps, the steady state of the G
schedule; batch B; G_f, D_f: one forward of G, of D, over B samples). A weight layer's backward is a
weight gradient (its forward's FLOPs again) plus an input gradient (again), the latter only where
its input needs one:

- each D step: G forward (G_f; the fake batch is detached, so G gets no backward here), D forward on
  the real and the fake batch (2 D_f), D's backward on both: weight gradients (2 D_f) and input
  gradients of every layer but those reading the images (2 (D_f - D_0); D_0 = D's first layers);
- the G step reuses the last fake batch: D forward on it (D_f), backward through the frozen D:
  input gradients only, the first layer's included (D_f), no weight gradients of D; G's backward:
  weight gradients (G_f) and input gradients of every layer but those reading the latent
  (G_f - G_0);
- the textbook loop (PyTorch's DCGAN tutorial) also computes D's weight gradients in the G step:
  D_f more;
- gradient penalty, per D step: D forward on the interpolates (D_f), their input gradient with
  ``create_graph`` (D_f), the backward of that gradient pass w.r.t. the weights and the incoming
  gradients (2 D_f - D_h, D_h: D's output layer, whose incoming gradient is a constant) and the
  forward's backward through the activations' derivatives (2 (D_f - D_h)): 6 D_f - 3 D_h;
- R1, per D step on average (every ``loss.r1_every`` steps, times r1_every): the real pass
  backpropagates into the images (D_0), the gradient w.r.t. the images (D_f) and its backward
  (2 D_f - D_h); the forward's share joins the real pass's backward: (D_0 + 3 D_f - D_h) / r1_every;
- class heads: AC-GAN with ``loss.aux_fake_d=false`` skips the fake pass's class-head backward and
  InfoGAN the real pass's (2 C each, C: the head's forward).

Refused (one line): feature matching and the semi-supervised D, whose passes differ from the above.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torch import nn

from .errors import GanforgeError

COUNTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
UNCOUNTED = (nn.Conv1d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose3d, nn.Bilinear, nn.MultiheadAttention)


@dataclass(frozen=True)
class LayerFlops:
    name: str  # the module's name in its model
    flops: int  # one forward over the probe batch
    input_grad: bool  # whether the layer's input needed a gradient (the model's input did not)


def layer_flops(module: nn.Module, out: torch.Tensor, inp: torch.Tensor) -> int:
    """Forward FLOPs of one counted layer from its weight's and its input's or output's shape."""
    if isinstance(module, nn.Linear):
        return 2 * inp.numel() * module.out_features
    from .models.conv import NearestUpConv2d

    if isinstance(module, NearestUpConv2d):
        return 2 * inp.numel() * module.out_channels * (module.kernel_size[0] + 1) ** 2
    kernel = module.weight.shape[1:].numel()  # C_in/groups x kh x kw (conv), C_out/groups x kh x kw (transposed)
    if isinstance(module, nn.ConvTranspose2d):
        return 2 * inp.numel() * kernel
    return 2 * out.numel() * kernel


def forward_layers(model: nn.Module, *args, **kwargs) -> list[LayerFlops]:
    """Each counted layer's forward FLOPs over one call ``model(*args, **kwargs)``, in call order (a layer
    called twice appears twice). Runs the model as it is (a copy is the caller's choice)."""
    for name, m in model.named_modules():
        if isinstance(m, UNCOUNTED):
            raise GanforgeError(f"FLOP counting knows Linear, Conv2d and ConvTranspose2d layers; "
                                f"{name or 'the model'} is a {type(m).__name__}")
    names = {m: name for name, m in model.named_modules()}
    seen: list[LayerFlops] = []

    def hook(m, inputs, out):
        seen.append(LayerFlops(names[m], layer_flops(m, out, inputs[0]), bool(inputs[0].requires_grad)))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, COUNTED)]
    try:
        with torch.enable_grad():
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return seen


@dataclass(frozen=True)
class NetFlops:
    """One model's forward over a batch: all counted layers, those whose input needs no gradient
    (``first``), and those whose name starts with ``head.`` (``head``)."""

    forward: int
    first: int
    head: int
    layers: tuple[LayerFlops, ...] = ()

    @classmethod
    def of(cls, layers: list[LayerFlops], probe: int, batch: int) -> "NetFlops":
        scaled = tuple(LayerFlops(x.name, x.flops * batch // probe, x.input_grad) for x in layers)
        return cls(sum(x.flops for x in scaled), sum(x.flops for x in scaled if not x.input_grad),
                   sum(x.flops for x in scaled if x.name.startswith("head.")), scaled)

    def named(self, prefix: str) -> int:
        return sum(x.flops for x in self.layers if x.name.startswith(prefix))


@dataclass
class StepFlops:
    """Model FLOPs of one generator step (see the module docstring), by part."""

    parts: dict[str, int]
    g: NetFlops
    d: NetFlops
    textbook_extra: int  # the textbook loop's D weight gradients in the G step
    d_steps: int  # D steps per generator step
    batch: int

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def to_dict(self) -> dict:
        return {"total": self.total, **self.parts, "textbook_extra": self.textbook_extra,
                "g_forward_per_batch": self.g.forward, "d_forward_per_batch": self.d.forward,
                "d_steps": self.d_steps, "batch": self.batch}

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v / 1e9:.4g}" for k, v in self.parts.items() if v)
        return f"{self.total / 1e9:.4g} GFLOP/step ({parts})"


def probe_inputs(cfg, G: nn.Module, num_classes: int, n: int, device) -> tuple:
    """(z, G's labels or None, D's real labels or None) for a probe batch of ``n``, as the trainer makes them."""
    from .models.conditioning import generator_conditional
    from .models.latent import model_latent

    z = model_latent(cfg.model, n, device)
    if cfg.model.clusters:
        y_fake = G.clusters_of(z)
    elif generator_conditional(cfg.model):
        y_fake = torch.randint(num_classes, (n,), device=device)
    else:
        y_fake = None
    y_real = torch.randint(max(num_classes, 1), (n,), device=device) if cfg.model.conditioning != "none" else None
    return z, y_fake, y_real


def _rng_fork(device: torch.device):
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


def step_flops(cfg, G: nn.Module, D: nn.Module, num_classes: int = 0) -> StepFlops:
    """Model FLOPs of one generator step of ``cfg``'s training with these models (unwrapped, uncompiled)."""
    lc, tc = cfg.loss, cfg.train
    if lc.feature_matching or cfg.model.conditioning == "semi":
        raise GanforgeError("FLOP counting covers the plain, penalised and class-conditional D and G steps; "
                            "not loss.feature_matching or model.conditioning=semi")
    B, pack = cfg.data.batch_size, cfg.model.d.pack
    n = 2 * pack
    device = next(G.parameters()).device
    with _rng_fork(device):
        g, d = copy.deepcopy(G).train(), copy.deepcopy(D).train()
        z, y_fake, y_real = probe_inputs(cfg, g, num_classes, n, device)
        g_layers = forward_layers(g, z, y_fake)
        fake = g(z, y_fake).detach().float()
        d_layers = forward_layers(d, fake, y_real, return_classes=True)
        d_plain = forward_layers(d, fake, y_real)  # the penalties' passes: the logit alone
    gf, df = NetFlops.of(g_layers, n, B), NetFlops.of(d_layers, n, B)
    dh = NetFlops.of(d_plain, n, B).head
    steps = tc.d_steps * tc.g_every
    class_skip = 0
    if cfg.model.conditioning == "acgan" and not lc.aux_fake_d:
        class_skip = 2 * df.named("head.aux")
    elif cfg.model.latent_info:
        class_skip = 2 * df.named("head.info")
    parts = {
        "g_forward": steps * gf.forward,
        "d_forward": steps * 2 * df.forward,
        "d_backward": steps * (2 * df.forward + 2 * (df.forward - df.first) - class_skip),
        "g_step_d_forward": df.forward,
        "g_step_d_backward": df.forward,
        "g_backward": 2 * gf.forward - gf.first,
        "gradient_penalty": steps * (6 * df.forward - 3 * dh) if lc.gp_weight > 0 else 0,
        "r1": steps * (df.first + 3 * df.forward - dh) // lc.r1_every if lc.r1_gamma > 0 else 0,
    }
    return StepFlops(parts, gf, df, df.forward, steps, B)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(dtype: torch.dtype, device: torch.device | str = "cpu", size: int = 0, repeats: int = 5,
                min_seconds: float = 0.05) -> float:
    """FLOP/s of the best of ``repeats`` timings of ``size`` x ``size`` matmuls in ``dtype`` on ``device``
    with the current thread count (``size`` 0: 2048 on the CPU, 4096 on CUDA); each timing repeats the
    product until it lasts ``min_seconds``."""
    device = torch.device(device)
    size = size or (4096 if device.type == "cuda" else 2048)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    torch.mm(a, b, out=out)  # warm-up (kernel choice, page faults)
    _sync(device)
    start = time.perf_counter()
    torch.mm(a, b, out=out)
    _sync(device)
    inner = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-6)))
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b, out=out)
        _sync(device)
        best = min(best, (time.perf_counter() - start) / inner)
    return 2.0 * size ** 3 / best


PEAK_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def peaks(names, device, size: int = 0, repeats: int = 5) -> dict[str, float]:
    """:func:`matmul_peak` for each precision name (fp32, bf16, fp16) in ``names``."""
    return {p: matmul_peak(PEAK_DTYPES[p], device, size, repeats) for p in names}
