"""ganforge: train, sample and evaluate generative adversarial networks."""

from .version import __version__
