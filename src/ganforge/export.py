"""``ganforge export``: a standalone generator (TorchScript or ONNX) plus a JSON of its inputs.

The exported module maps ``z`` (B x latent_dim float32) — and ``labels`` (B int64) for
conditional runs, whose class names (a labelled folder's) the JSON lists — to images in [-1, 1]
(B x C x H x W) or 2-D points (B x 2). EMA weights are exported when the run kept them. ONNX export
needs the ``onnx`` package (``pip install -e .[export]``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from .version import __version__
from .data import data_info
from .errors import GanforgeError
from .sampling import load_generator_and_state, num_classes
from .runs import resolve
from .zoo import is_zoo


class _Unconditional(nn.Module):
    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.G(z)


class _Conditional(nn.Module):
    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.G(z, labels)


def export_generator(run_dir: str | Path, fmt: str = "torchscript", out: str | Path | None = None) -> tuple[Path, Path]:
    """Write the generator of a run (or ``zoo:NAME`` entry) and ``<out>.json`` (e.g. generator.onnx.json);
    returns both paths. The default ``out`` is ``RUN/generator.pt`` (``.onnx``), ``./generator.pt`` for a zoo entry."""
    if fmt not in ("torchscript", "onnx"):
        raise GanforgeError(f"--format must be torchscript or onnx, got '{fmt}'")
    G, cfg, state = load_generator_and_state(run_dir)
    classes = num_classes(cfg)
    wrapper = (_Conditional(G) if classes else _Unconditional(G)).eval()
    example = (torch.randn(2, cfg.model.latent_dim),) + ((torch.tensor([0, 1]),) if classes else ())
    default = "generator.pt" if fmt == "torchscript" else "generator.onnx"
    out = Path(out) if out else Path(default) if is_zoo(run_dir) else resolve(run_dir)[0].path / default
    out.parent.mkdir(parents=True, exist_ok=True)
    names = ["z", "labels"][: len(example)]
    with warnings.catch_warnings():  # both exporters announce their successors; the files are standard
        warnings.simplefilter("ignore", DeprecationWarning)
        if fmt == "torchscript":
            with torch.no_grad():
                traced = torch.jit.trace(wrapper, example)
            traced.save(str(out))
        else:
            try:
                import onnx  # noqa: F401
            except ImportError:
                raise GanforgeError("ONNX export needs the onnx package: pip install -e '.[export]'") from None
            torch.onnx.export(wrapper, example, str(out), input_names=names, output_names=["samples"],
                              dynamic_axes={n: {0: "batch"} for n in names + ["samples"]}, dynamo=False)
    info = data_info(cfg.data)
    meta = {
        "format": fmt,
        "file": out.name,
        "inputs": {"z": {"shape": ["batch", cfg.model.latent_dim], "dtype": "float32",
                         "distribution": _latent_description(cfg.model)}},
        "output": {"shape": ["batch", *info.shape], "dtype": "float32",
                   "range": [-1.0, 1.0] if info.kind == "image" else None,
                   "to_uint8": "round((x + 1) * 127.5)" if info.kind == "image" else None},
        "data": cfg.data.name,
        "ema_weights": state.get("g_ema") is not None,
        "ganforge_version": __version__,
    }
    if classes:
        meta["inputs"]["labels"] = {"shape": ["batch"], "dtype": "int64", "num_classes": classes}
        if info.class_names:  # a labelled folder's classes: label i is class_names[i]
            meta["inputs"]["labels"]["class_names"] = list(info.class_names)
    meta_path = out.with_name(out.name + ".json")  # one per format: both exports can sit side by side
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return out, meta_path


def _latent_description(mcfg) -> str:
    dist = "standard normal" if mcfg.latent_dist == "normal" else "uniform [-1, 1]"
    k = mcfg.latent_categories
    hot = "" if mcfg.latent_category_scale == 1 else f" (hot entry {mcfg.latent_category_scale:g})"
    return dist if not k else f"entries 0..{k - 1}: one-hot code{hot} of a uniform category of {k}; the rest {dist}"
