"""The theory figures of docs/theory.md, computed by ganforge (every picture from a real run or
from ganforge's own loss functions):

    GANFORGE_DATA=../shared/data .venv/bin/python benchmarks/theory_figures.py [--only NAME,...]

- ``saturation``: docs/images/theory_saturation.png, the generator losses and the gradient that
  reaches G through D's logit, as D(G(z)) goes from 0 to 1 (autograd, no training).
- ``gan1d``: trains configs/gan1d.toml (runs/theory/gan1d) and puts four moments of its training
  side by side (docs/images/theory_gan1d.png), as Goodfellow et al. 2014's figure 1; the GIF of
  every frame is docs/images/theory_gan1d.gif.
- ``collapse``: ring8 over training for a plain GAN (a 2-D normal latent, no packing, constant
  learning rate, no R1/EMA) beside the ring8 preset (runs/theory/ring8_plain, runs/theory/ring8):
  docs/images/theory_mode_collapse.png.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"


def train_preset(name: str, run: Path, overrides=()) -> Path:
    from ganforge.config import load_config
    from ganforge.runs import RunDir
    from ganforge.training.run import train

    if not RunDir(run).last.exists():
        shutil.rmtree(run, ignore_errors=True)
        train(load_config(ROOT / "configs" / f"{name}.toml", ["log.progress=false", *overrides]), run_dir=run)
    return run


def frames(run: Path, steps) -> list[Path]:
    from ganforge.runs import RunDir

    grids = RunDir(run).sample_grids()
    by_step = {int(p.stem.split("_")[1]): p for p in grids}
    return [by_step[min(by_step, key=lambda s: abs(s - want))] for want in steps]


def strip(rows: list[tuple[str, list[Path]]], out: Path, scale: float = 0.6) -> Path:
    """Rows of frames, each row labelled on its left."""
    loaded = [(label, [Image.open(p).convert("RGB") for p in paths]) for label, paths in rows]
    w, h = loaded[0][1][0].size
    w, h = int(w * scale), int(h * scale)
    label_w = 150
    sheet = Image.new("RGB", (label_w + w * max(len(r) for _, r in loaded), h * len(loaded)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, images) in enumerate(loaded):
        draw.multiline_text((8, i * h + h // 2 - 20), label, fill="black")
        for j, im in enumerate(images):
            sheet.paste(im.resize((w, h), Image.LANCZOS), (label_w + j * w, i * h))
    sheet.save(out)
    return out


def saturation() -> None:
    from ganforge.viz.theory import save_saturation

    print(save_saturation(IMAGES / "theory_saturation.png"))


def gan1d() -> None:
    from ganforge.report import training_gif

    run = train_preset("gan1d", ROOT / "runs" / "theory" / "gan1d")
    picks = frames(run, [0, 200, 500, 2000])
    images = [Image.open(p).convert("RGB") for p in picks]
    w, h = images[0].size
    sheet = Image.new("RGB", (w * 2, h * 2), "white")
    for k, im in enumerate(images):
        sheet.paste(im, ((k % 2) * w, (k // 2) * h))
    sheet.save(IMAGES / "theory_gan1d.png")
    training_gif(run, IMAGES / "theory_gan1d.gif", frame_ms=200)
    print(IMAGES / "theory_gan1d.png", IMAGES / "theory_gan1d.gif")


def collapse() -> None:
    plain = train_preset("ring8", ROOT / "runs" / "theory" / "ring8_plain",
                         ["model.d.pack=1", "optim.schedule=constant", "loss.r1_gamma=0", "train.ema_kimg=0",
                          "model.g.norm=none", "model.latent_categories=0", "model.latent_dim=2",
                          "train.steps=10000", "log.sample_every=1000"])
    results = ROOT / "runs" / "results" / "ring8"  # benchmarks/results.py's run of the same preset, if any
    preset = results if (results / "checkpoints" / "last.pt").exists() else train_preset("ring8", ROOT / "runs" / "theory" / "ring8")
    last = int(frames(preset, [10**9])[0].stem.split("_")[1])
    out = strip([("plain GAN\n(2-D normal latent,\nno packing, constant lr,\nno R1 / EMA)", frames(plain, [1000, 2000, 4000, 6000, 8000])),
                 ("ring8 preset\n(16 latent categories,\npacking 2, lr decay,\nR1 0.1, EMA)", frames(preset, [2000, 4000, 6000, 20000, last]))],
                IMAGES / "theory_mode_collapse.png")
    print(out)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--only", default="saturation,gan1d,collapse")
    args = p.parse_args()
    for name in args.only.split(","):
        globals()[name]()


if __name__ == "__main__":
    main()
