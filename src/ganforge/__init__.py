"""ganforge: train, sample and evaluate generative adversarial networks.

The Python API (details in :mod:`ganforge.api` and the README's "Python API" section)::

    import ganforge

    cfg = ganforge.load_config("ring8", ["train.steps=2000"])   # a preset name or a TOML file
    run = ganforge.train(cfg, "runs/ring8")                     # -> ganforge.Run
    points = run.sample(1000, seed=1)
    print(run.evaluate())                                       # also `ganforge eval runs/ring8`

``import ganforge`` is cheap: the names below are loaded on first use (torch with them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

# public name -> (module, attribute)
_LAZY = {
    "load_config": ("api", "load_config"),
    "list_presets": ("api", "list_presets"),
    "train": ("api", "train"),
    "resume": ("api", "resume"),
    "Run": ("api", "Run"),
    "evaluate": ("api", "evaluate"),
    "register_loss": ("api", "register_loss"),
    "register_dataset": ("api", "register_dataset"),
    "register_generator": ("api", "register_generator"),
    "register_discriminator": ("api", "register_discriminator"),
    "register_metric": ("api", "register_metric"),
    "register_optimizer": ("api", "register_optimizer"),
    "register_schedule": ("api", "register_schedule"),
    "Config": ("config", "Config"),
    "Callback": ("training.callbacks", "Callback"),
    "Objective": ("objectives.losses", "Objective"),
    "GanforgeError": ("errors", "GanforgeError"),
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names come from __getattr__
    from .api import (Run, evaluate, list_presets, load_config, register_dataset, register_discriminator, register_generator,
                      register_loss, register_metric, register_optimizer, register_schedule, resume, train)
    from .config import Config
    from .errors import GanforgeError
    from .objectives.losses import Objective
    from .training.callbacks import Callback


def __getattr__(name: str) -> Any:
    """Load a public name (or a submodule such as ``ganforge.data``) on first use."""
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'ganforge' has no attribute '{name}'") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
