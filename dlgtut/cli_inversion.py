"""The ``python -m dlgtut invert`` and ``gan-attack`` commands (model inversion).

* ``invert``: train a target MLP and an independent evaluation classifier on two halves of a
  real dataset, invert the target class by class with MI-Face (Fredrikson et al. 2015) and
  judge the inversions. ``DIR`` receives ``metrics.json``, ``inversions.png`` and
  ``inversions.npy``.
* ``gan-attack``: run federated learning with a GAN adversary (Hitaj et al. 2017) and judge
  its generator round by round. ``DIR`` receives ``metrics.json``, ``rounds.png``,
  ``curves.png`` and ``samples.npy``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parsers(sub) -> None:
    """Register the ``invert`` and ``gan-attack`` subcommands on the ``dlgtut`` subparsers."""
    from .cli import _positive

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
    p.add_argument("--class", dest="classes", type=int, nargs="+", metavar="K", default=None,
                   help="classes to invert (default: all)")
    p.add_argument("--identities", type=_positive("identities"), default=5,
                   help="people kept from lfw, those with most photos (default 5)")
    p.add_argument("--steps", type=_positive("steps"), default=300,
                   help="gradient steps at most (default 300)")
    p.add_argument("--restarts", type=_positive("restarts"), default=1,
                   help="inversions per class; all but the first start from a noisy blank")
    p.add_argument("--tv", type=float, default=0.005,
                   help="weight of the total-variation prior (default 0.005)")
    p.add_argument("--start", type=float, default=None,
                   help="grey level of the blank start (default 0 for digits, 0.5 for photos)")
    p.add_argument("--seed", type=int, default=0, help="seeds the split and the models (0)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where lfw is downloaded (default $DLGTUT_DATA or ~/.cache)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output folder: metrics.json, inversions.png, inversions.npy")
    p.set_defaults(run=_run_invert)

    g = sub.add_parser(
        "gan-attack",
        help="steal a class from a federation with a generator (Hitaj et al., GAN attack)",
        description="The GAN attack in collaborative learning: an insider trains a generator "
        "against the shared model and (active) labels its samples as a fake class. The "
        "samples are judged by a classifier trained on data no participant holds.",
    )
    g.add_argument("--dataset", choices=("digits", "mnist"), default="digits",
                   help="digits ship offline; mnist is downloaded when possible, else digits")
    g.add_argument("--victim-class", type=int, default=3,
                   help="the class only the victim holds (default 3)")
    g.add_argument("--participants", type=_positive("participants"), default=4,
                   help="victim, adversary and honest others (default 4)")
    g.add_argument("--rounds", type=_positive("rounds"), default=100,
                   help="FedAvg rounds (default 100)")
    g.add_argument("--mode", choices=("active", "passive", "untrained"), default="active",
                   help="active: fake-class injection; passive: only a generator; untrained: "
                   "the baseline, a generator trained against the round-one model")
    g.add_argument("--dp", action="store_true", help="the victim trains with DP-SGD (Opacus)")
    g.add_argument("--noise-multiplier", type=float, default=2.0,
                   help="DP-SGD noise with --dp (default 2.0)")
    g.add_argument("--eval-every", type=_positive("evaluation interval"), default=10,
                   help="judge the generator every this many rounds (default 10)")
    g.add_argument("--seed", type=int, default=0, help="seeds the split, models and noise (0)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output folder: metrics.json, rounds.png, curves.png, samples.npy")
    g.set_defaults(run=_run_gan)


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _run_invert(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import torch

    from .attacks.inversion import inversion_case, mi_face, plot_inversions, score_inversion
    from .errors import ConfigError
    from .training import predict_logits

    if args.tv < 0:
        raise ConfigError(f"--tv must be >= 0, got {args.tv}")
    if args.start is not None and not 0 <= args.start <= 1:
        raise ConfigError(f"--start must lie in [0, 1], got {args.start}")
    case = inversion_case(args.dataset, seed=args.seed, identities=args.identities,
                          root=args.data_dir)
    classes = list(range(case.num_classes)) if args.classes is None else args.classes
    bad = [c for c in classes if not 0 <= c < case.num_classes]
    if bad:
        raise ConfigError(f"class {bad[0]} is not a class of {case.data.name} "
                          f"(0..{case.num_classes - 1})")
    start = args.start if args.start is not None else case.blank
    inv = mi_face(case.target, classes, case.input_shape, steps=args.steps,
                  restarts=args.restarts, tv_weight=args.tv, start=start, seed=args.seed,
                  progress=not args.quiet)
    scores = score_inversion(inv.images, inv.classes, case.evaluator, case.means)
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "inversions.npy", inv.images.numpy().astype(np.float32))
    metrics = {
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
        "torch": torch.__version__,
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    x, y = case.data.images[case.eval_split], case.data.labels[case.eval_split]
    examples = torch.stack([x[y == k][0] for k in range(case.num_classes)])
    predicted = predict_logits(case.evaluator, inv.images).argmax(-1)
    fig = plot_inversions(inv.images, inv.classes, case.means, examples=examples,
                          class_names=case.data.classes, predicted=predicted,
                          title=f"MI-Face on {case.data.name}: real (top) and inverted (bottom)")
    _save(fig, args.out / "inversions.png")
    print(
        f"inverted {len(classes)} class(es) of {case.data.name} in {inv.steps} steps "
        f"({inv.seconds:.1f} s): evaluation classifier agrees on {scores.eval_accuracy:.0%} "
        f"(chance {scores.chance:.0%}), correlation with the class mean "
        f"{scores.correlation:.2f}. Outputs in {args.out}"
    )
    return 0


def _run_gan(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import torch

    from .attacks.gan_attack import (
        GANAttackConfig,
        federation,
        gan_attack,
        plot_curves,
        plot_rounds,
    )
    from .errors import ConfigError

    if args.dp and not args.noise_multiplier > 0:
        raise ConfigError(f"--noise-multiplier must be positive, got {args.noise_multiplier}")
    cfg = GANAttackConfig(dataset=args.dataset, victim_class=args.victim_class,
                          participants=args.participants, rounds=args.rounds, mode=args.mode,
                          dp_victim=args.dp, noise_multiplier=args.noise_multiplier,
                          eval_every=args.eval_every, seed=args.seed, progress=not args.quiet)
    fed = federation(cfg)
    res = gan_attack(cfg, setting=fed)
    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "samples.npy", res.samples.numpy().astype(np.float32))
    metrics = {
        **res.as_dict(),
        "dataset": fed.data.name,
        "source": fed.data.source,
        "participants_data": [len(y) for _, y in fed.parts],
        "evaluator_accuracy": fed.evaluator_accuracy,
        "torch": torch.__version__,
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _save(plot_rounds(res, fed.victim_examples), args.out / "rounds.png")
    _save(plot_curves({args.mode + (" + DP victim" if args.dp else ""): res}),
          args.out / "curves.png")
    eps = f", victim's epsilon {res.epsilon:.1f} (delta {cfg.delta:g})" if args.dp else ""
    print(
        f"{args.mode} adversary, {args.rounds} rounds ({res.seconds:.1f} s): "
        f"{res.recognised[-1]:.0%} of the generated samples recognised as "
        f"'{res.class_name}' (chance {res.chance:.0%}); shared model accuracy "
        f"{res.accuracy[-1]:.1%}{eps}. Outputs in {args.out}"
    )
    if res.recognised[-1] <= res.chance:
        print("dlgtut: warning: the generator's samples are not recognised above chance",
              file=sys.stderr)
    return 0
