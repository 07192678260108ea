"""Mixed precision (``train.precision = fp32 | bf16 | fp16``) as one object the D and G steps use.

- Autocast covers G's and D's forward passes; the objective sees fp32 logits, and the gradient
  penalty and R1 (double backward) run in fp32 (their D forward outside autocast). Weights, EMA
  and optimizer state stay fp32, so checkpoints do not depend on the precision: a bf16 run
  resumes bit-exactly and an fp32 checkpoint can be continued in bf16.
- ``bf16`` works on CPU and CUDA; where the hardware has no native bf16 the run says so in one line.
- ``fp16`` is for CUDA and uses a gradient scaler per optimizer (saved with the checkpoint).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import torch

from ..errors import GanforgeError

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_bf16() -> bool | None:
    """Whether this CPU computes bf16 natively (AVX512-BF16 / AMX on x86, BF16 on Arm); None if unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        if line.lower().startswith(("flags", "features")):
            flags.update(line.split(":", 1)[1].split())
    if not flags:
        return None
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


class Precision:
    def __init__(self, name: str, device: torch.device | str, quiet: bool = False):
        if name not in _DTYPES:
            raise GanforgeError(f"train.precision must be one of {', '.join(PRECISIONS)}, got '{name}'")
        self.name = name
        self.device = torch.device(device)
        self.dtype = _DTYPES[name]
        if name == "fp16" and self.device.type != "cuda":
            raise GanforgeError("train.precision=fp16 is for CUDA (it needs a gradient scaler); use bf16 on the CPU")
        if name == "bf16" and not quiet:
            if self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
                print("note: this GPU has no native bf16; train.precision=bf16 will be emulated and slow "
                      "(use fp16 or fp32)", file=sys.stderr)
            elif self.device.type == "cpu" and cpu_has_bf16() is False:
                print("note: this CPU has no native bf16 (no AVX512-BF16/AMX); train.precision=bf16 may be "
                      "slower than fp32", file=sys.stderr)
        self.scalers = {}
        if name == "fp16":
            self.scalers = {"d": torch.amp.GradScaler("cuda"), "g": torch.amp.GradScaler("cuda")}

    @property
    def mixed(self) -> bool:
        return self.dtype is not None

    def autocast(self):
        """The context for G's and D's forward passes."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def full(self):
        """A context in fp32 inside an autocast region (penalties' double backward)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, enabled=False)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, which: str, sync=None) -> None:
        """backward, ``sync()`` (a data-parallel gradient average), optimizer step; scaled for fp16."""
        scaler = self.scalers.get(which)
        if scaler is None:
            loss.backward()
            if sync is not None:
                sync()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            if sync is not None:
                sync()
            scaler.step(optimizer)
            scaler.update()

    def state_dict(self) -> dict:
        return {k: s.state_dict() for k, s in self.scalers.items()}

    def load_state_dict(self, state: dict | None) -> None:
        for k, s in self.scalers.items():
            if state and k in state:
                s.load_state_dict(state[k])
