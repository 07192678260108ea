"""The ``ganforge`` command: train, sample, eval, bench, … Thin: it parses arguments and calls the API
(each command's body is in :mod:`ganforge.commands`).

Every failure ends in one ``error:`` line and a non-zero exit: 2 for a problem with the input
(config, data, checkpoint, arguments), 1 for a file-system or other error, 130 for Ctrl-C.
``--debug`` (or ``GANFORGE_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import commands
from .errors import GanforgeError


# ------------------------------------------------------------------ argument types
def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


positive = _int_at_least(1)
non_negative = _int_at_least(0)


def _float(low: float, strict: bool):
    """A finite float > ``low`` (``strict``) or >= ``low``."""
    import math

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not math.isfinite(value) or (value <= low if strict else value < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low:g}, got {text}")
        return value

    parse.__name__ = f"number {'>' if strict else '>='} {low:g}"
    return parse


positive_float = _float(0.0, strict=True)
non_negative_float = _float(0.0, strict=False)


def _out_file(*suffixes: str):
    """An output path whose suffix is one of ``suffixes`` (checked before any work is done)."""
    def parse(text: str) -> str:
        if Path(text).suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"'{text}' must end in {' or '.join(suffixes)}")
        return text

    parse.__name__ = "output file"
    return parse


def _precisions(text: str) -> list[str]:
    from .training.precision import PRECISIONS

    names = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in names if p not in PRECISIONS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"'{text}': choose from {', '.join(PRECISIONS)}")
    return names


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one ``error:`` line (exit 2), like every other ganforge error."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ganforge", description="Train, sample and evaluate GANs.")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks (also GANFORGE_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a GAN from a preset or a TOML config (or resume a run)")
    t.add_argument("config", nargs="?", help="preset name (ganforge presets), e.g. dcgan_mnist, or a TOML file; "
                   "a file that exists wins")
    t.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. train.epochs=3")
    t.add_argument("--resume", metavar="RUN", help="continue a run: its directory (checkpoints/last.pt) or a "
                   "checkpoint file such as RUN/checkpoints/last.prev.pt; the run goes on in RUN")
    t.add_argument("--run-dir", help="directory for this run (default runs/<name>)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=commands.train)

    pr = sub.add_parser("presets", help="list the shipped presets (ganforge train NAME), one line each")
    pr.set_defaults(func=commands.presets)

    z = sub.add_parser("zoo", help="list the trained generators of the zoo (zoo:NAME works where a run does)")
    z.set_defaults(func=commands.zoo)

    s = sub.add_parser("sample", help="samples from a trained run: a PNG grid or a .npz")
    s.add_argument("run", help="run directory, a checkpoint file, or zoo:NAME")
    s.add_argument("--n", type=positive, default=64, help="number of samples (default 64)")
    s.add_argument("--out", type=_out_file(".png", ".npz"), default="samples.png",
                   help="output .png (grid / scatter) or .npz")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--nrow", type=positive, default=None, help="images per row in the grid")
    s.add_argument("--label", default=None,
                   help="class of every sample (conditional runs): an index, or a labelled folder's class name")
    s.set_defaults(func=commands.sample)

    b = sub.add_parser("bench", help="training img/s vs a bare PyTorch loop over the same models")
    b.add_argument("config")
    b.add_argument("overrides", nargs="*")
    b.add_argument("--steps", type=positive, default=300)
    b.add_argument("--warmup", type=non_negative, default=30)
    b.add_argument("--repeats", type=positive, default=3)
    b.add_argument("--precision", type=_precisions, default=None, metavar="LIST",
                   help="comma-separated precisions to compare (default fp32,bf16; fp16 too on CUDA)")
    b.add_argument("--peak-size", type=non_negative, default=0,
                   help="side of the square matmuls that measure the peak FLOP/s (default 2048 on the CPU, 4096 on CUDA)")
    b.add_argument("--peak-repeats", type=positive, default=5, help="timings of the peak matmul, the best kept")
    b.add_argument("--json", type=_out_file(".json"), default=None, help="also write the results to this .json file")
    b.set_defaults(func=commands.bench)

    e = sub.add_parser("eval", help="FID, KID, IS, precision/recall, density/coverage, mode counts")
    e.add_argument("source", nargs="?", help="run directory, zoo:NAME, or samples .npz")
    e.add_argument("--metrics", default=None,
                   help="comma-separated: fid,kid,is,prdc,modes,accuracy,intra_fid,class_freq,age (default: what fits the data set and the source)")
    e.add_argument("--n", type=positive, default=None,
                   help="samples to generate (default 10000; 26000 for stacked_mnist, 2500 for toy data)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--data", default=None, help="data set of an .npz that does not record it")
    e.add_argument("--real-baseline", metavar="DATA", default=None,
                   help="score 10k real training images against the test split instead "
                        "(DATA: a data set name, or an image-folder run directory: its train vs val split)")
    e.add_argument("--json", type=_out_file(".json"), default=None, help="also write the result to this .json file")
    e.add_argument("--inception-weights", metavar="FILE", default=None,
                   help="image folders: FID Inception-v3 weights (pt_inception-2015-12-05-6726825d.pth, "
                        "sha256 checked); without it folder runs are scored on downsampled pixels")
    e.add_argument("--features", metavar="FILE", default=None,
                   help="image folders: a classifier from ganforge train-classifier --data folder (sha256 checked): "
                        "FID/KID/PRDC in its features, class accuracy of a conditional run's samples")
    e.add_argument("--device", default="cpu",
                   help="where the generator, discriminator and feature network run: cpu (default, reproducible "
                        "everywhere), cuda, cuda:N or auto")
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=commands.evaluate)

    i = sub.add_parser("interpolate", help="latent-space walks of a trained generator as a PNG grid")
    i.add_argument("run", help="run directory, a checkpoint file, or zoo:NAME")
    i.add_argument("--steps", type=_int_at_least(2), default=10)
    i.add_argument("--rows", type=positive, default=8)
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--out", type=_out_file(".png"), default="interp.png")
    i.add_argument("--linear", action="store_true", help="linear instead of spherical interpolation")
    i.add_argument("--label", default=None, help="conditional runs: one class (index or name) for every row")
    i.add_argument("--morph", nargs=2, metavar=("A", "B"),
                   help="conditional runs: morph class A into B (indices or names)")
    i.set_defaults(func=commands.interpolate)

    r = sub.add_parser("report", help="animated GIF of the sample grids over training, and loss curves; "
                                      "--html: one self-contained page of a run, or a comparison of several")
    r.add_argument("run", nargs="+", help="run directory (several with --html: compared)")
    r.add_argument("--gif", type=_out_file(".gif"), default=None, help="output GIF (default RUN/training.gif)")
    r.add_argument("--html", action="store_true",
                   help="write one offline HTML page (default RUN/report.html, or ./report.html for several runs)")
    r.add_argument("--out", type=_out_file(".html", ".htm"), default=None, help="with --html: the page to write")
    r.add_argument("--baseline", action="store_true",
                   help="with --html: compute the real-data baseline of eval.json's numbers when none is cached")
    r.set_defaults(func=commands.report)

    x = sub.add_parser("export", help="standalone generator: TorchScript or ONNX, with a JSON of its inputs")
    x.add_argument("run", help="run directory, a checkpoint file, or zoo:NAME")
    x.add_argument("--format", choices=["torchscript", "onnx"], default="torchscript")
    x.add_argument("--out", default=None)
    x.set_defaults(func=commands.export)

    a = sub.add_parser("anomaly", help="anomaly detection with a trained GAN (f-AnoGAN): fit an encoder, score images")
    a.add_argument("action", choices=["fit", "score"], help="fit: train the encoder (resumable); score: score images")
    a.add_argument("run", help="run directory of an unconditional image GAN trained on normal data")
    a.add_argument("--steps", type=positive, default=None, help="fit: total encoder steps (default 300 kimg's worth)")
    a.add_argument("--kimg", type=positive_float, default=None, help="fit: thousands of training images instead of --steps")
    a.add_argument("--batch-size", type=positive, default=None, help="fit: default the run's data.batch_size")
    a.add_argument("--lr", type=positive_float, default=2e-4, help="fit: Adam learning rate of the encoder")
    a.add_argument("--kappa", type=non_negative_float, default=1.0, help="fit: weight of D's feature residual (f-AnoGAN's kappa)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--images", default=None, help="score: 'test' (the run's held-out split, with labels), a folder, "
                   "an image file or an .npz with 'images' (and 'labels')")
    a.add_argument("--out", type=_out_file(".csv"), default=None, help="score: CSV of scores (default RUN/anomaly/scores.csv)")
    a.add_argument("--grid", type=_out_file(".png"), default=None,
                   help="score: grid of the most anomalous inputs, reconstructions, residuals (default RUN/anomaly/most_anomalous.png)")
    a.add_argument("--top", type=non_negative, default=16, help="score: images in the grid (0: no grid)")
    a.add_argument("--json", type=_out_file(".json"), default=None, help="score: also write the summary (AUROC...) here")
    a.add_argument("--device", default="auto")
    a.add_argument("--no-progress", action="store_true")
    a.set_defaults(func=commands.anomaly)

    n = sub.add_parser("inpaint", help="fill a masked region with the generator (latent optimisation, Yeh et al. 2017)")
    n.add_argument("run", help="run directory of an image GAN, or zoo:NAME (with --prior-weight 0: a zoo entry has no D)")
    n.add_argument("--image", nargs="+", required=True, metavar="FILE",
                   help="image file(s), or test:I[,J...] (val:I for a folder run) from the run's held-out split")
    n.add_argument("--mask", required=True, help="box:x,y,w,h (pixels), half:left|right|top|bottom, or a mask image "
                   "(bright = missing)")
    n.add_argument("--steps", type=positive, default=1000, help="optimisation steps (default 1000)")
    n.add_argument("--restarts", type=positive, default=16, help="random starts optimised together (default 16)")
    n.add_argument("--lr", type=positive_float, default=0.03, help="Adam learning rate on z")
    n.add_argument("--prior-weight", type=non_negative_float, default=0.003, help="weight of D's prior loss (lambda)")
    n.add_argument("--seed", type=int, default=0)
    n.add_argument("--out", type=_out_file(".png"), default=None, help="output PNG (default RUN/inpaint.png)")
    n.add_argument("--json", type=_out_file(".json"), default=None, help="also write the errors here")
    n.add_argument("--device", default="auto")
    n.set_defaults(func=commands.inpaint)

    c = sub.add_parser("train-classifier", help="train a feature classifier: the shipped MNIST / Fashion-MNIST one, "
                                                "or one of a labelled image folder (for eval --features)")
    c.add_argument("--data", choices=["mnist", "fashion_mnist", "folder"], required=True)
    c.add_argument("--epochs", type=positive, default=8)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out-dir", default=None, help="mnist, fashion_mnist: default the package's weights/ folder")
    c.add_argument("--data-path", metavar="DIR", default=None, help="folder: the labelled image folder")
    c.add_argument("--labels", default="folders",
                   help="folder: folders (each subfolder a class, the default) or a dataset.json (StyleGAN2-ADA's form)")
    c.add_argument("--size", type=_int_at_least(8), default=64, help="folder: image side in pixels (default 64)")
    c.add_argument("--val-fraction", type=non_negative_float, default=0.05,
                   help="folder: held-out share for the accuracy (default 0.05, as configs/dcgan_faces64.toml; "
                        "a whole number >= 1: that many images)")
    c.add_argument("--batch-size", type=positive, default=128)
    c.add_argument("--out", type=_out_file(".pt"), default=None,
                   help="folder: the weights file (default ./<folder>_classifier_<size>px.pt); its card goes beside "
                        "it as .json")
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(func=commands.train_classifier)
    return p


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def describe_error(exc: BaseException) -> tuple[str, int]:
    """(one-line message, exit status) for an exception that reached the top of the CLI."""
    if isinstance(exc, GanforgeError):
        return _one_line(exc), 2
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)", 130
    if isinstance(exc, OSError):
        what = exc.strerror or _one_line(exc) or type(exc).__name__
        where = f": {exc.filename}" if exc.filename else ""
        hint = ""
        if isinstance(exc, PermissionError):
            hint = "; choose a folder you can write to (e.g. log.out_dir=... or --run-dir / --out)"
        elif exc.errno == 28:  # ENOSPC
            hint = "; free some disk space or write elsewhere (log.out_dir=...)"
        elif isinstance(exc, (NotADirectoryError, FileExistsError)):
            hint = "; a path component is a file, not a folder"
        return f"{what}{where}{hint}", 1
    if isinstance(exc, MemoryError):
        return "out of memory; try a smaller data.batch_size or model", 1
    return f"{type(exc).__name__}: {_one_line(exc)} (run with --debug for the traceback)", 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GANFORGE_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad argument (2, its one line already printed)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.func(args)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001: the one place where every failure becomes one line
        if debug:
            raise
        message, status = describe_error(exc)
        print(f"error: {message}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
