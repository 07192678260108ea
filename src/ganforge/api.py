"""The Python API: what ``import ganforge`` offers, a thin layer over the modules that do the work.

- :func:`load_config`: a checked config from a preset name or TOML file, plus overrides;
- :func:`train`, :func:`resume`: train into a run directory (the command line's ``ganforge train``);
- :class:`Run`: a trained run (or ``zoo:NAME`` entry): its config, metrics, generator, samples and
  evaluation;
- :func:`evaluate`: metrics of samples from anywhere (arrays), against a data set;
- ``register_*``: add a loss, data set, architecture, metric, optimizer or schedule from your own
  module; the word is then valid in configs, on the command line and in evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch

from .errors import GanforgeError

if TYPE_CHECKING:
    from .config import Config, DataConfig
    from .training.callbacks import Callback

def _override_list(overrides: Sequence[str] | dict[str, Any] | None) -> list[str]:
    """``["train.steps=5"]`` as it is; ``{"train.steps": 5}`` as the same strings."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        raise GanforgeError(f"overrides must be a list of 'section.key=value' strings or a dict, got the string "
                            f"{overrides!r}: write [{overrides!r}]")
    if isinstance(overrides, dict):
        from .config import _toml_value

        out = []
        for key, value in overrides.items():
            try:
                out.append(f"{key}={_toml_value(list(value) if isinstance(value, tuple) else value)}")
            except TypeError:
                raise GanforgeError(f"override {key}: {value!r} is not a TOML value (number, string, bool "
                                    "or list of them)") from None
        return out
    return [str(o) for o in overrides]


def load_config(source: str | Path | None = None,
                overrides: Sequence[str] | dict[str, Any] | None = None) -> Config:
    """A checked config: ``source`` is a preset name (``"dcgan_mnist"``,
    ``"tutorials/tutorial1_tf_dcgan_mnist"``), a TOML file (a file that exists wins), or None for
    the defaults; ``overrides`` are ``["train.steps=100", ...]`` or ``{"train.steps": 100}``.
    A wrong key, type, value or word is a :class:`GanforgeError` with one line."""
    from .choices import load_config as _load

    return _load(source, _override_list(overrides))


def list_presets() -> dict[str, str]:
    """Preset name -> its one-line description (what ``ganforge presets`` prints)."""
    from . import presets as _presets

    return {name: _presets.describe(name) for name in _presets.names()}


def train(cfg: Config | str | Path, run_dir: str | Path | None = None, callbacks: Sequence[Callback] = (),
          progress: bool | None = None) -> Run | None:
    """Train a new run into ``run_dir`` (default ``<log.out_dir>/<name>``, made unique) and return it.

    ``cfg`` is a config (checked again here) or a preset name / TOML file. ``callbacks`` are
    :class:`Callback` objects that see every event beside the run's own (checkpoints, metrics.jsonl,
    grids). ``progress`` overrides ``log.progress``. ``Run.status`` is "finished" or "interrupted"
    (Ctrl-C saves a checkpoint first). Under torchrun, ranks other than 0 return None.
    """
    from .choices import validate
    from .training import distributed
    from .training.run import train as _train

    if not hasattr(cfg, "train"):
        cfg = load_config(cfg)
    validate(cfg)
    path, trainer, status = _train(cfg, run_dir, list(callbacks), progress=progress)
    del trainer  # a DDP-wrapped model must go before its process group
    distributed.teardown()
    return None if path is None else Run(path, status=status)


def resume(source: str | Path, overrides: Sequence[str] | dict[str, Any] | None = None,
           callbacks: Sequence[Callback] = (), progress: bool | None = None) -> Run | None:
    """Continue run ``source`` (a run directory or one of its checkpoint files) where it stopped, bit
    for bit; ``overrides`` may extend it (``{"train.steps": 2000}``). Returns the run."""
    from .training import distributed
    from .training.run import resume as _resume

    path, trainer, status = _resume(source, _override_list(overrides), list(callbacks), progress=progress)
    del trainer
    distributed.teardown()
    return None if path is None else Run(path, status=status)


class Run:
    """A trained run: a run directory, one of its checkpoint files, or a zoo entry ``"zoo:NAME"``.

    Nothing is read until asked for; the checkpoint is read once.
    """

    def __init__(self, source: str | Path, status: str | None = None):
        from .runs import resolve
        from .zoo import card_of, is_zoo

        self.source = str(source)
        self.status = status
        self.is_zoo = is_zoo(source)
        self.card: dict | None = card_of(self.source) if self.is_zoo else None
        self.path: Path | None = None if self.is_zoo else resolve(source)[0].path
        self._loaded: tuple | None = None

    def __repr__(self) -> str:
        return f"Run({self.source!r})"

    def _load(self) -> tuple:
        if self._loaded is None:
            from .choices import load_run_config

            self._loaded = load_run_config(self.source)
        return self._loaded

    @property
    def config(self) -> Config:
        """The run's resolved config (from its checkpoint)."""
        return self._load()[0]

    @property
    def step(self) -> int:
        """Generator steps trained."""
        return int(self._load()[1]["step"])

    def _records(self) -> tuple[list[dict], list[dict]]:
        if self.is_zoo:
            evals = [{"step": self.card.get("step"), "eval": self.card["eval"]}] if self.card.get("eval") else []
            return [], evals
        from .viz.curves import read_metrics

        return read_metrics(self.path)

    @property
    def metrics(self) -> list[dict]:
        """The training records of ``metrics.jsonl``, one dict per logged step (step, epoch, d_loss,
        g_loss, d_real, d_fake, img_per_s, ...); empty for a zoo entry."""
        return self._records()[0]

    @property
    def evaluations(self) -> list[dict]:
        """The evaluation records (``{"step": N, "eval": {...}}``): periodic ones and ``ganforge eval``'s;
        a zoo entry's card numbers."""
        return self._records()[1]

    def generator(self, ema: bool = True, device: str | torch.device = "cpu") -> torch.nn.Module:
        """The generator in eval mode: ``G(z, labels=None)`` -> samples in [-1, 1]. ``ema``: the EMA
        weights where the run kept them (what sampling and evaluation use), else the trained weights."""
        from .build import build_generator_only

        cfg, state = self._load()
        if not ema and self.is_zoo and self.card.get("ema"):
            raise GanforgeError(f"{self.source} keeps only the EMA generator; use generator(ema=True)")
        weights = state["g_ema"] if ema and state.get("g_ema") is not None else state["g"]
        G = build_generator_only(cfg, device)
        try:
            G.load_state_dict(weights)
        except (RuntimeError, KeyError) as exc:
            raise GanforgeError(f"generator weights in {self.source} do not match its config "
                                f"({str(exc).splitlines()[0][:120]})") from None
        return G.eval()

    def labels(self, n: int, labels: int | Sequence[int] | torch.Tensor | None = None) -> torch.Tensor | None:
        """Labels for ``n`` samples of a conditional run: None -> balanced 0, 1, ..., C-1, 0, ...; an
        int -> that class for all; a sequence -> as given. None for an unconditional run."""
        from .sampling import num_classes, sample_labels

        if labels is None or isinstance(labels, int):
            return sample_labels(self.config, n, labels)
        y = torch.as_tensor(labels, dtype=torch.long).flatten()
        classes = num_classes(self.config)
        if not classes:
            raise GanforgeError(f"labels need a conditional run; {self.source} is unconditional")
        if len(y) != n or y.min() < 0 or y.max() >= classes:
            raise GanforgeError(f"labels must be {n} class indices in 0..{classes - 1}")
        return y

    def sample(self, n: int, labels: int | Sequence[int] | torch.Tensor | None = None, seed: int = 0,
               device: str | torch.device = "cpu", uint8: bool = False) -> torch.Tensor | np.ndarray:
        """``n`` samples of the (EMA) generator: a float tensor in [-1, 1] (N x C x H x W images or
        N x 2 points), or with ``uint8=True`` images as a uint8 numpy array (N x C x H x W). Seeded:
        the same ``seed`` gives the same samples as ``ganforge sample --seed``."""
        from .sampling import generate
        from .viz import to_uint8

        if not isinstance(n, int) or n < 1:
            raise GanforgeError(f"n must be a whole number >= 1, got {n!r}")
        G = self.generator(device=device)
        x = generate(G, self.config, n, seed, device=device, labels=self.labels(n, labels))
        if not uint8:
            return x
        if x.dim() != 4:
            raise GanforgeError("uint8=True is for images; this run makes 2-D points")
        return to_uint8(x).numpy()

    def evaluate(self, metrics: str | Sequence[str] | None = None, n: int | None = None, seed: int = 0,
                 device: str = "cpu", progress: bool = False) -> dict:
        """``ganforge eval`` of this run: FID, KID, precision/recall, mode counts ... (``metrics``:
        names, default what fits the data set); a run directory records it in ``eval.json`` and
        ``metrics.jsonl``. Returns the numbers."""
        from . import applications  # noqa: F401  registers what the applications add to a run's evaluation
        from .evaluation.run import run_eval

        names = ",".join(metrics) if metrics is not None and not isinstance(metrics, str) else metrics
        return run_eval(self.source, names, n=n, seed=seed, progress=progress, device=device)


def evaluate(samples: np.ndarray | torch.Tensor | dict, data: str, metrics: str | Sequence[str] | None = None,
             labels: Sequence[int] | np.ndarray | None = None, device: str = "cpu", progress: bool = False,
             inception_weights: str | None = None, data_config: DataConfig | None = None) -> dict:
    """Metrics of samples from anywhere against data set ``data`` (``"mnist"``, ``"ring8"``, ...).

    ``samples``: images as uint8 (N x C x H x W or N x H x W) or floats in [-1, 1]; 2-D points
    (N x 2) for a toy mixture; or a dict as ``ganforge sample`` writes (``images``/``points``,
    ``labels``). ``labels`` make the class metrics possible. ``data_config`` is needed for an image
    folder (``data="folder"``). Returns ``{"data", "n", "seconds", <metric numbers>}``.
    """
    from .evaluation.catalog import eval_spec, parse_metrics
    from .evaluation.samples import as_samples, evaluate_samples

    spec = eval_spec(data)
    if isinstance(samples, dict):
        d = {k: np.asarray(v) for k, v in samples.items() if k in ("images", "points", "labels")}
    else:
        x = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
        if spec.kind != "points" and x.ndim == 3:  # N x H x W: one channel
            x = x[:, None]
        if spec.kind == "points" or np.issubdtype(x.dtype, np.floating):
            d = as_samples(torch.from_numpy(np.ascontiguousarray(x)), data)
        else:
            d = {"images": x}
    if labels is not None:
        d["labels"] = np.asarray(labels)
    names = ",".join(metrics) if metrics is not None and not isinstance(metrics, str) else metrics
    chosen = parse_metrics(names, data, labelled="labels" in d, inception_weights=inception_weights)
    return evaluate_samples(d, data, chosen, progress=progress, device=device, dcfg=data_config,
                            inception_weights=inception_weights)


# ---------------------------------------------------------------- registration
def _register(registry: Any, name: str, obj: Any, what: str) -> Any:
    """``registry.register(name)(obj)``, or a decorator when ``obj`` is None; a taken name is one line."""
    def deco(entry):
        if name in registry:
            raise GanforgeError(f"{what} '{name}' is already registered; pick another name")
        return registry.register(name)(entry)

    return deco if obj is None else deco(obj)


def register_loss(name: str, objective: type | None = None) -> Any:
    """Register a loss (``loss.name``): a subclass of :class:`Objective` with ``d_loss(real_logits,
    fake_logits)`` (or ``d_real``/``d_fake``) and ``g_loss(fake_logits)`` on raw logits. Use as
    ``register_loss("x", X)`` or as a class decorator ``@register_loss("x")``."""
    from .objectives import LOSSES

    return _register(LOSSES, name, objective, "loss")


def register_dataset(name: str, dataset: Any = None) -> Any:
    """Register a data set (``data.name``): a :class:`ganforge.data.Dataset` of ``info(data_config)
    -> DataInfo`` (the sample shape, without loading), ``build(data_config, seed, device,
    progress=True)`` -> a batch source, and ``eval`` (an ``EvalSpec``: default metrics and sample count)."""
    from .data import DATASETS

    return _register(DATASETS, name, dataset, "data set")


def register_generator(name: str, factory: Callable | None = None) -> Any:
    """Register a generator architecture (``model.g.arch``): an ``nn.Module`` class built as
    ``factory(model_config, data_info)`` with ``forward(z, y=None)`` -> samples in [-1, 1]."""
    from .models import GENERATORS

    return _register(GENERATORS, name, factory, "generator architecture")


def register_discriminator(name: str, factory: Callable | None = None) -> Any:
    """Register a discriminator architecture (``model.d.arch``): an ``nn.Module`` class built as
    ``factory(model_config, data_info)`` with ``forward(x, y=None, return_classes=False)`` -> raw logits."""
    from .models import DISCRIMINATORS

    return _register(DISCRIMINATORS, name, factory, "discriminator architecture")


def register_metric(name: str, compute: Callable | None = None, needs: Sequence[str] = ("features",),
                    min_samples: int = 1, title: str = "") -> Any:
    """Register a metric (``--metrics``, ``eval.metrics``): ``compute(inputs) -> dict of numbers``,
    where ``inputs`` (a ``MetricInputs``) holds what ``needs`` asks for (``features`` with ``real``,
    ``probs``, ``points``, ``labels`` ...)."""
    from .evaluation.catalog import METRICS, Metric

    def deco(fn):
        _register(METRICS, name, Metric(fn, frozenset(needs), min_samples, title or name), "metric")
        return fn

    return deco if compute is None else deco(compute)


def register_optimizer(name: str, factory: Callable | None = None) -> Any:
    """Register an optimizer (``optim.name``): ``factory(params, optim_config, lr, betas=None)`` -> a
    ``torch.optim.Optimizer`` (``betas``: G's or D's own Adam betas when the config sets them)."""
    from .training.optimizers import OPTIMIZERS

    return _register(OPTIMIZERS, name, factory, "optimizer")


def register_schedule(name: str, factory: Callable | None = None) -> Any:
    """Register a learning-rate schedule (``optim.schedule``): ``factory(optim_config, total_steps,
    optimizers)`` -> a list of ``torch.optim.lr_scheduler`` objects, stepped once per generator step."""
    from .training.schedules import SCHEDULES

    return _register(SCHEDULES, name, factory, "learning-rate schedule")
