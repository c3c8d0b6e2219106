"""The ``python -m dlgtut defend`` command: one defence's trade-off, measured."""

from __future__ import annotations

import json
import time
from pathlib import Path


def add_parser(sub) -> None:
    """Register ``defend`` on the ``dlgtut`` parser's subparsers."""
    from .cli import _positive
    from .tradeoff import DEFAULT_GRIDS

    p = sub.add_parser(
        "defend",
        help="measure a defence: what the gradient attack still recovers, and the accuracy "
        "a defended federated training run reaches",
        description="For each strength of the defence: DLG (Inverting Gradients for "
        "local-steps) on real digits, and a FedSGD training run with the same defence.",
    )
    p.add_argument("--defense", required=True, choices=tuple(DEFAULT_GRIDS),
                   help="which defence")
    p.add_argument("--values", type=float, nargs="+", default=None, metavar="V",
                   help="strengths to measure (default: the defence's grid, e.g. variances "
                   "1e-4..1e-1 for noise, fractions 0.01..0.7 for pruning)")
    p.add_argument("--rounds", type=_positive("rounds"), default=100,
                   help="FedSGD rounds of each training run (100)")
    p.add_argument("--attack-images", type=_positive("attack images"), default=4,
                   help="private images (or batches) attacked per strength (4)")
    p.add_argument("--iterations", type=_positive("iterations"), default=100,
                   help="DLG steps per attack (100; ten times as many for local-steps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output folder: metrics.json and tradeoff.png")
    p.set_defaults(run=_run)


def _run(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .tradeoff import Setting, check_defense, measure, plot_tradeoff, sweep

    setting = Setting(rounds=args.rounds, attack_images=args.attack_images,
                      attack_iterations=args.iterations, seed=args.seed)
    started = time.perf_counter()
    for v in args.values or ():  # every value is checked before the first (slow) measurement
        check_defense(args.defense, v)
    points = sweep(args.defense, args.values, setting, progress=True)
    baseline = measure("none", None, setting)
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = {
        "defense": args.defense,
        "baseline": baseline.as_dict(),
        "points": [p.as_dict() for p in points],
        "setting": setting.__dict__,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    fig = plot_tradeoff(points, baseline=baseline)
    fig.savefig(args.out / "tradeoff.png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    for p in points:
        value = "" if p.value is None else f" {p.value:g}"
        eps = "" if p.epsilon is None else f", epsilon {p.epsilon:.2f}"
        print(f"{p.defense}{value}: attack {p.psnr:.1f} dB (SSIM {p.ssim:.2f}, labels "
              f"{p.label_accuracy:.0%}); accuracy {p.accuracy:.1%}{eps}")
    print(f"undefended: attack {baseline.psnr:.1f} dB; accuracy {baseline.accuracy:.1%}. "
          f"Outputs in {args.out}")
    return 0
