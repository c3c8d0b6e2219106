"""``python -m dlgtut gan-attack``: the GAN attack of a curious participant (Hitaj et al. 2017).

Runs federated learning with a GAN adversary and judges its generator round by round. ``DIR``
receives ``metrics.json``, ``rounds.png``, ``curves.png`` and ``samples.npy``.
"""

from __future__ import annotations

from .common import (
    add_device,
    add_fallback,
    add_out,
    non_negative_int,
    only_with,
    positive_int,
    prepare_out,
    real,
    save_figure,
    seed,
    use_agg,
    warn,
    write_metrics,
)

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    """Register ``gan-attack`` on the ``dlgtut`` parser's subparsers."""
    g = sub.add_parser(
        "gan-attack",
        help="steal a class from a federation with a generator (Hitaj et al., GAN attack)",
        description="The GAN attack in collaborative learning: an insider trains a generator "
        "against the shared model and (active) labels its samples as a fake class. The "
        "samples are judged by a classifier trained on data no participant holds.",
    )
    g.add_argument("--dataset", choices=("digits", "mnist"), default="digits",
                   help="digits ship offline; mnist is downloaded (see --fallback)")
    add_fallback(g)
    g.add_argument("--victim-class", type=non_negative_int("victim class"), default=3,
                   help="the class only the victim holds, 0 to 9 (default 3)")
    g.add_argument("--participants", type=positive_int("participants", 1000), default=4,
                   help="victim, adversary and honest others, at least 2 (default 4)")
    g.add_argument("--rounds", type=positive_int("rounds", 100_000), default=100,
                   help="FedAvg rounds (default 100)")
    g.add_argument("--mode", choices=("active", "passive", "untrained"), default="active",
                   help="active: fake-class injection; passive: only a generator; untrained: "
                   "the baseline, a generator trained against the round-one model")
    g.add_argument("--dp", action="store_true", help="the victim trains with DP-SGD (Opacus)")
    g.add_argument("--noise-multiplier", type=real("--noise-multiplier", low=0, low_open=True,
                   high=1000), default=None, help="DP-SGD noise with --dp (default 2.0)")
    g.add_argument("--eval-every", type=positive_int("evaluation interval"), default=10,
                   help="judge the generator every this many rounds (default 10)")
    g.add_argument("--seed", type=seed, default=0, help="seeds the split, models and noise (0)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device(g)
    add_out(g, "metrics.json, rounds.png, curves.png, samples.npy")
    g.set_defaults(run=run)


def run(args) -> int:
    """Run ``gan-attack``; return the exit status."""
    only_with(args, {"noise_multiplier": (args.dp, "with --dp")})
    import numpy as np

    from ..attacks.inversion import (
        GANAttackConfig,
        federation,
        gan_attack,
        plot_curves,
        plot_rounds,
    )

    noise = 2.0 if args.noise_multiplier is None else args.noise_multiplier
    cfg = GANAttackConfig(dataset=args.dataset, victim_class=args.victim_class,
                          participants=args.participants, rounds=args.rounds, mode=args.mode,
                          dp_victim=args.dp, noise_multiplier=noise,
                          eval_every=args.eval_every, seed=args.seed, progress=not args.quiet,
                          fallback=args.fallback)
    out = prepare_out(args.out)
    fed = federation(cfg, device=args.device)
    res = gan_attack(cfg, setting=fed, device=args.device)
    np.save(out / "samples.npy", res.samples.numpy().astype(np.float32))
    write_metrics(out, {
        **res.as_dict(),
        "dataset": fed.data.name,
        "source": fed.data.source,
        "participants_data": [len(y) for _, y in fed.parts],
        "evaluator_accuracy": fed.evaluator_accuracy,
    }, device=args.device)
    use_agg()
    save_figure(plot_rounds(res, fed.victim_examples), out / "rounds.png")
    save_figure(plot_curves({args.mode + (" + DP victim" if args.dp else ""): res}),
                out / "curves.png")
    eps = f", victim's epsilon {res.epsilon:.1f} (delta {cfg.delta:g})" if args.dp else ""
    print(
        f"{args.mode} adversary, {args.rounds} rounds ({res.seconds:.1f} s): "
        f"{res.recognised[-1]:.0%} of the generated samples recognised as "
        f"'{res.class_name}' (chance {res.chance:.0%}); shared model accuracy "
        f"{res.accuracy[-1]:.1%}{eps}. Outputs in {out}"
    )
    if res.recognised[-1] <= res.chance:
        warn("the generator's samples are not recognised above chance")
    return 0
