"""What a run's discriminator says about real and generated images: the inputs of the "AGE"
metric (average generated error, as the faces tutorial evaluates a GAN) and of the held-out gap.

D's output is read as a probability, sigmoid(logit). For the cross-entropy losses that is D's own
meaning; for hinge, Wasserstein and least-squares critics it is only a monotone squashing of a raw
score, so there AGE compares runs of one loss at most.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.batches import to_unit
from ..errors import GanforgeError
from .catalog import eval_spec
from .reference import load_reference_images

HELDOUT_SPLIT = {"image": "test", "folder": "val"}


@torch.no_grad()
def d_probabilities(D, images, labels=None, batch: int = 500, device="cpu") -> np.ndarray:
    """sigmoid(D(x)) of uint8 images (N x C x H x W), in batches; one value per PacGAN pack."""
    pack = getattr(D, "pack", 1)
    x = torch.as_tensor(np.asarray(images))
    n = len(x) // pack * pack
    if n == 0:
        raise GanforgeError(f"the discriminator needs at least {pack} images (model.d.pack), got {len(x)}")
    was_training = D.training
    D.eval()
    out = []
    step = max(pack, batch // pack * pack)
    for i in range(0, n, step):
        xb = to_unit(x[i:min(i + step, n)].to(device))
        yb = None if labels is None else torch.as_tensor(np.asarray(labels[i:i + len(xb)])).to(device)
        if yb is not None and pack > 1:
            yb = yb[::pack]
        logits = D(xb, yb)
        logits = logits[0] if isinstance(logits, tuple) else logits
        out.append(torch.sigmoid(logits.float().reshape(-1)).cpu())
    D.train(was_training)
    return torch.cat(out).numpy()


def discriminator_inputs(D, data: str, fake_images, fake_labels=None, n: int | None = None, seed: int = 0,
                         root=None, dcfg=None, conditional: bool = False, device="cpu") -> dict:
    """{'d_train', 'd_heldout', 'd_fake'}: D's probabilities on ``n`` training images, ``n`` held-out
    real images (the test split of a named data set, the val split of an image folder) and the
    generated ``fake_images``. ``n`` defaults to the number of fakes (capped by the held-out split)."""
    kind = eval_spec(data).kind
    if kind not in HELDOUT_SPLIT:
        raise GanforgeError(f"AGE needs images with a held-out split; {data} has none")
    if kind == "folder" and (dcfg is None or dcfg.val_held <= 0):
        raise GanforgeError("AGE needs held-out real images: this image folder run has no val split; "
                            "set data.val_fraction (e.g. 0.1) when training")
    heldout, heldout_labels = load_reference_images(data, HELDOUT_SPLIT[kind], root, dcfg)
    if len(heldout) == 0:
        raise GanforgeError("AGE needs held-out real images: this image folder has no val split; "
                            "set data.val_fraction (e.g. 0.1) when training")
    train, train_labels = load_reference_images(data, "train", root, dcfg)
    n = min(n or len(fake_images), len(heldout), len(train))
    gen = torch.Generator().manual_seed(seed + 4242)
    pick_h = torch.randperm(len(heldout), generator=gen)[:n]
    pick_t = torch.randperm(len(train), generator=gen)[:n]

    def lab(labels, pick):
        return None if (not conditional or labels is None) else labels[pick].numpy()

    return {"d_train": d_probabilities(D, train[pick_t].numpy(), lab(train_labels, pick_t), device=device),
            "d_heldout": d_probabilities(D, heldout[pick_h].numpy(), lab(heldout_labels, pick_h), device=device),
            "d_fake": d_probabilities(D, fake_images, fake_labels if conditional else None, device=device)}
