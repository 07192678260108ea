"""ganforge: train, sample and evaluate generative adversarial networks."""

__version__ = "0.1.0"
