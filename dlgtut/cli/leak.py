"""``python -m dlgtut leak``: reconstruct a private batch from the update a participant shares.

An honest participant computes the update of its private batch (images from files or a
dataset; or sentences, see :mod:`dlgtut.cli.leak_text`); the attacker reconstructs the batch
from that update alone. ``DIR`` receives ``metrics.json`` (MSE, PSNR, SSIM, label accuracy,
how the attack ended), ``reconstruction.npy`` (float32, ``N x C x H x W`` in [0, 1], in the
input's order), ``reconstruction.png``, ``progress.png`` (the paper's figure) and
``progress.gif``. With ``--attack imprint`` or ``trap`` the server is malicious and chooses
the model (:mod:`dlgtut.cli.leak_malicious`).
"""

from __future__ import annotations

import dataclasses

from ..errors import ConfigError
from . import leak_malicious, leak_text
from .common import (
    IMAGE_CLASSES,
    add_device,
    add_fallback,
    add_out,
    check_labels,
    data_dir,
    image_files,
    non_negative_int,
    only_with,
    positive_int,
    prepare_out,
    real,
    run_fields,
    save_figure,
    seed,
    use_agg,
    warn,
    warn_if_failed,
    write_metrics,
)

__all__ = ["add_parser", "run"]

# dlgtut.models.MODEL_NAMES, written out so that parsing the options does not import torch
# (tests/cli/test_leak.py checks that the two agree).
MODEL_NAMES = ("lenet", "lenet-relu", "resnet20", "resnet56")

MIN_SIZE = 3  # SSIM needs at least 3 x 3 pixels
MAX_SIZE = 512


def add_parser(sub) -> None:
    """Register ``leak`` on the ``dlgtut`` parser's subparsers."""
    p = sub.add_parser(
        "leak",
        help="reconstruct private images and labels (or sentences) from a shared gradient",
        description="Deep leakage from gradients: an honest participant computes the gradient "
        "of its private batch; the attacker reconstructs the batch from that gradient alone.",
    )
    src = p.add_argument_group("the private batch (one of --image or --dataset)")
    src.add_argument("--image", nargs="+", metavar="PATH",
                     help="image file(s); centre-cropped and resized, used as is at --size")
    src.add_argument("--label", nargs="+", type=non_negative_int("label"), metavar="N",
                     help="class of each --image (one per image; with --attack imprint or "
                     "trap optional, default 0 for every image)")
    src.add_argument("--dataset", metavar="NAME",
                     help="cifar10, cifar100, mnist, svhn, lfw (downloaded when possible, "
                     "or stop; see --fallback), photos, patches, faces or digits (on disk)")
    src.add_argument("--index", type=non_negative_int("index"), default=None,
                     help="first dataset index; a batch takes the next images with distinct "
                     "labels (default 0)")
    src.add_argument("--batch-size", type=positive_int("batch size", 1024), default=None,
                     help="images in the batch (default 1, or the number of --image files)")
    src.add_argument("--size", type=positive_int("size", MAX_SIZE), default=32,
                     help=f"image side, {MIN_SIZE} to {MAX_SIZE} (32)")
    src.add_argument("--channels", type=int, choices=(1, 3), default=None,
                     help="force grey (1) or colour (3); default: the images' own")
    src.add_argument("--data-dir", type=data_dir, default=None,
                     help="where datasets are downloaded (default $DLGTUT_DATA or ~/.cache)")
    add_fallback(src)
    net = p.add_argument_group("the public model")
    net.add_argument("--model", default=None, choices=MODEL_NAMES,
                     help="network (default: the paper's LeNet)")
    net.add_argument("--num-classes", type=positive_int("number of classes", 100_000),
                     default=None, help="classes of the model, at least 2 (default: the "
                     "dataset's; 100 for --image, as in the paper)")
    net.add_argument("--local-steps", type=positive_int("local steps", 10_000), default=None,
                     help="the participant shares a FedAvg weight change after this many local "
                     "SGD steps instead of a gradient (--attack ig unrolls them)")
    net.add_argument("--local-lr", type=real("--local-lr", low=0, low_open=True, high=100),
                     default=None, help="the participant's local learning rate with "
                     "--local-steps (0.1)")
    atk = p.add_argument_group("the attack")
    atk.add_argument("--attack", choices=("dlg", "idlg", "ig", *leak_malicious.ATTACKS),
                     default="dlg",
                     help="dlg: dlgtut's DLG (default); idlg: iDLG (the original settings with "
                     "the label read off the gradient); ig: Inverting Gradients (cosine, TV "
                     "prior, signed Adam); imprint and trap: a malicious server's model "
                     "(Robbing the Fed; trap weights), read in closed form")
    atk.add_argument("--tv", type=real("--tv", low=0, high=1e6), default=None,
                     help="total-variation weight of --attack ig (default 0.01)")
    atk.add_argument("--paper", action="store_true",
                     help="with --attack dlg: the original code's settings (randn start, joint "
                     "label, torch L-BFGS, plain L2, float32, no stop rule)")
    atk.add_argument("--iterations", type=positive_int("iterations", 1_000_000), default=None,
                     help="optimiser steps (default 300; 1500 for --attack ig)")
    atk.add_argument("--labels", choices=("analytic", "joint"), default=None,
                     help="labels read off the gradient (iDLG, default) or optimised jointly")
    atk.add_argument("--init", choices=("analytic", "grey", "randn", "rand"), default=None,
                     help="dummy start (default analytic: the input read off the gradient in "
                     "closed form, R-GAP, where the model allows it; grey otherwise)")
    atk.add_argument("--optimizer", choices=("lbfgs", "torch-lbfgs", "adam"), default=None)
    atk.add_argument("--distance", choices=("l2", "cosine"), default=None)
    atk.add_argument("--stop-distance", type=real("--stop-distance", low=0, low_open=True),
                     default=None,
                     help="stop when the normalised gradient distance is below this")
    atk.add_argument("--restarts", type=non_negative_int("restarts"), default=None,
                     help="fresh starts after a divergence or stall")
    atk.add_argument("--snapshot-every", type=positive_int("snapshot interval"), default=None,
                     help="record the dummy batch every this many steps (10)")
    atk.add_argument("--seed", type=seed, default=1234,
                     help="seeds the model's weights and the attack (default 1234, the paper's)")
    atk.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device(p)
    leak_malicious.add_options(p)
    leak_text.add_options(p)
    add_out(p, "metrics.json, reconstruction.npy/.png, and progress.png and progress.gif "
               "(optimisation attacks), breach.png (imprint, trap) or reconstruction.txt (text)")
    p.set_defaults(run=run)


def _check(args) -> None:
    """Everything that can be checked from the options alone, before any file is read."""
    text_only = [flag for flag, given in (("--length", args.length is not None),
                 ("--unknowns", args.unknowns is not None), ("--no-refine", args.no_refine))
                 if given]
    if text_only:
        verb = "applies" if len(text_only) == 1 else "apply"
        raise ConfigError(f"{', '.join(text_only)} {verb} to --text only")
    if (args.image is None) == (args.dataset is None):
        raise ConfigError("give either --image or --dataset")
    leak_malicious.check(args)
    only_with(args, {
        "label": (args.image is not None, "with --image; a dataset brings its own labels"),
        "index": (args.dataset is not None, "with --dataset"),
        "data_dir": (args.dataset is not None or args.public_data is not None,
                     "with --dataset or --public-data"),
        "local_lr": (args.local_steps is not None, "with --local-steps"),
        "tv": (args.attack == "ig", "to --attack ig"),
        "paper": (args.attack == "dlg", "to --attack dlg (idlg is the paper's settings already)"),
    })
    if args.attack == "ig":
        dlg_only = ("labels", "init", "optimizer", "distance", "stop_distance", "restarts")
        only_with(args, {name: (False, "to --attack dlg or idlg") for name in dlg_only})
    if args.size < MIN_SIZE:
        raise ConfigError(f"--size must be at least {MIN_SIZE} (SSIM needs 3 x 3 pixels), "
                          f"got {args.size}")
    if args.num_classes is not None and args.num_classes < 2:
        raise ConfigError(f"--num-classes must be at least 2, got {args.num_classes}")
    if args.image is not None:
        malicious = args.attack in leak_malicious.ATTACKS  # labels optional, batches checked
        if args.label is None and not malicious:
            raise ConfigError("--image needs --label (one class per image)")
        if args.label is not None and len(args.label) != len(args.image):
            raise ConfigError(f"{len(args.image)} images but {len(args.label)} labels")
        if args.batch_size not in (None, len(args.image)) and not malicious:
            raise ConfigError(
                f"--batch-size {args.batch_size} but {len(args.image)} --image files given"
            )
    if args.local_steps is not None and args.local_steps > 1 and args.attack != "ig":
        raise ConfigError(
            f"{args.attack} needs a gradient, and {args.local_steps} local steps mix "
            "several; use --attack ig, which unrolls them"
        )


def _private_batch(args):
    """The participant's private batch, from files or a dataset, and a description of it."""
    import torch

    from ..data import load_dataset
    from ..fl import PrivateBatch

    if args.image is not None:
        num_classes = args.num_classes or IMAGE_CLASSES
        batch_images, source = image_files(args.image, size=args.size, channels=args.channels)
        labels = torch.tensor(args.label)
    else:
        data = load_dataset(args.dataset, size=args.size, channels=args.channels,
                            fallback=args.fallback,
                            root=args.data_dir)
        index = args.index or 0
        if index >= len(data):
            raise ConfigError(f"--index must lie in [0, {len(data) - 1}] for {data.name}")
        num_classes = args.num_classes or len(data.classes)
        batch_images, labels, indices = data.batch(index, args.batch_size or 1)
        source = {"dataset": data.name, "requested": args.dataset, "indices": indices,
                  "source": data.source}
    check_labels(labels, num_classes)
    return PrivateBatch(batch_images, labels), source, num_classes


def _attack_config(args):
    """The attack function and its configuration from the ``leak`` options."""
    from ..attacks import DLGConfig, IGConfig, dlg, inverting_gradients

    common = {"progress": not args.quiet}
    for name in ("iterations", "snapshot_every"):
        if getattr(args, name) is not None:
            common[name] = getattr(args, name)
    if args.attack == "ig":
        changes = {**common, "seed": args.seed}
        if args.tv is not None:
            changes["tv_weight"] = args.tv
        return IGConfig(**changes), inverting_gradients
    # The paper's settings draw their start where the original script does: after the model's
    # initialisation from the same seed (DLGConfig.after_paper_init).
    if args.attack == "idlg":
        base = DLGConfig.paper(labels="analytic", seed=args.seed)
    else:
        base = DLGConfig.paper(seed=args.seed) if args.paper else DLGConfig(seed=args.seed)
    changes = dict(common)
    for name in ("labels", "init", "optimizer", "distance", "stop_distance", "restarts"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    return base.replace(**changes), dlg


def run(args) -> int:
    """Run ``leak``; return the exit status."""
    if args.text is not None:
        return leak_text.run(args)
    _check(args)
    if args.attack in leak_malicious.ATTACKS:
        return leak_malicious.run(args)
    import numpy as np

    from .. import viz
    from ..fl import Participant
    from ..metrics import score
    from ..models import build_model

    model_name = args.model or "lenet"
    local_lr = 0.1 if args.local_lr is None else args.local_lr
    config, attack = _attack_config(args)
    out = prepare_out(args.out)
    batch, source, num_classes = _private_batch(args)
    c, h, _ = batch.images.shape[1:]
    model = build_model(model_name, in_channels=c, num_classes=num_classes,
                        image_size=h, seed=args.seed, device=args.device)
    participant = Participant(model)  # computes on the model's device
    if args.local_steps is None:
        update = participant.fedsgd(batch)  # the only thing the attacker will see
    else:
        update = participant.fedavg(batch, local_steps=args.local_steps, lr=local_lr)
    rec = attack(update, config)

    scores = score(rec.images, rec.labels, batch.images, batch.labels)
    order = scores.assignment  # reconstruction i that matches input image i
    np.save(out / "reconstruction.npy", rec.images[order].cpu().numpy().astype(np.float32))
    write_metrics(out, {
        **scores.as_dict(),
        **run_fields(rec),
        "identifiable": rec.identifiable,
        "warnings": list(rec.warnings),
        "batch_size": len(batch),
        "true_labels": batch.labels.tolist(),
        "recovered_labels": rec.labels[order].tolist(),
        "attack": args.attack,
        "local_steps": args.local_steps,
        "local_lr": local_lr if args.local_steps is not None else None,
        "model": model_name,
        "num_classes": num_classes,
        "seed": args.seed,
        "input": source,
        "config": dataclasses.asdict(config),
    }, device=args.device)

    use_agg()
    fig = viz.plot_comparison(batch.images, rec.images, true_labels=batch.labels,
                              pred_labels=rec.labels, scores=scores)
    save_figure(fig, out / "reconstruction.png")
    # The attacker's slots are in label order; slot order[i] holds its guess for input i.
    in_slot_order = batch.images[np.argsort(order)]
    save_figure(viz.plot_progress(rec.history, batch.images, index=order[0]),
                out / "progress.png")
    viz.save_gif(rec.history, out / "progress.gif", truth=in_slot_order)

    print(
        f"{rec.status}: {len(batch)} image(s) in {rec.iterations} steps ({rec.seconds:.1f} s); "
        f"MSE {scores.mse:.2e}, PSNR {scores.psnr:.1f} dB, SSIM {scores.ssim:.3f}, "
        f"labels {scores.label_accuracy:.0%} right. Outputs in {out}"
    )
    for message in rec.warnings:
        warn(message)
    warn_if_failed(rec)
    return 0
