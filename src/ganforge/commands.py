"""What each ``ganforge`` command does with its parsed arguments (:mod:`ganforge.cli` parses them):
each function calls the modules that do the work, prints what it wrote, and returns the exit status."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import GanforgeError


def train(args) -> int:
    from .choices import load_config
    from .training.run import resume, train

    if args.resume:
        if args.config and "=" in args.config:
            args.overrides.insert(0, args.config)
        elif args.config:
            raise GanforgeError("with --resume give only overrides (the run's own config is used)")
        run_dir, trainer, status = resume(args.resume, args.overrides, progress=False if args.no_progress else None)
    else:
        if args.config and "=" in args.config and not Path(args.config).is_file():
            args.overrides.insert(0, args.config)  # only overrides: they apply to the defaults
            args.config = None
        elif not args.config:
            raise GanforgeError("give a preset name or a config file, e.g. ganforge train dcgan_mnist "
                                "(ganforge presets lists the presets)")
        cfg = load_config(args.config, args.overrides)
        run_dir, trainer, status = train(cfg, args.run_dir, progress=False if args.no_progress else None)
    from .runs import RunDir
    from .training import distributed

    del trainer  # a DDP-wrapped model must go before its process group
    distributed.teardown()
    if run_dir is None:  # a data-parallel rank other than 0: rank 0 reports
        return 0
    print(f"run directory: {run_dir}")
    samples = RunDir(run_dir).sample_grids()
    if samples:
        print(f"last samples: {samples[-1]}")
    return {"finished": 0, "interrupted": 130}.get(status, 0)


def presets(args) -> int:
    from .presets import listing

    print(listing())
    return 0


def zoo(args) -> int:
    from .zoo import listing

    print(listing())
    return 0


def sample(args) -> int:
    from .sampling import sample_to_file

    out = sample_to_file(args.run, args.out, n=args.n, seed=args.seed, nrow=args.nrow, label=args.label)
    print(f"wrote {out}")
    return 0


def bench(args) -> int:
    from .bench import run_bench

    run_bench(args.config, args.overrides, steps=args.steps, warmup=args.warmup, repeats=args.repeats,
              precisions=args.precision, peak_size=args.peak_size, peak_repeats=args.peak_repeats, json_out=args.json)
    return 0


def evaluate(args) -> int:
    from . import applications  # noqa: F401  registers what the applications add to ganforge eval
    from .evaluation import format_result
    from .evaluation.run import run_eval

    result = run_eval(args.source, args.metrics, n=args.n, seed=args.seed, data=args.data,
                      baseline=args.real_baseline, json_out=args.json, progress=not args.no_progress,
                      inception_weights=args.inception_weights, features=args.features, device=args.device)
    print(format_result(result))
    return 0


def interpolate(args) -> int:
    from .sampling import interpolate_to_file

    morph = tuple(args.morph) if args.morph else None
    out = interpolate_to_file(args.run, args.out, steps=args.steps, rows=args.rows, seed=args.seed,
                              method="linear" if args.linear else "slerp", label=args.label, morph=morph)
    print(f"wrote {out}")
    return 0


def report(args) -> int:
    if args.html:
        from .report_html import html_report

        if args.gif:
            raise GanforgeError("--gif is for the report without --html (the HTML page inlines the GIF)")
        print(f"wrote {html_report(args.run, args.out, baseline=args.baseline)}")
        return 0
    if args.out or args.baseline:
        raise GanforgeError(f"{'--out' if args.out else '--baseline'} is for the HTML report; add --html")
    if len(args.run) > 1:
        raise GanforgeError("several runs are compared in the HTML report; add --html")
    from .report import loss_curves, training_gif

    print(f"wrote {training_gif(args.run[0], args.gif)}")
    print(f"wrote {loss_curves(args.run[0])}")
    return 0


def export(args) -> int:
    from .export import export_generator

    out, meta = export_generator(args.run, args.format, args.out)
    print(f"wrote {out} and {meta}")
    return 0


def train_classifier(args) -> int:
    folder_only = [flag for flag, given in (("--data-path", args.data_path), ("--out", args.out)) if given]
    if args.data != "folder":
        if folder_only:
            raise GanforgeError(f"{folder_only[0]} is for --data folder; the {args.data} classifier goes to --out-dir")
        from .training.classifier import train_classifier

        card = train_classifier(args.data, epochs=args.epochs, seed=args.seed, out_dir=args.out_dir,
                                batch_size=args.batch_size)
        print(f"test accuracy {card['test_accuracy']:.4f}, sha256 {card['sha256']}")
        return 0
    if args.out_dir:
        raise GanforgeError("--out-dir is for the mnist / fashion_mnist classifiers; give a folder's classifier --out FILE.pt")
    if not args.data_path:
        raise GanforgeError("--data folder needs --data-path DIR (a labelled image folder)")
    from .training.folder_classifier import train_folder_classifier

    card = train_folder_classifier(args.data_path, labels=args.labels, size=args.size, out=args.out,
                                   epochs=args.epochs, seed=args.seed, batch_size=args.batch_size,
                                   val_fraction=args.val_fraction, progress=not args.no_progress)
    print(f"held-out accuracy {card['val_accuracy']:.4f} on {card['n_val']} images, sha256 {card['sha256']}")
    print(f"wrote {card['weights']} and {card['card']}")
    return 0


def anomaly(args) -> int:
    from .applications import anomaly

    if args.action == "fit":
        r = anomaly.fit_encoder(args.run, steps=args.steps, kimg=args.kimg, batch_size=args.batch_size, lr=args.lr,
                                kappa=args.kappa, seed=args.seed, device=args.device, progress=not args.no_progress)
        if r["status"] == "already finished":
            print(f"{r['encoder']} is already fitted ({r['step']} steps); extend it with --steps N")
            return 0
        print(f"step {r['step']}: loss {r.get('loss', float('nan')):.4f} (image {r.get('image_residual', float('nan')):.4f}, "
              f"features {r.get('feature_residual', float('nan')):.4f}); wrote {r['encoder']}")
        if r["status"] == "interrupted":
            print(f"interrupted: continue with: ganforge anomaly fit {args.run}", file=sys.stderr)
            return 130
        return 0
    if not args.images:
        raise GanforgeError("ganforge anomaly score needs --images (test, a folder, an image file or an .npz)")
    r = anomaly.score_images(args.run, args.images, out=args.out, grid=args.grid, top=args.top, device=args.device)
    print(f"scored {r['n']} images (mean score {r['mean_score']:.4f}); wrote {r['csv']}" +
          (f" and {r['grid']}" if "grid" in r else ""))
    if "auroc" in r:
        print(f"AUROC {r['auroc']:.4f} with class(es) {r['anomaly_classes']} as anomalies "
              f"(image residual alone {r['auroc_image_residual']:.4f}, features alone {r['auroc_feature_residual']:.4f})")
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(r, indent=2) + "\n")
    return 0


def inpaint(args) -> int:
    from .applications.inpaint import inpaint_to_file

    r = inpaint_to_file(args.run, args.image, args.mask, out=args.out, steps=args.steps, restarts=args.restarts,
                        lr=args.lr, prior_weight=args.prior_weight, seed=args.seed, device=args.device)
    for row in r["images"]:
        label = f", class {row['label']}" if "label" in row else ""
        print(f"{row['image']}: masked-region error (MSE, pixels in [0, 1]) {row['error_random']:.4f} with a random z "
              f"-> {row['error_after']:.4f} after {r['steps']} steps{label}")
    print(f"wrote {r['out']} (rows: masked input, completion, original)")
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(r, indent=2) + "\n")
    return 0
