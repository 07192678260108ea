"""Write a folder of synthetic "faces-style" images (cartoon faces of varied size, aspect ratio,
colours and expression) for trying the image-folder pipeline end to end without CelebA:

    .venv/bin/python benchmarks/make_faces_folder.py OUT_DIR [--n 6000] [--seed 0] [--classes hair]

Without ``--classes`` the images go to OUT_DIR/00/, 01/, ... (1,000 each). With ``--classes hair``
each image goes to the subfolder of its hair colour (OUT_DIR/black/, blond/, brown/, grey/, red/:
``data.labels=folders``) and OUT_DIR/dataset.json gives the same labels in StyleGAN2-ADA's form
(``data.labels=dataset.json``), classes numbered in the sorted order of their names, with
``class_names``. The images are the same either way for one seed; only their paths differ.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from PIL import Image, ImageDraw

SKIN = [(255, 224, 189), (234, 192, 134), (198, 134, 66), (141, 85, 36), (255, 205, 148)]
HAIR = [(20, 20, 20), (90, 56, 37), (200, 160, 80), (150, 40, 20), (120, 120, 120)]
HAIR_NAMES = ["black", "brown", "blond", "red", "grey"]  # of HAIR, in its order
CLASSES = {"hair": HAIR_NAMES}  # --classes: attribute -> names of its values


def face(rng: random.Random) -> Image.Image:
    return face_and_attributes(rng)[0]


def face_and_attributes(rng: random.Random) -> tuple[Image.Image, dict[str, int]]:
    """A face and the index of each attribute it was drawn with ({"hair": index into HAIR})."""
    w, h = rng.randint(72, 120), rng.randint(80, 130)  # portrait-ish, cropped to a square later
    bg = tuple(rng.randint(40, 230) for _ in range(3))
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    cx, cy = w / 2 + rng.uniform(-4, 4), h / 2 + rng.uniform(-3, 5)
    fw, fh = min(w, h) * rng.uniform(0.30, 0.38), min(w, h) * rng.uniform(0.38, 0.46)
    hair = rng.choice(HAIR)
    d.ellipse([cx - fw * 1.08, cy - fh * 1.15, cx + fw * 1.08, cy + fh * 0.5], fill=hair)  # hair
    d.ellipse([cx - fw, cy - fh, cx + fw, cy + fh], fill=rng.choice(SKIN))  # face
    ey, ex, er = cy - fh * 0.2, fw * 0.42, max(2.0, fw * rng.uniform(0.10, 0.15))
    iris = rng.choice([(60, 40, 20), (40, 90, 160), (40, 120, 60), (20, 20, 20)])
    for sx in (-1, 1):
        d.ellipse([cx + sx * ex - er * 1.4, ey - er, cx + sx * ex + er * 1.4, ey + er], fill=(250, 250, 250))
        d.ellipse([cx + sx * ex - er * 0.6, ey - er * 0.6, cx + sx * ex + er * 0.6, ey + er * 0.6], fill=iris)
    d.line([cx, cy - fh * 0.05, cx - fw * 0.08, cy + fh * 0.2], fill=(120, 70, 50), width=2)  # nose
    my, mw = cy + fh * 0.5, fw * rng.uniform(0.3, 0.55)
    smile = rng.uniform(-0.15, 0.35) * fh
    d.arc([cx - mw, my - abs(smile) - 2, cx + mw, my + abs(smile) + 2], 0 if smile > 0 else 180,
          180 if smile > 0 else 360, fill=(150, 30, 40), width=3)
    return img, {"hair": HAIR.index(hair)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--n", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--classes", choices=sorted(CLASSES), default=None,
                   help="one subfolder per value of this attribute, and a dataset.json with the same labels")
    args = p.parse_args()
    rng = random.Random(args.seed)
    out = Path(args.out)
    written = []  # (relative path, class name) with --classes
    for i in range(args.n):
        img, attrs = face_and_attributes(rng)
        sub = CLASSES[args.classes][attrs[args.classes]] if args.classes else f"{i // 1000:02d}"
        (out / sub).mkdir(parents=True, exist_ok=True)
        ext = "png" if i % 3 == 0 else "jpg"
        img.save(out / sub / f"face_{i:05d}.{ext}", quality=92)
        written.append((f"{sub}/face_{i:05d}.{ext}", sub))
    if args.classes:  # classes numbered as data.labels=folders numbers the subfolders: sorted, those with images
        names = sorted({name for _, name in written})
        labels = [[rel, names.index(name)] for rel, name in written]
        rows = ",\n".join(f"    {json.dumps(entry)}" for entry in labels)  # one image per line
        (out / "dataset.json").write_text(f'{{\n  "labels": [\n{rows}\n  ],\n  "class_names": {json.dumps(names)}\n}}\n')
        counts = ", ".join(f"{n} {sum(1 for _, y in labels if y == c)}" for c, n in enumerate(names))
        print(f"wrote {args.n} images to {out} in {len(names)} {args.classes} classes ({counts}) and {out / 'dataset.json'}")
    else:
        print(f"wrote {args.n} images to {out}")


if __name__ == "__main__":
    main()
