"""The Python API, used as a user would: this file imports only ``ganforge`` (and the user's own module).

The README's "Python API" code blocks are executed as written, with tiny overrides appended to every
``load_config`` call, so the README stays true.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ganforge

ROOT = Path(__file__).resolve().parents[1]
TINY = ["train.steps=5", "model.g.hidden=[32]", "model.d.hidden=[32]", "log.every=1", "log.sample_every=0",
        "log.checkpoint_every=0", "log.tensorboard=false", "log.progress=false"]


def api_code(readme: Path) -> str:
    """The ```python blocks of the README's "Python API" section, in order."""
    text = readme.read_text(encoding="utf-8")
    section = re.split(r"\n## ", text.split("\n## Python API\n", 1)[1])[0]
    blocks = re.findall(r"^```python\n(.*?)^```", section, re.S | re.M)
    assert blocks, f"{readme.name}: no python block in the Python API section"
    return "\n".join(blocks)


@pytest.fixture
def tiny_configs(monkeypatch):
    real = ganforge.load_config
    monkeypatch.setattr(ganforge, "load_config", lambda source=None, overrides=None: real(source, [*(overrides or []), *TINY]))
    yield
    for name in ("smooth_hinge",):
        if name in ganforge.objectives.LOSSES:
            ganforge.objectives.LOSSES.unregister(name)


@pytest.mark.parametrize("readme", ["README.md", "README.zh-CN.md"])
def test_the_readme_example_runs(readme, tiny_configs, capsys):
    exec(compile(api_code(ROOT / readme), readme, "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert json.loads(Path("runs/ring8_api/eval.json").read_text())["n"] == 2500
    assert [json.loads(x)["step"] for x in open("runs/ring8_api/metrics.jsonl") if '"eval"' not in x] == [1, 2, 3, 4, 5]
    assert (Path("runs/ring8_smooth/checkpoints/last.pt").is_file() and "modes" in out)


def test_import_is_cheap():
    code = "import sys, ganforge; assert 'torch' not in sys.modules, 'torch'; print(len(ganforge.__all__))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert p.returncode == 0, p.stderr


def test_every_public_name_is_typed_and_documented():
    assert "Run" in ganforge.__all__ and "register_loss" in ganforge.__all__ and "evaluate" in ganforge.__all__
    for name in ganforge.__all__:
        obj = getattr(ganforge, name)
        if name == "__version__":
            continue
        assert inspect.getdoc(obj), name
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            missing = [p for p, v in sig.parameters.items() if v.annotation is inspect.Parameter.empty]
            assert not missing, (name, missing)
    for method in ("generator", "sample", "evaluate", "labels"):
        fn = getattr(ganforge.Run, method)
        assert inspect.getdoc(fn) and inspect.signature(fn).return_annotation is not inspect.Parameter.empty
    with pytest.raises(AttributeError):
        ganforge.no_such_name


def test_a_loss_from_the_users_own_module_trains(tmp_path):
    (tmp_path / "my_losses.py").write_text(
        "import torch.nn.functional as F\nimport ganforge\n\n\n"
        "@ganforge.register_loss('user_softplus_hinge')\n"
        "class UserHinge(ganforge.Objective):\n"
        "    label_smoothing = False\n\n"
        "    def d_real(self, real_logits):\n        return F.softplus(1 - real_logits).mean()\n\n"
        "    def d_fake(self, fake_logits):\n        return F.softplus(1 + fake_logits).mean()\n\n"
        "    def g_loss(self, fake_logits):\n        return -fake_logits.mean()\n")
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module("my_losses")
        seen = []

        class Record(ganforge.Callback):
            def on_log(self, trainer, record):
                seen.append(record)

        cfg = ganforge.load_config(None, ["data.name=ring8", "loss.name=user_softplus_hinge", *TINY])
        run = ganforge.train(cfg, "r", callbacks=[Record()])
        assert run.status == "finished" and run.step == 5 and len(seen) == 5
        assert [r["step"] for r in run.metrics] == [1, 2, 3, 4, 5]
        assert 2.0 < run.metrics[0]["d_loss"] < 3.0  # about 2 softplus(1) at initialisation's small logits
        with pytest.raises(ganforge.GanforgeError, match="already registered"):
            ganforge.register_loss("user_softplus_hinge", object)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("my_losses", None)
        ganforge.objectives.LOSSES.unregister("user_softplus_hinge")


def test_run_resume_generator_and_errors():
    cfg = ganforge.load_config("ring8", {"train.steps": 4, "model.g.hidden": [16], "model.d.hidden": [16],
                                         "log.tensorboard": False, "log.progress": False, "log.every": 1})
    run = ganforge.train(cfg, "r")
    assert repr(run) == "Run('r')" and run.config.train.steps == 4 and run.evaluations == []
    again = ganforge.resume("r", {"train.steps": 6})
    assert again.step == 6 and [r["step"] for r in again.metrics] == [1, 2, 3, 4, 5, 6]
    ema, raw = again.generator(ema=True), again.generator(ema=False)
    assert any((a - b).abs().max() > 0 for a, b in zip(ema.parameters(), raw.parameters()))
    x = again.sample(10, seed=2)
    assert tuple(x.shape) == (10, 2) and (x == again.sample(10, seed=2)).all()
    result = again.evaluate(metrics=["modes"], n=500)
    assert again.evaluations[-1]["eval"] == result and result["n"] == 500
    with pytest.raises(ganforge.GanforgeError, match="conditional"):
        again.sample(4, labels=[0, 1, 2, 3])
    with pytest.raises(ganforge.GanforgeError, match="images"):
        again.sample(4, uint8=True)
    with pytest.raises(ganforge.GanforgeError, match="not found"):
        ganforge.Run("nowhere")
    with pytest.raises(ganforge.GanforgeError, match="list of 'section.key=value'"):
        ganforge.load_config("ring8", "train.steps=3")


def test_evaluate_takes_arrays_from_anywhere(fake_mnist):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 2)).astype(np.float32) * 0.01 + np.array([1.0, 0.0], np.float32)
    r = ganforge.evaluate(points, data="ring8", metrics=["modes"])
    assert r["n"] == 500 and r["modes"] == 1
    images = rng.integers(0, 256, (40, 1, 28, 28), dtype=np.uint8)
    r = ganforge.evaluate(images, data="mnist", metrics="fid", labels=rng.integers(0, 10, 40))
    assert r["n"] == 40 and r["fid"] > 0
    floats = ganforge.evaluate(images[:, 0] / 127.5 - 1.0, data="mnist", metrics=["fid"])
    assert floats["fid"] == pytest.approx(r["fid"], rel=1e-4)
