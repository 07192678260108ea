"""Uses of a trained GAN beyond sampling, each a module over the run's models (no training loop
of its own for the GAN): anomaly detection (:mod:`.anomaly`, f-AnoGAN), semi-supervised
classification (:mod:`.semi`, the trained discriminator of ``model.conditioning=semi``) and
inpainting (:mod:`.inpaint`, latent optimisation)."""

from . import semi  # noqa: F401  registers the semi-supervised D's test accuracy with ganforge eval
