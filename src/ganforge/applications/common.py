"""What the applications share: a run's G and D in eval mode, and images from a split, a folder, a
file or an .npz, shaped as the run's data."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import GanforgeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def load_models(source, device="cpu", what: str = "this command", discriminator: bool = True, hint: str = ""):
    """(G, D, config, checkpoint state) of an image run or zoo entry, both models in eval mode; G holds
    the EMA weights when the run kept them (the generator ganforge samples from). ``discriminator=False``:
    D is None (a zoo entry holds no D; asking for it there is a one-line error ending in ``hint``)."""
    from ..data import data_info
    from ..evaluation.run import load_discriminator
    from ..sampling import load_generator_and_state

    G, cfg, state = load_generator_and_state(source, device)
    if data_info(cfg.data).kind != "image":
        raise GanforgeError(f"{what} needs a run trained on images; {source} was trained on {cfg.data.name} points")
    if discriminator and "d" not in state:
        raise GanforgeError(f"{what} reads the discriminator, and {source} holds a generator only (a zoo entry)"
                            f"{'; ' + hint if hint else ''}")
    D = load_discriminator(cfg, state).to(device) if discriminator else None
    G.requires_grad_(False)
    if D is not None:
        D.requires_grad_(False)
    return G, D, cfg, state


def _fit_shape(images: np.ndarray, shape: tuple[int, ...], where: str) -> np.ndarray:
    """N x H x W or N x C x H x W uint8 -> N x C x H x W with the run's channels (gray <-> RGB)."""
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4:
        raise GanforgeError(f"{where}: expected images N x C x H x W (or N x H x W), got shape {images.shape}")
    c, h, w = shape
    if images.shape[2:] != (h, w):
        raise GanforgeError(f"{where}: images are {images.shape[2]}x{images.shape[3]} px, the run's are {h}x{w}; "
                            "resize them (or give a folder or an image file, which are resized)")
    if images.shape[1] == c:
        return images
    if images.shape[1] == 3 and c == 1:
        return np.round(images.astype(np.float32).mean(1, keepdims=True)).astype(np.uint8)
    if images.shape[1] == 1 and c == 3:
        return np.repeat(images, 3, axis=1)
    raise GanforgeError(f"{where}: images have {images.shape[1]} channels, the run's have {c}")


def read_image_file(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """One image file as 1 x C x H x W uint8: centre square, resized to the run's size."""
    from ..data.folder import _decode

    arr = _decode(path, shape[1])
    if arr is None:
        raise GanforgeError(f"cannot read image {path} (not an image, or a damaged file)")
    return _fit_shape(arr[None], shape, str(path))


def read_images(spec: str, cfg) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """(uint8 images N x C x H x W, labels or None, names) from ``spec``:

    - ``test`` (or ``val``): the held-out split of the run's own data set (MNIST's test split with
      its labels; an image folder's val split);
    - a folder of images (found recursively, centre-cropped and resized as for training; unreadable
      files are skipped with one warning line, and each score keeps its file's name);
    - one image file;
    - an ``.npz`` with ``images`` (uint8, N x C x H x W or N x H x W) and optionally ``labels``.
    """
    from ..data import data_info

    shape = tuple(data_info(cfg.data).shape)
    if spec in ("test", "val"):
        from ..evaluation.reference import load_reference_images

        if cfg.data.name == "folder" and cfg.data.val_held <= 0:
            raise GanforgeError("this image-folder run has no held-out split (data.val_fraction = 0); "
                                "give --images DIR or FILE")
        images, labels = load_reference_images(cfg.data.name, "test", cfg.data.root or None, cfg.data)
        images = _fit_shape(images.numpy(), shape, spec)
        return images, (labels.numpy() if labels is not None else None), [f"{spec}[{i}]" for i in range(len(images))]
    path = Path(spec).expanduser()
    if path.is_dir():
        from ..data.folder import _decode, list_images

        decoded = [(f, _decode(f, shape[1])) for f in list_images(path)]
        kept = [(f, a) for f, a in decoded if a is not None]
        if not kept:
            raise GanforgeError(f"none of the {len(decoded)} image files under {path} could be read; are they images?")
        if len(kept) < len(decoded):
            skipped = [str(f.relative_to(path)) for f, a in decoded if a is None]
            print(f"warning: skipped {len(skipped)} unreadable image(s) under {path}, e.g. {', '.join(skipped[:3])}",
                  file=sys.stderr)
        images = _fit_shape(np.stack([a for _, a in kept]), shape, spec)
        return images, None, [str(f.relative_to(path)) for f, _ in kept]
    if not path.is_file():
        raise GanforgeError(f"images '{spec}' not found: give 'test', a folder, an image file or an .npz")
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path) as f:
                if "images" not in f.files:
                    raise GanforgeError(f"{path} has no 'images' array (it has: {', '.join(f.files) or 'nothing'})")
                images, labels = f["images"], (f["labels"] if "labels" in f.files else None)
        except (OSError, ValueError, EOFError) as exc:
            raise GanforgeError(f"cannot read {path} ({' '.join(str(exc).split())}); expected an .npz with 'images'") from None
        if images.dtype != np.uint8:
            raise GanforgeError(f"{path}: 'images' must be uint8 (0..255), got {images.dtype}")
        images = _fit_shape(images, shape, str(path))
        return images, labels, [f"{path.name}[{i}]" for i in range(len(images))]
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return read_image_file(path, shape), None, [path.name]
    raise GanforgeError(f"'{spec}' is not an image, a folder or an .npz ({', '.join(IMAGE_SUFFIXES)}, .npz)")
