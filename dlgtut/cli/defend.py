"""``python -m dlgtut defend``: one defence's trade-off, measured.

For each strength of the defence: DLG (Inverting Gradients for local steps) on real digits, and
a FedSGD training run with the same defence. ``DIR`` receives ``metrics.json`` and
``tradeoff.png``.
"""

from __future__ import annotations

import time

from .common import (
    add_device,
    add_out,
    positive_int,
    prepare_out,
    real,
    save_figure,
    seed,
    use_agg,
    write_metrics,
)

__all__ = ["add_parser", "run"]

# The names of dlgtut.tradeoff.DEFAULT_GRIDS, written out so that parsing the options does not
# import torch (tests/cli/test_defend.py checks that the two agree).
DEFENSES = ("none", "gaussian", "laplacian", "float16", "int8", "prune", "batch", "local-steps",
            "secure-aggregation", "dp-sgd")


def add_parser(sub) -> None:
    """Register ``defend`` on the ``dlgtut`` parser's subparsers."""
    p = sub.add_parser(
        "defend",
        help="measure a defence: what the gradient attack still recovers, and the accuracy "
        "a defended federated training run reaches",
        description="For each strength of the defence: DLG (Inverting Gradients for "
        "local-steps) on real digits, and a FedSGD training run with the same defence.",
    )
    p.add_argument("--defense", required=True, choices=DEFENSES,
                   help="which defence")
    p.add_argument("--values", type=real("a defence value"), nargs="+", default=None,
                   metavar="V", help="strengths to measure (default: the defence's grid, e.g. "
                   "variances 1e-4..1e-1 for noise, fractions 0.01..0.7 for pruning)")
    p.add_argument("--rounds", type=positive_int("rounds", 100_000), default=100,
                   help="FedSGD rounds of each training run (100)")
    p.add_argument("--attack-images", type=positive_int("attack images", 1000), default=4,
                   help="private images (or batches) attacked per strength (4)")
    p.add_argument("--iterations", type=positive_int("iterations", 1_000_000), default=100,
                   help="DLG steps per attack (100; ten times as many for local-steps)")
    p.add_argument("--seed", type=seed, default=0)
    add_device(p)
    add_out(p, "metrics.json and tradeoff.png")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``defend``; return the exit status."""
    from ..tradeoff import Setting, check_defense, measure, plot_tradeoff, sweep

    for v in args.values or ():  # every value is checked before the first (slow) measurement
        check_defense(args.defense, v)
    setting = Setting(rounds=args.rounds, attack_images=args.attack_images,
                      attack_iterations=args.iterations, seed=args.seed)
    out = prepare_out(args.out)
    started = time.perf_counter()
    points = sweep(args.defense, args.values, setting, progress=True, device=args.device)
    baseline = measure("none", None, setting, device=args.device)
    write_metrics(out, {
        "defense": args.defense,
        "baseline": baseline.as_dict(),
        "points": [p.as_dict() for p in points],
        "setting": setting.__dict__,
        "seconds": round(time.perf_counter() - started, 1),
    }, device=args.device)
    use_agg()
    save_figure(plot_tradeoff(points, baseline=baseline), out / "tradeoff.png")
    for p in points:
        value = "" if p.value is None else f" {p.value:g}"
        eps = ("" if p.epsilon is None else
               f", epsilon {p.epsilon:.2f} (delta {setting.delta:g}, replace-one)")
        print(f"{p.defense}{value}: attack {p.psnr:.1f} dB (SSIM {p.ssim:.2f}, labels "
              f"{p.label_accuracy:.0%}); accuracy {p.accuracy:.1%}{eps}")
    print(f"undefended: attack {baseline.psnr:.1f} dB; accuracy {baseline.accuracy:.1%}. "
          f"Outputs in {out}")
    return 0
