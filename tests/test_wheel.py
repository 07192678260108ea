"""The wheel, installed outside the repository, works on its own: presets, train, sample, eval.

The wheel is built offline (``pip wheel . --no-deps --no-build-isolation``, from a copy of the
sources) and installed, not
editable, into a fresh venv. That venv reaches torch, numpy and the other dependencies through a
``.pth`` line naming this interpreter's site-packages: a path added that way does not run the
``.pth`` files inside it, so the editable install of the source tree stays out, and the test
asserts that ``ganforge.__file__`` lies in the new venv. Every command runs from a temporary
directory outside the repository, with no ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], cwd: Path, env: dict, timeout: int = 300) -> str:
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return p.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict, Path]:
    """(the new venv's bin folder, the environment to run it in, a work folder outside the repo)."""
    if importlib.util.find_spec("setuptools") is None or importlib.util.find_spec("pip") is None:
        pytest.skip("building the wheel needs pip and setuptools in this environment (pip install -e .[dev])")
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_NO_INDEX"], env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1", "1"
    src = tmp / "src_copy"  # built from a copy: setuptools writes build/ and *.egg-info beside the sources
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp / "dist")], tmp, env)
    (wheel,) = (tmp / "dist").glob("ganforge-*.whl")
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp, env)
    py = venv / "bin" / "python"
    purelib = Path(run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env).strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    (purelib / "_host_site.pth").write_text("\n".join(sorted(ours)) + "\n")
    run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], tmp, env)
    work = tmp / "work"
    work.mkdir()
    return venv / "bin", env, work


def test_the_installed_wheel_is_what_runs(installed):
    bin_dir, env, work = installed
    where = run([str(bin_dir / "python"), "-c", "import ganforge; print(ganforge.__file__)"], work, env).strip()
    assert Path(where).is_relative_to(bin_dir.parent) and not Path(where).is_relative_to(ROOT), where
    names = run([str(bin_dir / "ganforge"), "presets"], work, env).splitlines()
    assert any(n.startswith("dcgan_mnist ") for n in names) and any(n.startswith("tutorials/") for n in names)
    listing = run([str(bin_dir / "ganforge"), "zoo"], work, env)
    assert all(f"zoo:{name} " in listing for name in ("demo_mnist", "acgan_mnist", "selfcond_mnist", "selfcond_fashion",
                                                      "ring8")), listing
    run([str(bin_dir / "ganforge"), "sample", "zoo:ring8", "--n", "100", "--out", "z.npz"], work, env)  # the wheel's zoo
    assert (work / "z.npz").is_file()


def test_train_sample_eval_from_the_wheel(installed):
    bin_dir, env, work = installed
    gf = str(bin_dir / "ganforge")
    run([gf, "train", "ring8", "train.steps=5", "log.every=1", "log.sample_every=0", "log.checkpoint_every=0",
         "log.tensorboard=false", "--no-progress", "--run-dir", "r"], work, env)
    assert [json.loads(x)["step"] for x in (work / "r" / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4, 5]
    assert 'ganforge_commit = ""' in (work / "r" / "config.toml").read_text()  # an installed wheel has no checkout
    run([gf, "sample", "r", "--n", "100", "--out", "s.npz"], work, env)
    assert (work / "s.npz").is_file()
    out = run([gf, "eval", "r", "--n", "300", "--no-progress"], work, env)
    assert "modes" in out and json.loads((work / "r" / "eval.json").read_text())["n"] == 300
