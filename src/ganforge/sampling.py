"""Sampling from a trained run: only the generator is built, no data is loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .build import build_generator_only
from .data import data_info
from .errors import GanforgeError
from .choices import load_run_config
from .models.latent import model_latent
from .viz import save_grid, save_scatter, to_uint8


def load_generator(run_dir: str | Path, device: str | torch.device = "cpu"):
    """(generator in eval mode, config) from a run directory or checkpoint file; the EMA weights
    of the generator when the run kept them."""
    G, cfg, _ = load_generator_and_state(run_dir, device)
    return G, cfg


def load_generator_and_state(run_dir: str | Path, device: str | torch.device = "cpu"):
    """:func:`load_generator` plus the checkpoint it read (step, ...): one read of one file."""
    cfg, state = load_run_config(run_dir)
    G = build_generator_only(cfg, device)
    try:
        G.load_state_dict(state["g_ema"] if state.get("g_ema") is not None else state["g"])
    except (RuntimeError, KeyError) as exc:
        raise GanforgeError(f"generator weights in {run_dir} do not match its config ({str(exc).splitlines()[0][:120]})") from None
    G.eval()
    return G, cfg, state


def num_classes(cfg) -> int:
    """Classes a conditional run's generator takes (0 for an unconditional one)."""
    from .models.conditioning import generator_conditional

    return data_info(cfg.data).num_classes if generator_conditional(cfg.model) else 0


def class_names(cfg) -> tuple[str, ...]:
    """The names of a run's classes (a labelled folder's; recorded with the run), () when it has none."""
    return data_info(cfg.data).class_names


def class_index(cfg, label: int | str, classes: int) -> int:
    """A class given by name (a labelled folder's ``data.class_names``; names are matched first) or by
    index 0..classes-1, as an index."""
    names = class_names(cfg)
    if isinstance(label, str) and label in names:
        return names.index(label)
    try:
        index = int(label)
    except ValueError:
        from .registry import did_you_mean

        if not names:
            raise GanforgeError(f"--label must be a class index 0..{classes - 1}, got '{label}'") from None
        raise GanforgeError(f"--label '{label}' is not a class of this run{did_you_mean(label, names)}; its classes "
                            f"are {', '.join(names)} (or give an index 0..{classes - 1})") from None
    if not 0 <= index < classes:
        named = f" or a class name ({', '.join(names)})" if names else ""
        raise GanforgeError(f"--label must be in 0..{classes - 1}{named}, got {label}")
    return index


def sample_labels(cfg, n: int, label: int | str | None = None) -> torch.Tensor | None:
    """Labels for ``n`` samples of a conditional run: ``label`` (an index or a class name) for all, else
    balanced 0, 1, ..., C-1, 0, ..."""
    classes = num_classes(cfg)
    if not classes:
        if label is not None:
            raise GanforgeError("--label needs a conditional run (model.conditioning = acgan or projection)")
        return None
    if label is not None:
        return torch.full((n,), class_index(cfg, label, classes))
    return torch.arange(n) % classes


@torch.no_grad()
def generate(G, cfg, n: int, seed: int = 0, batch_size: int = 1000, device="cpu",
             labels: torch.Tensor | None = None) -> torch.Tensor:
    """n samples as a float tensor in the data's range ([-1, 1] for images); ``labels`` (n,) for
    conditional generators."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    out = []
    for start in range(0, n, batch_size):
        z = model_latent(cfg.model, min(batch_size, n - start), device, gen)
        y = labels[start:start + len(z)].to(device) if labels is not None else None
        out.append(G(z, y).cpu())
    return torch.cat(out)


def sample_to_file(run_dir: str | Path, out: str | Path, n: int = 64, seed: int = 0, nrow: int | None = None,
                   label: int | str | None = None) -> Path:
    """Write ``n`` samples to ``out``: ``.png`` (grid or scatter plot) or ``.npz`` (with ``labels``
    for conditional runs)."""
    out = Path(out)
    if out.suffix not in (".png", ".npz"):
        raise GanforgeError(f"--out must end in .png or .npz, got '{out.name}'")
    if n < 1:
        raise GanforgeError("--n must be >= 1")
    G, cfg = load_generator(run_dir)
    info = data_info(cfg.data)
    labels = sample_labels(cfg, n, label)
    x = generate(G, cfg, n, seed, labels=labels)
    extra = {"labels": labels.numpy()} if labels is not None else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    if info.kind == "points":
        if out.suffix == ".npz":
            np.savez_compressed(out, points=x.numpy().astype(np.float32), data=cfg.data.name)
        else:
            save_scatter(x.numpy(), out, centers=info.centers, title=f"{n} samples from {Path(run_dir).name}")
    else:
        images = to_uint8(x)
        if out.suffix == ".npz":
            np.savez_compressed(out, images=images.numpy(), data=cfg.data.name, **extra)
        else:
            classes = num_classes(cfg)
            by_class = labels is not None and label is None and classes <= 20 and nrow in (None, classes)
            names = class_names(cfg) if by_class else ()  # column c holds class c: titled with its name
            save_grid(images, out, nrow=classes if by_class else nrow, col_titles=list(names) or None)
    return out


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` at fractions ``t`` (White 2016)."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


@torch.no_grad()
def interpolate_to_file(run_dir: str | Path, out: str | Path, steps: int = 10, rows: int = 8, seed: int = 0,
                        method: str = "slerp", label: int | str | None = None,
                        morph: tuple[int | str, int | str] | None = None) -> Path:
    """A grid whose rows walk the latent space between two random points in ``steps`` steps.

    Conditional runs: a fixed ``label`` per row (default: row i gets class i), or ``morph=(a, b)``:
    the noise stays fixed and the label embedding moves from class a to class b (classes by index or name).
    """
    if steps < 2 or rows < 1:
        raise GanforgeError("--steps must be >= 2 and --rows >= 1")
    if method not in ("slerp", "linear"):
        raise GanforgeError(f"unknown interpolation '{method}'; use slerp or linear")
    G, cfg = load_generator(run_dir)
    if data_info(cfg.data).kind != "image":
        raise GanforgeError("interpolation grids are for image data")
    gen = torch.Generator()
    gen.manual_seed(seed)
    dim = cfg.model.latent_dim
    z0 = model_latent(cfg.model, rows, "cpu", gen)
    z1 = model_latent(cfg.model, rows, "cpu", gen)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    classes = num_classes(cfg)
    if morph is not None:
        if not classes:
            raise GanforgeError("--morph needs a conditional run")
        a, b = (int(sample_labels(cfg, 1, k)) for k in morph)
        weights = torch.zeros(steps, classes)  # class weights moving from one-hot a to one-hot b
        weights[:, a] = 1 - t.view(-1)
        weights[:, b] += t.view(-1)
        z = z0.unsqueeze(1).expand(rows, steps, dim).reshape(rows * steps, dim)
        x = G(z, weights.repeat(rows, 1))
    else:
        a, b = z0.unsqueeze(1).expand(rows, steps, dim), z1.unsqueeze(1).expand(rows, steps, dim)
        z = slerp(a, b, t) if method == "slerp" else (1 - t) * a + t * b
        labels = None
        if classes:
            labels = sample_labels(cfg, rows, label).repeat_interleave(steps)
        x = G(z.reshape(rows * steps, dim), labels)
    path = Path(out)
    save_grid(to_uint8(x), path, nrow=steps)
    return path

