"""``ganforge report``: an animated GIF of the fixed-noise grids over training and loss curves."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from .errors import GanforgeError
from .runs import RunDir
from .viz.curves import read_metrics


def training_gif(run_dir: str | Path, out: str | Path | None = None, frame_ms: int = 300,
                 max_frames: int = 60) -> Path:
    """Animate ``samples/step_*.png`` (the same noise all run long), last frame held longer."""
    run = RunDir(run_dir)
    frames = run.sample_grids()
    if not frames:
        raise GanforgeError(f"no sample grids in {run.samples}; is it a ganforge run directory?")
    if len(frames) > max_frames:  # keep the first and last, thin the middle evenly
        idx = sorted({round(i * (len(frames) - 1) / (max_frames - 1)) for i in range(max_frames)})
        frames = [frames[i] for i in idx]
    images = [Image.open(f).convert("RGB") for f in frames]
    out = Path(out) if out else run.gif
    durations = [frame_ms] * (len(images) - 1) + [frame_ms * 6]
    images[0].save(out, save_all=True, append_images=images[1:], duration=durations, loop=0)
    return out


def loss_curves(run_dir: str | Path, out: str | Path | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    train, _ = read_metrics(run_dir)
    if not train:
        raise GanforgeError(f"no metrics.jsonl records in {run_dir}")
    steps = [r["step"] for r in train]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5), dpi=100)
    ax1.plot(steps, [r["d_loss"] for r in train], label="D loss")
    ax1.plot(steps, [r["g_loss"] for r in train], label="G loss")
    ax1.set_xlabel("step")
    ax1.legend()
    ax2.plot(steps, [r["d_real"] for r in train], label="D(x)")
    ax2.plot(steps, [r["d_fake"] for r in train], label="D(G(z))")
    ax2.set_xlabel("step")
    ax2.legend()
    fig.tight_layout()
    out = Path(out) if out else RunDir(run_dir).losses_png
    fig.savefig(out)
    plt.close(fig)
    return out
