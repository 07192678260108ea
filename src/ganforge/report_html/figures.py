"""The HTML report's pictures, each an inlined ``data:`` URI: training curves, metrics over training,
the sample-grid frames, a per-class grid of a conditional run, the training GIF."""

from __future__ import annotations

import base64
import io
import math
import tempfile
from pathlib import Path

from ..runs import RunDir
from .runinfo import MAX_FRAMES, PANEL_TITLES, TRAIN_SKIP, RunInfo, _num, base_key, eval_series

# ---------------------------------------------------------------------------- pictures
def _uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _file_uri(path: Path) -> str:
    mime = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
    return _uri(path.read_bytes(), mime.get(path.suffix.lower(), "application/octet-stream"))


def _pil_uri(image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return _uri(buf.getvalue(), "image/png")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _fig_uri(fig) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return _uri(buf.getvalue(), "image/png")


def _panels(n: int, width: float = 5.0, height: float = 3.3):
    plt = _plt()
    cols = min(n, 2) if n <= 4 else 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), dpi=100, squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n]


def _series(records: list[dict], key: str, value=lambda r, k: r.get(k)) -> tuple[list, list]:
    pts = [(r["step"], value(r, key)) for r in records if isinstance(r.get("step"), int) and _num(value(r, key))]
    return [s for s, _ in pts], [v for _, v in pts]


def _train_keys(infos: list[RunInfo]) -> list[str]:
    keys: list[str] = []
    for info in infos:
        for rec in info.train:
            for k, v in rec.items():
                if k not in TRAIN_SKIP and k not in keys and _num(v):
                    keys.append(k)
    order = ["d_loss", "g_loss", "d_real", "d_fake"]
    return [k for k in order if k in keys] + [k for k in keys if k not in order]


def training_curves(infos: list[RunInfo]) -> str | None:
    """PNG data URI of the metrics.jsonl curves: one run -> losses in one panel, D(x)/D(G(z)) in
    another, each other statistic in its own; several runs -> one panel per key, one colour per run."""
    keys = _train_keys(infos)
    if not keys:
        return None
    if len(infos) == 1:
        groups = [[k for k in ("d_loss", "g_loss") if k in keys], [k for k in ("d_real", "d_fake") if k in keys]]
        groups = [g for g in groups if g] + [[k] for k in keys if k not in ("d_loss", "g_loss", "d_real", "d_fake")]
    else:
        groups = [[k] for k in keys]
    fig, axes = _panels(len(groups))
    for ax, group in zip(axes, groups):
        for info in infos:
            for k in group:
                steps, values = _series(info.train, k)
                if not steps:
                    continue
                if len(infos) == 1:
                    ax.plot(steps, values, label=PANEL_TITLES.get(k, k))
                else:
                    ax.plot(steps, values, color=info.colour, label=info.label)
        title = " / ".join(PANEL_TITLES.get(k, k) for k in group)
        ax.set_title(title if len(infos) > 1 or len(group) == 1 else "")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0] and (len(infos) == 1 or ax is axes[0]):
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _fig_uri(fig)


def eval_curves(infos: list[RunInfo]) -> tuple[str | None, list[str]]:
    """(PNG data URI, keys plotted) of the periodic metrics over training: a run's line needs two
    evaluations of the key at least (one is a table row, :func:`~.runinfo.evaluated_once`)."""
    series = {i.label: {k: sv for k, sv in eval_series(i).items() if len(sv[0]) >= 2} for i in infos}
    keys = list(dict.fromkeys(k for i in infos for k in series[i.label]))
    if not keys:
        return None, []
    fig, axes = _panels(len(keys))
    for ax, k in zip(axes, keys):
        lows, highs = [], []
        for info in infos:
            if k not in series[info.label]:
                continue
            steps, values = series[info.label][k]
            lows.append(min(values))
            highs.append(max(values))
            ax.plot(steps, values, marker="o", ms=3, color=info.colour if len(infos) > 1 else None,
                    label=info.label if len(infos) > 1 else k)
        if base_key(k) in ("fid", "kid_mean") and lows and min(lows) > 0 and max(highs) / min(lows) > 10:
            ax.set_yscale("log")
        ax.set_title(k.replace("fid", "FID", 1) if base_key(k) == "fid" else k)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(infos) > 1 and ax is axes[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _fig_uri(fig), keys


def _frames(run: RunDir) -> list[Path]:
    frames = run.sample_grids()
    if len(frames) > MAX_FRAMES:
        idx = sorted({round(i * (len(frames) - 1) / (MAX_FRAMES - 1)) for i in range(MAX_FRAMES)})
        frames = [frames[i] for i in idx]
    return frames


def _step_of(path: Path) -> str:
    digits = path.stem.removeprefix("step_")
    return str(int(digits)) if digits.isdigit() else path.stem


def class_grid(info: RunInfo, per_class: int = 8) -> tuple[str | None, str]:
    """(PNG data URI, caption) of a conditional image run's generator: row c holds class c."""
    if not info.config or info.get("model.conditioning", "none") == "none":
        return None, ""
    import torch

    from ..data import data_info
    from ..sampling import generate, load_generator, num_classes
    from ..viz import make_grid, to_uint8

    G, cfg = load_generator(info.run)
    classes = num_classes(cfg)
    if not classes or data_info(cfg.data).kind != "image":
        return None, ""
    labels = torch.arange(classes).repeat_interleave(per_class)
    x = generate(G, cfg, len(labels), seed=0, labels=labels)
    names = data_info(cfg.data).class_names
    grid = make_grid(to_uint8(x).numpy(), nrow=per_class, scale=2, row_titles=list(names) or None)
    rows = ", ".join(f"{c} {n}" for c, n in enumerate(names)) if names else f"0..{classes - 1}"
    return _pil_uri(grid), f"row c: class c ({rows}), {per_class} samples each, seed 0"


def training_gif_uri(run: RunDir) -> str | None:
    from ..report import training_gif

    if not run.sample_grids():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return _file_uri(training_gif(run, Path(tmp) / "training.gif"))


