"""Semantic inpainting with a trained GAN by latent optimisation (Yeh et al. 2017, CVPR).

The missing region of an image is filled by the generator: find z (and, for a conditional run,
the class) such that G(z) matches the known pixels,

    loss(z) = sum over known pixels |G(z) - x|  / number of known pixels   (contextual loss)
              + lambda * softplus(-D(G(z)))                                   (prior loss)

the prior keeping G(z) realistic in D's eyes (``lambda`` = ``prior_weight``, 0.003 in the paper).
Several random starts are optimised together (Adam on z); the one with the lowest contextual loss
wins. A conditional run's class is searched over: the starts cycle through the classes (their
number rounded up to a multiple of the classes), so the winner also picks the label. The
completion keeps the known pixels and takes G(z) in the hole (the paper blends with Poisson
editing; ganforge pastes).

Masks: ``box:x,y,w,h`` (pixels from the top-left corner), ``half:left|right|top|bottom``, or an
image file whose bright pixels (> 127) mark the hole, resized to the run's size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GanforgeError
from ..data.batches import to_unit
from ..viz import to_uint8
from .common import load_models, read_image_file, read_images


def parse_mask(spec: str, shape: tuple[int, ...]) -> torch.Tensor:
    """A (1 x 1 x H x W) float mask, 1 in the hole, from ``spec`` (see the module's docstring)."""
    _, h, w = shape
    mask = torch.zeros(1, 1, h, w)
    if spec.startswith("box:"):
        try:
            x, y, bw, bh = (int(v) for v in spec[4:].split(","))
        except ValueError:
            raise GanforgeError(f"--mask '{spec}': write box:x,y,w,h with four whole numbers of pixels") from None
        if bw < 1 or bh < 1 or x < 0 or y < 0 or x + bw > w or y + bh > h:
            raise GanforgeError(f"--mask '{spec}': the box must lie inside the {w}x{h} image and be at least 1x1")
        mask[..., y:y + bh, x:x + bw] = 1
    elif spec.startswith("half:"):
        side = spec[5:]
        halves = {"left": (slice(None), slice(0, w // 2)), "right": (slice(None), slice(w // 2, None)),
                  "top": (slice(0, h // 2), slice(None)), "bottom": (slice(h // 2, None), slice(None))}
        if side not in halves:
            raise GanforgeError(f"--mask '{spec}': use half:left, half:right, half:top or half:bottom")
        rows, cols = halves[side]
        mask[..., rows, cols] = 1
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise GanforgeError(f"--mask '{spec}' is neither box:x,y,w,h, half:SIDE nor an existing image file")
        from PIL import Image

        try:
            with Image.open(path) as img:
                m = np.asarray(img.convert("L").resize((w, h), Image.NEAREST))
        except Exception:
            raise GanforgeError(f"cannot read the mask image {path}") from None
        mask[0, 0] = torch.from_numpy((m > 127).astype(np.float32))
    if mask.sum() == 0:
        raise GanforgeError(f"--mask '{spec}' marks no pixel as missing")
    if mask.sum() == mask.numel():
        raise GanforgeError(f"--mask '{spec}' hides the whole image: nothing is left to match")
    return mask


def masked_error(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error inside the hole, per image, with pixels on the [0, 1] scale."""
    sq = ((a - b) / 2).square() * mask
    return sq.flatten(1).sum(1) / (mask.flatten(1).sum(1) * a.shape[1])


def inpaint_tensor(G, D, cfg, image: torch.Tensor, mask: torch.Tensor, steps: int = 1000, restarts: int = 16,
                   lr: float = 0.03, prior_weight: float = 0.003, seed: int = 0, device="cpu") -> dict:
    """Inpaint one image (1 x C x H x W in [-1, 1]) under ``mask`` (1 in the hole). Returns
    {'completion', 'generated', 'error_random', 'error_after', 'label'} (tensors on the CPU; errors:
    :func:`masked_error` of a random z's completion, averaged over the starts, and of the result)."""
    from ..sampling import num_classes
    from ..models.latent import model_latent

    gen = torch.Generator(device=device).manual_seed(seed)
    x, mask = image.to(device), mask.to(device)
    known = 1 - mask
    classes = num_classes(cfg)
    if classes:
        restarts = -(-restarts // classes) * classes
    z = model_latent(cfg.model, restarts, device, gen).requires_grad_(True)
    y = torch.arange(restarts, device=device) % classes if classes else None
    opt = torch.optim.Adam([z], lr=lr)

    def contextual(out):
        return ((out - x).abs() * known).flatten(1).sum(1) / (known.sum() * x.shape[1])

    with torch.no_grad():
        start = G(z, y)
        error_random = masked_error(start, x.expand_as(start), mask).mean()
    for _ in range(steps):
        out = G(z, y)
        prior = F.softplus(-D(out, None).float()) if prior_weight > 0 else torch.zeros(restarts, device=device)
        loss = (contextual(out) + prior_weight * prior).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if cfg.model.latent_dist == "uniform":
            with torch.no_grad():
                z.clamp_(-1, 1)
    with torch.no_grad():
        out = G(z, y)
        best = int(contextual(out).argmin())
        generated = out[best:best + 1]
        completion = mask * generated + known * x
        return {"completion": completion.cpu(), "generated": generated.cpu(),
                "error_random": float(error_random), "error_after": float(masked_error(completion, x, mask)[0]),
                "label": int(y[best]) if y is not None else None}


def _images(specs: list[str], cfg) -> tuple[np.ndarray, list[str]]:
    """Images named by ``--image``: files, or ``test:I,J`` (``val:I``) for the run's held-out split."""
    from ..data import data_info

    shape = tuple(data_info(cfg.data).shape)
    out, names = [], []
    for spec in specs:
        if spec.split(":", 1)[0] in ("test", "val") and ":" in spec:
            split, idx = spec.split(":", 1)
            try:
                picks = [int(i) for i in idx.split(",")]
            except ValueError:
                raise GanforgeError(f"--image '{spec}': write {split}:I or {split}:I,J,K with image indices") from None
            images, _, _ = read_images(split, cfg)
            for i in picks:
                if not 0 <= i < len(images):
                    raise GanforgeError(f"--image '{spec}': index {i} is outside 0..{len(images) - 1}")
                out.append(images[i:i + 1])
                names.append(f"{split}:{i}")
        else:
            path = Path(spec).expanduser()
            if not path.is_file():
                raise GanforgeError(f"--image '{spec}' not found: give an image file or test:INDEX")
            out.append(read_image_file(path, shape))
            names.append(path.name)
    return np.concatenate(out), names


def inpaint_to_file(source, images: list[str], mask: str, out: str | None = None, steps: int = 1000,
                    restarts: int = 16, lr: float = 0.03, prior_weight: float = 0.003, seed: int = 0,
                    device: str = "auto") -> dict:
    """Inpaint each of ``images`` with run (or ``zoo:NAME`` entry) ``source``; writes one PNG (a row per
    image: the masked input, the completion, the original; default ``RUN/inpaint.png``, ``./inpaint.png``
    for a zoo entry) and returns the errors per image."""
    from ..build import resolve_device
    from ..viz import make_grid

    dev = resolve_device(device)
    G, D, cfg, _ = load_models(source, dev, "ganforge inpaint", discriminator=prior_weight > 0,
                               hint="--prior-weight 0 fills the hole with the generator alone (no D prior)")
    if cfg.model.d.pack > 1:
        raise GanforgeError(f"inpainting reads D on single images; {source} packs {cfg.model.d.pack} (model.d.pack)")
    if cfg.model.conditioning == "projection":
        raise GanforgeError("inpainting supports unconditional, AC-GAN and semi-supervised runs; a projection "
                            "discriminator needs the class of the image")
    arr, names = _images(images, cfg)
    from ..data import data_info

    m = parse_mask(mask, tuple(data_info(cfg.data).shape))
    rows, results = [], []
    for i, name in enumerate(names):
        x = to_unit(torch.as_tensor(arr[i:i + 1]))
        r = inpaint_tensor(G, D, cfg, x, m, steps, restarts, lr, prior_weight, seed + i, dev)
        shown = to_uint8(x * (1 - m))  # the hole shown mid-grey
        shown = torch.where(m.bool().expand_as(shown), torch.full_like(shown, 128), shown)
        rows += [shown[0], to_uint8(r["completion"])[0], to_uint8(x)[0]]
        results.append({"image": name, "error_random": r["error_random"], "error_after": r["error_after"],
                        **({"label": r["label"]} if r["label"] is not None else {})})
    from ..runs import resolve
    from ..zoo import is_zoo

    path = Path(out) if out else Path("inpaint.png") if is_zoo(source) else resolve(source)[0].path / "inpaint.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    make_grid(torch.stack(rows).numpy(), nrow=3, scale=4 if arr.shape[-1] <= 32 else 2).save(path)
    return {"out": str(path), "mask": mask, "steps": steps, "restarts": restarts, "images": results}
