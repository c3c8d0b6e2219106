"""The ``python -m dlgtut membership`` command: train a target, attack it, score the attack.

The candidates are ``2 * --train-size`` records of a dataset; the target trains on a random
half of them. The attacker queries the target on every candidate and scores it with the loss
threshold (Yeom et al.), shadow models and an attack classifier (Shokri et al.) or LiRA
(Carlini et al.). ``DIR`` receives ``metrics.json``, ``roc.png`` (log-log), ``scores.png``
(members' and non-members' scores) and ``scores.npz``.
"""

from __future__ import annotations

import time

from ..errors import ConfigError
from .common import (
    add_device,
    add_fallback,
    add_out,
    data_dir,
    only_with,
    positive_int,
    prepare_out,
    real,
    save_figure,
    seed,
    use_agg,
    write_metrics,
)

__all__ = ["add_parser", "run"]

ATTACKS = ("loss", "shadow", "lira")
DATASETS = ("digits", "faces", "mnist", "cifar10", "cifar100")
_NATIVE_SIZE = {"digits": 8, "faces": 25}  # the others are resized to 16 x 16 (fast MLPs)


def add_parser(sub) -> None:
    """Register the ``membership`` subcommand on the ``dlgtut`` parser's subparsers."""
    p = sub.add_parser(
        "membership",
        help="infer which records a model was trained on (loss, shadow models, LiRA)",
        description="Membership inference: a target model trains on a random half of the "
        "candidates; the attacker queries it on all of them and scores each one. Reports the "
        "ROC curve (log-log), AUC and TPR at 0.1 %% and 1 %% FPR.",
    )
    p.add_argument("--attack", choices=ATTACKS, default="lira",
                   help="loss threshold (Yeom), shadow models + attack classifier (Shokri) or "
                   "the likelihood-ratio attack (Carlini); default lira")
    data = p.add_argument_group("the data")
    data.add_argument("--dataset", choices=DATASETS, default="digits",
                      help="digits and faces ship offline; mnist and cifar10/100 are downloaded "
                      "when possible, else replaced by digits or photos (default digits)")
    data.add_argument("--size", type=positive_int("size", 256), default=None,
                      help="image side (default 8 for digits, 25 for faces, 16 otherwise)")
    data.add_argument("--train-size", type=positive_int("train size", 1_000_000), default=None,
                      help="the target's training set; there are twice as many candidates "
                      "(default 200, or half the dataset if smaller)")
    data.add_argument("--data-dir", type=data_dir, default=None,
                      help="where mnist and cifar are downloaded (default $DLGTUT_DATA or "
                      "~/.cache)")
    add_fallback(data)
    model = p.add_argument_group("the target's training recipe (the shadow models copy it)")
    model.add_argument("--epochs", type=positive_int("epochs", 100_000), default=100,
                       help="training epochs (default 100: overfit)")
    model.add_argument("--hidden", type=positive_int("hidden width", 100_000), default=256,
                       help="width of the MLP's hidden layer (default 256)")
    model.add_argument("--lr", type=real("--lr", low=0, low_open=True, high=10), default=1e-3,
                       help="Adam's learning rate (1e-3)")
    model.add_argument("--weight-decay", type=real("--weight-decay", low=0, high=100),
                       default=0.0,
                       help="L2 penalty, a regulariser (default 0)")
    atk = p.add_argument_group("the attack")
    atk.add_argument("--shadows", type=positive_int("number of shadow models", 10_000),
                     default=None,
                     help="shadow models for --attack shadow or lira (default 64)")
    atk.add_argument("--lira-variant", choices=("online", "offline"), default=None,
                     help="LiRA with IN and OUT shadows (online, default) or OUT only")
    atk.add_argument("--variance", choices=("global", "per-example"), default=None,
                     help="LiRA's variance estimate (default global)")
    p.add_argument("--seed", type=seed, default=0, help="seeds the data, target and shadows (0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device(p)
    add_out(p, "metrics.json, roc.png, scores.png, scores.npz")
    p.set_defaults(run=run)


def _check(args) -> None:
    only_with(args, {
        "shadows": (args.attack != "loss", "to --attack shadow or lira; the loss attack needs "
                    "none"),
        "lira_variant": (args.attack == "lira", "to --attack lira"),
        "variance": (args.attack == "lira", "to --attack lira"),
        "data_dir": (args.dataset not in _NATIVE_SIZE, "to the datasets that are downloaded "
                     "(mnist, cifar10, cifar100)"),
    })
    if args.shadows is not None and args.shadows < 2:
        raise ConfigError(f"--shadows must be at least 2, got {args.shadows}")


def _candidates(args):
    """``2 * train_size`` records drawn at random (seeded) from the dataset."""
    import torch

    from ..data import load_dataset
    from ..errors import DataError

    size = args.size or _NATIVE_SIZE.get(args.dataset, 16)
    # A downloaded dataset is cut to the candidates before it is converted (CIFAR is 600 MB).
    limit = None if args.dataset in _NATIVE_SIZE else 2 * (args.train_size or 200)
    data = load_dataset(args.dataset, size=size, root=args.data_dir, limit=limit,
                        fallback=args.fallback)
    if len(data) < 4 * len(data.classes):  # the offline stand-in for CIFAR: one photo per class
        raise DataError(f"{data.name} has {len(data)} images of {len(data.classes)} classes, too "
                        "few to train a classifier on; use --dataset digits or faces")
    train_size = args.train_size or min(200, len(data) // 2)
    if 2 * train_size > len(data):
        raise ConfigError(f"--train-size {train_size} needs {2 * train_size} candidates; "
                          f"{data.name} has {len(data)} (use --train-size {len(data) // 2} or "
                          "less)")
    gen = torch.Generator().manual_seed(args.seed)
    return data.subset(torch.randperm(len(data), generator=gen)[: 2 * train_size]), train_size


def run(args) -> int:
    """Run ``membership``; return the exit status."""
    _check(args)
    import numpy as np

    from ..attacks.membership import (
        Recipe,
        lira_attack,
        loss_attack,
        plot_score_histogram,
        shokri_attack,
        train_shadows,
        train_target,
    )
    from ..roc import percent, plot_roc, roc_summary

    out = prepare_out(args.out)
    started = time.perf_counter()
    candidates, train_size = _candidates(args)
    recipe = Recipe(hidden=(args.hidden,), epochs=args.epochs, lr=args.lr,
                    weight_decay=args.weight_decay)
    target = train_target(candidates, recipe, seed=args.seed, device=args.device)
    logits, labels = target.logits[recipe.epochs], candidates.labels.numpy()
    n_shadows = args.shadows or 64
    variant, variance = args.lira_variant or "online", args.variance or "global"
    if args.attack == "loss":
        scores, what = loss_attack(logits, labels), "minus the loss"
        name = "loss threshold"
    else:
        shadows = train_shadows(candidates, recipe, n_shadows, seed=args.seed + 1,
                                progress=not args.quiet, device=args.device)
        if args.attack == "shadow":
            scores, what = shokri_attack(logits, labels, shadows, seed=args.seed), "P(member)"
            name = f"shadow models ({n_shadows})"
        else:
            scores = lira_attack(logits, labels, shadows, variant=variant, variance=variance)
            what = "log likelihood ratio" if variant == "online" else "z-score against OUT"
            name = f"LiRA {variant} ({n_shadows} shadows)"
    summary = roc_summary(scores, target.members)
    train_acc, test_acc = target.accuracy(labels)
    seconds = time.perf_counter() - started

    np.savez(out / "scores.npz", scores=scores, members=target.members, labels=labels)
    config = {
        "attack": args.attack,
        "dataset": args.dataset,
        "loaded": candidates.name,
        "source": candidates.source,
        "size": int(candidates.images.shape[-1]),
        "train_size": train_size,
        "candidates": len(candidates),
        "epochs": args.epochs,
        "hidden": args.hidden,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "seed": args.seed,
    }
    if args.attack != "loss":
        config["shadows"] = n_shadows
    if args.attack == "lira":
        config.update(lira_variant=variant, variance=variance)
    metrics = {
        **summary.as_dict(),
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "generalisation_gap": train_acc - test_acc,
        "fpr_resolution": 1 / summary.negatives,  # one false positive; lower FPRs read as 0
        "attack": name,
        "seconds": round(seconds, 3),
        "config": config,
    }
    write_metrics(out, metrics, device=args.device)

    use_agg()
    title = f"{name} on {candidates.name}"
    save_figure(plot_roc({name: summary}, title=title), out / "roc.png")
    fig = plot_score_histogram(scores, target.members, xlabel=f"score ({what})",
                               title=f"{title}: train {train_acc:.0%}, test {test_acc:.0%}")
    save_figure(fig, out / "scores.png")
    print(f"{name}: AUC {summary.auc:.3f}, TPR {percent(summary.tpr_at_1pct_fpr)} at 1 % FPR "
          f"and {percent(summary.tpr_at_0_1pct_fpr)} at 0.1 % FPR ({summary.negatives} "
          f"non-members; 1,000 measure 0.1 %) on {len(candidates)} candidates "
          f"(target: train {train_acc:.1%}, test {test_acc:.1%}; {seconds:.1f} s). "
          f"Outputs in {out}")
    return 0
