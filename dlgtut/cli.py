"""The command line: ``python -m dlgtut leak ...`` (and, as the book grows, more attacks).

Bad input ends in one line on stderr and exit status 2; nothing deep inside torch is shown.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import DlgtutError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``dlgtut leak: error: ...``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _positive(kind: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{kind} must be an integer, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{kind} must be at least 1, got {value}")
        return value

    return parse


def _add_leak(sub) -> None:
    from .models import MODEL_NAMES

    p = sub.add_parser(
        "leak",
        help="reconstruct private images and labels (or sentences) from a shared gradient",
        description="Deep leakage from gradients: an honest participant computes the gradient "
        "of its private batch; the attacker reconstructs the batch from that gradient alone.",
    )
    src = p.add_argument_group("the private batch (one of --image or --dataset)")
    src.add_argument("--image", nargs="+", type=Path, metavar="PATH",
                     help="image file(s); centre-cropped and resized, used as is at --size")
    src.add_argument("--label", nargs="+", type=int, metavar="N",
                     help="class of each --image (one per image)")
    src.add_argument("--dataset", metavar="NAME",
                     help="cifar10, cifar100, mnist, svhn, lfw (downloaded when possible, "
                     "else an offline fallback), photos, faces or digits")
    src.add_argument("--index", type=int, default=0,
                     help="first dataset index; a batch takes the next images with distinct "
                     "labels (default 0)")
    src.add_argument("--batch-size", type=_positive("batch size"), default=None,
                     help="images in the batch (default 1, or the number of --image files)")
    src.add_argument("--size", type=_positive("size"), default=32, help="image side (32)")
    src.add_argument("--channels", type=int, choices=(1, 3), default=None,
                     help="force grey (1) or colour (3); default: the images' own")
    src.add_argument("--data-dir", type=Path, default=None,
                     help="where datasets are downloaded (default $DLGTUT_DATA or ~/.cache)")
    net = p.add_argument_group("the public model")
    net.add_argument("--model", default=None, choices=MODEL_NAMES,
                     help="network (default: the paper's LeNet)")
    net.add_argument("--num-classes", type=_positive("number of classes"), default=None,
                     help="classes of the model (default: the dataset's; 100 for --image, as "
                     "in the paper)")
    net.add_argument("--local-steps", type=_positive("local steps"), default=None,
                     help="the participant shares a FedAvg weight change after this many local "
                     "SGD steps instead of a gradient (--attack ig unrolls them)")
    net.add_argument("--local-lr", type=float, default=None,
                     help="the participant's local learning rate with --local-steps (0.1)")
    atk = p.add_argument_group("the attack")
    atk.add_argument("--attack", choices=("dlg", "idlg", "ig"), default="dlg",
                     help="dlg: dlgtut's DLG (default); idlg: iDLG (the original settings with "
                     "the label read off the gradient); ig: Inverting Gradients (cosine, TV "
                     "prior, signed Adam)")
    atk.add_argument("--tv", type=float, default=None,
                     help="total-variation weight of --attack ig (default 0.01)")
    atk.add_argument("--paper", action="store_true",
                     help="the original code's settings (randn start, joint label, torch "
                     "L-BFGS, plain L2, float32, no stop rule)")
    atk.add_argument("--iterations", type=_positive("iterations"), default=None,
                     help="optimiser steps (default 300; 1500 for --attack ig)")
    atk.add_argument("--labels", choices=("analytic", "joint"), default=None,
                     help="labels read off the gradient (iDLG, default) or optimised jointly")
    atk.add_argument("--init", choices=("grey", "randn", "rand"), default=None,
                     help="dummy start (default grey)")
    atk.add_argument("--optimizer", choices=("lbfgs", "torch-lbfgs", "adam"), default=None)
    atk.add_argument("--distance", choices=("l2", "cosine"), default=None)
    atk.add_argument("--stop-distance", type=float, default=None,
                     help="stop when the normalised gradient distance is below this")
    atk.add_argument("--restarts", type=int, default=None,
                     help="fresh starts after a divergence or stall")
    atk.add_argument("--snapshot-every", type=_positive("snapshot interval"), default=10)
    atk.add_argument("--seed", type=int, default=1234,
                     help="seeds the model's weights and the attack (default 1234, the paper's)")
    atk.add_argument("--quiet", action="store_true", help="no progress bar")
    from . import cli_text

    cli_text.add_options(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output folder: metrics.json, reconstruction.npy/.png, progress.png, "
                   "and progress.gif (images) or reconstruction.txt (text)")
    p.set_defaults(run=_run_leak)


def build_parser() -> argparse.ArgumentParser:
    """The ``dlgtut`` argument parser."""
    parser = _Parser(prog="dlgtut", description="Attacks on federated learning, from the book.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_leak(sub)
    from . import cli_defend, cli_inversion, cli_membership, cli_property

    cli_membership.add_parser(sub)
    cli_property.add_parser(sub)
    cli_inversion.add_parsers(sub)
    cli_defend.add_parser(sub)
    return parser


def _private_batch(args):
    """The participant's private batch, from files or a dataset, and a description of it."""
    import torch

    from .data import load_dataset, load_image
    from .errors import ConfigError
    from .fl import PrivateBatch

    if (args.image is None) == (args.dataset is None):
        raise ConfigError("give either --image or --dataset")
    if args.image is not None:
        if args.label is None:
            raise ConfigError("--image needs --label (one class per image)")
        if len(args.label) != len(args.image):
            raise ConfigError(f"{len(args.image)} images but {len(args.label)} labels")
        if args.batch_size not in (None, len(args.image)):
            raise ConfigError(
                f"--batch-size {args.batch_size} but {len(args.image)} --image files given"
            )
        num_classes = args.num_classes or 100
        images = [load_image(p, size=args.size, channels=args.channels) for p in args.image]
        shapes = {tuple(im.shape[1:]) for im in images}
        if len(shapes) > 1:
            raise ConfigError("the images differ in channels; pass --channels 1 or 3")
        labels = torch.tensor(args.label)
        source = {"images": [str(p) for p in args.image]}
        batch_images = torch.cat(images)
    else:
        if args.label is not None:
            raise ConfigError("--label goes with --image; a dataset brings its own labels")
        data = load_dataset(args.dataset, size=args.size, channels=args.channels,
                            root=args.data_dir)
        if not 0 <= args.index < len(data):
            raise ConfigError(f"--index must lie in [0, {len(data) - 1}] for {data.name}")
        num_classes = args.num_classes or len(data.classes)
        batch_images, labels, indices = data.batch(args.index, args.batch_size or 1)
        source = {"dataset": data.name, "requested": args.dataset, "indices": indices,
                  "source": data.source}
    bad = [int(v) for v in labels if not 0 <= int(v) < num_classes]
    if bad:
        raise ConfigError(
            f"label {bad[0]} is outside the model's {num_classes} classes "
            f"(0..{num_classes - 1}); pass --num-classes"
        )
    return PrivateBatch(batch_images, labels), source, num_classes


def _attack_config(args):
    """The attack function and its configuration from the ``leak`` options."""
    from .attacks import DLGConfig, IGConfig, dlg, inverting_gradients
    from .errors import ConfigError

    common = {"snapshot_every": args.snapshot_every, "progress": not args.quiet}
    if args.iterations is not None:
        common["iterations"] = args.iterations
    dlg_only = ("labels", "init", "optimizer", "distance", "stop_distance", "restarts")
    if args.attack == "ig":
        given = [f"--{n.replace('_', '-')}" for n in dlg_only if getattr(args, n) is not None]
        if args.paper or given:
            raise ConfigError(f"{' '.join(given) or '--paper'} applies to dlg/idlg, not ig")
        changes = {**common, "seed": args.seed}
        if args.tv is not None:
            if args.tv < 0:
                raise ConfigError(f"--tv must be >= 0, got {args.tv}")
            changes["tv_weight"] = args.tv
        return IGConfig(**changes), inverting_gradients
    if args.tv is not None:
        raise ConfigError("--tv applies to --attack ig")
    if args.attack == "idlg":
        base = DLGConfig.paper(labels="analytic")
    else:
        base = DLGConfig.paper() if args.paper else DLGConfig(seed=args.seed)
    changes = dict(common)
    for name in dlg_only:
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    return base.replace(**changes), dlg


def run_fields(rec) -> dict:
    """How an attack run ended, as ``metrics.json`` records it (image and text modes alike)."""
    return {
        "iterations": rec.iterations,
        "seconds": round(rec.seconds, 3),
        "converged": rec.converged,
        "status": rec.status,
        "message": rec.message,
        "restarts": rec.restarts,
        "gradient_distance": rec.distance,
    }


def warn_if_failed(rec) -> bool:
    """Print a one-line warning when the attack diverged or stalled; True if it did."""
    if rec.status in ("diverged", "stalled"):
        print(f"dlgtut: warning: the attack {rec.status}: {rec.message}", file=sys.stderr)
        return True
    return False


def _run_leak(args) -> int:
    import dataclasses

    import numpy as np
    import torch

    from . import viz
    from .errors import ConfigError
    from .fl import Participant
    from .metrics import score
    from .models import build_model

    if args.text is not None:
        from . import cli_text

        return cli_text.run(args)
    text_only = [flag for flag, given in (("--length", args.length is not None),
                 ("--unknowns", args.unknowns is not None), ("--no-refine", args.no_refine))
                 if given]
    if text_only:
        verb = "applies" if len(text_only) == 1 else "apply"
        raise ConfigError(f"{', '.join(text_only)} {verb} to --text only")
    args.model = args.model or "lenet"
    if args.local_lr is None:
        args.local_lr = 0.1
    batch, source, num_classes = _private_batch(args)
    config, attack = _attack_config(args)
    if not args.local_lr > 0:
        raise ConfigError(f"--local-lr must be positive, got {args.local_lr}")
    args.out.mkdir(parents=True, exist_ok=True)
    c, h, _ = batch.images.shape[1:]
    model = build_model(args.model, in_channels=c, num_classes=num_classes,
                        image_size=h, seed=args.seed)
    participant = Participant(model)
    if args.local_steps is None:
        update = participant.fedsgd(batch)  # the only thing the attacker will see
    else:
        update = participant.fedavg(batch, local_steps=args.local_steps, lr=args.local_lr)
        if args.local_steps > 1 and args.attack != "ig":
            raise ConfigError(
                f"{args.attack} needs a gradient, and {args.local_steps} local steps mix "
                "several; use --attack ig, which unrolls them"
            )
    rec = attack(update, config)

    scores = score(rec.images, rec.labels, batch.images, batch.labels)
    order = scores.assignment  # reconstruction i that matches input image i
    reconstruction = rec.images[order].numpy().astype(np.float32)
    np.save(args.out / "reconstruction.npy", reconstruction)
    metrics = {
        **scores.as_dict(),
        **run_fields(rec),
        "identifiable": rec.identifiable,
        "batch_size": len(batch),
        "true_labels": batch.labels.tolist(),
        "recovered_labels": rec.labels[order].tolist(),
        "attack": args.attack,
        "local_steps": args.local_steps,
        "model": args.model,
        "num_classes": num_classes,
        "seed": args.seed,
        "input": source,
        "config": dataclasses.asdict(config),
        "torch": torch.__version__,
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = viz.plot_comparison(batch.images, rec.images, true_labels=batch.labels,
                              pred_labels=rec.labels, scores=scores)
    fig.savefig(args.out / "reconstruction.png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    # The attacker's slots are in label order; slot order[i] holds its guess for input i.
    in_slot_order = batch.images[np.argsort(order)]
    fig = viz.plot_progress(rec.history, batch.images, index=order[0])
    fig.savefig(args.out / "progress.png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    viz.save_gif(rec.history, args.out / "progress.gif", truth=in_slot_order)

    print(
        f"{rec.status}: {len(batch)} image(s) in {rec.iterations} steps ({rec.seconds:.1f} s); "
        f"MSE {scores.mse:.2e}, PSNR {scores.psnr:.1f} dB, SSIM {scores.ssim:.3f}, "
        f"labels {scores.label_accuracy:.0%} right. Outputs in {args.out}"
    )
    if not warn_if_failed(rec) and not rec.identifiable:
        print(f"dlgtut: warning: {rec.message}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m dlgtut`` and the ``dlgtut`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except DlgtutError as err:
        print(f"dlgtut {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dlgtut: interrupted", file=sys.stderr)
        return 130
