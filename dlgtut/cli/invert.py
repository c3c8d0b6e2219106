"""``python -m dlgtut invert``: model inversion with MI-Face (Fredrikson et al. 2015).

Trains a target MLP and an independent evaluation classifier on two halves of a real dataset,
inverts the target class by class and judges the inversions. ``DIR`` receives
``metrics.json``, ``inversions.png`` and ``inversions.npy``.
"""

from __future__ import annotations

from ..errors import ConfigError
from .common import (
    add_device,
    add_fallback,
    add_out,
    data_dir,
    non_negative_int,
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


def add_parser(sub) -> None:
    """Register ``invert`` on the ``dlgtut`` parser's subparsers."""
    p = sub.add_parser(
        "invert",
        help="recover a representative of each class from a trained classifier (MI-Face)",
        description="Model inversion: gradient descent on a class's confidence, from a blank "
        "image, with a total-variation prior. The inversions are judged by an independent "
        "classifier trained on the other half of the data.",
    )
    p.add_argument("--dataset", choices=("digits", "faces", "lfw"), default="digits",
                   help="digits (10 classes) and faces (LFW crops: face or not) ship offline; "
                   "lfw (people) is downloaded when possible, else replaced by faces")
    p.add_argument("--class", dest="classes", type=non_negative_int("class"), nargs="+",
                   metavar="K", default=None, help="classes to invert (default: all)")
    p.add_argument("--identities", type=positive_int("identities", 10_000), default=None,
                   help="with --dataset lfw: people kept, those with most photos (default 5)")
    p.add_argument("--steps", type=positive_int("steps", 1_000_000), default=300,
                   help="gradient steps at most (default 300)")
    p.add_argument("--restarts", type=positive_int("restarts", 1000), default=1,
                   help="inversions per class; all but the first start from a noisy blank")
    p.add_argument("--tv", type=real("--tv", low=0, high=1e6), default=0.005,
                   help="weight of the total-variation prior (default 0.005)")
    p.add_argument("--start", type=real("--start", low=0, high=1), default=None,
                   help="grey level of the blank start (default 0 for digits, 0.5 for photos)")
    p.add_argument("--seed", type=seed, default=0, help="seeds the split and the models (0)")
    p.add_argument("--data-dir", type=data_dir, default=None,
                   help="where lfw is downloaded (default $DLGTUT_DATA or ~/.cache)")
    add_fallback(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device(p)
    add_out(p, "metrics.json, inversions.png, inversions.npy")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``invert``; return the exit status."""
    only_with(args, {
        "identities": (args.dataset == "lfw", "with --dataset lfw"),
        "data_dir": (args.dataset == "lfw", "with --dataset lfw"),
    })
    if args.identities is not None and args.identities < 2:
        raise ConfigError(f"--identities must be at least 2, got {args.identities}")
    import numpy as np
    import torch

    from ..attacks.inversion import (
        inversion_case,
        inversion_data,
        mi_face,
        plot_inversions,
        score_inversion,
    )
    from ..training import predict_logits

    out = prepare_out(args.out)
    data = inversion_data(args.dataset, identities=args.identities or 5, root=args.data_dir,
                          fallback=args.fallback)
    num_classes = len(data.classes)
    classes = list(range(num_classes)) if args.classes is None else args.classes
    bad = [c for c in classes if not 0 <= c < num_classes]
    if bad:  # checked before the two models are trained
        raise ConfigError(f"class {bad[0]} is not a class of {data.name} (0..{num_classes - 1})")
    case = inversion_case(data, seed=args.seed, device=args.device)
    start = args.start if args.start is not None else case.blank
    inv = mi_face(case.target, classes, case.input_shape, steps=args.steps,
                  restarts=args.restarts, tv_weight=args.tv, start=start, seed=args.seed,
                  progress=not args.quiet)
    scores = score_inversion(inv.images, inv.classes, case.evaluator, case.means)
    np.save(out / "inversions.npy", inv.images.numpy().astype(np.float32))
    write_metrics(out, {
        **scores.as_dict(),
        "dataset": case.data.name,
        "requested": args.dataset,
        "source": case.data.source,
        "classes": [case.data.classes[c] for c in classes],
        "target_classes": inv.classes.tolist(),
        "target_confidence": inv.confidence.tolist(),
        "target_accuracy": case.target_accuracy,
        "evaluator_accuracy": case.evaluator_accuracy,
        "steps": inv.steps,
        "seconds": round(inv.seconds, 3),
        "config": {"steps": args.steps, "restarts": args.restarts, "tv_weight": args.tv,
                   "start": start},
        "seed": args.seed,
    }, device=args.device)
    x, y = case.data.images[case.eval_split], case.data.labels[case.eval_split]
    examples = torch.stack([x[y == k][0] for k in range(case.num_classes)])
    predicted = predict_logits(case.evaluator, inv.images).argmax(-1)
    use_agg()
    fig = plot_inversions(inv.images, inv.classes, case.means, examples=examples,
                          class_names=case.data.classes, predicted=predicted,
                          title=f"MI-Face on {case.data.name}: real (top) and inverted (bottom)")
    save_figure(fig, out / "inversions.png")
    print(
        f"inverted {len(classes)} class(es) of {case.data.name} in {inv.steps} steps "
        f"({inv.seconds:.1f} s): evaluation classifier agrees on {scores.eval_accuracy:.0%} "
        f"(chance {scores.chance:.0%}), correlation with the class mean "
        f"{scores.correlation:.2f}. Outputs in {out}"
    )
    return 0
