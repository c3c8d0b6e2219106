"""The ``python -m dlgtut property`` command: property inference in a FedSGD federation.

The adversary is one of ``--participants``; the victim's batches have the property (thick
strokes on digits, bright crops on faces) in the middle third of the rounds. Every round the
adversary trains a classifier on updates it computes from its auxiliary data and scores the
others' aggregate update; a server's view of the victim's single update is attacked too.
``DIR`` receives ``metrics.json``, ``auc_per_round.png`` and ``roc.png`` (log-log).
"""

from __future__ import annotations

from ..errors import ConfigError
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

# dlgtut.attacks.property.FEATURES, written out so that parsing the options does not import
# torch (tests/cli/test_property.py checks that the two agree).
FEATURES = ("last", "all")

DATASETS = ("digits", "faces")
# Per dataset: image side, test / adversary / victim examples, batch size, server learning rate.
_DEFAULTS = {
    "digits": {"size": 8, "test_size": 197, "aux_size": 400, "victim_size": 500,
               "batch_size": 32, "lr": 0.3},
    "faces": {"size": 25, "test_size": 40, "aux_size": 60, "victim_size": 60,
              "batch_size": 8, "lr": 0.05},
}


def add_parser(sub) -> None:
    """Register the ``property`` subcommand on the ``dlgtut`` parser's subparsers."""

    p = sub.add_parser(
        "property",
        help="infer a property of a participant's batches from FedSGD updates (Melis et al.)",
        description="Property inference: a participant of a FedSGD federation learns, round by "
        "round, whether the victim's batch has a property unrelated to the task, from the "
        "others' aggregate update (and a server from the victim's own update). Reports AUC per "
        "round, the ROC curve (log-log), AUC and TPR at 0.1 %% and 1 %% FPR.",
    )
    data = p.add_argument_group("the data")
    data.add_argument("--dataset", choices=DATASETS, default="digits",
                      help="digits (task: 10 classes; property: thick strokes) or faces (task: "
                      "face or not; property: bright); both ship offline (default digits)")
    data.add_argument("--aux-size", type=positive_int("aux size", 100_000), default=None,
                      help="the adversary's auxiliary examples (default 400 digits, 60 faces)")
    data.add_argument("--victim-size", type=positive_int("victim size", 100_000), default=None,
                      help="the victim's examples (default 500 digits, 60 faces)")
    data.add_argument("--test-size", type=positive_int("test size", 100_000), default=None,
                      help="held out for the main task (default 197 digits, 40 faces)")
    fed = p.add_argument_group("the federation (FedSGD)")
    fed.add_argument("--participants", type=positive_int("participants", 10_000), default=5,
                     help="participants, the adversary and the victim included (default 5)")
    fed.add_argument("--rounds", type=positive_int("rounds", 100_000), default=30,
                     help="training rounds (default 30)")
    fed.add_argument("--batch-size", type=positive_int("batch size", 100_000), default=None,
                     help="every participant's batch (default 32 digits, 8 faces)")
    fed.add_argument("--lr", type=real("--lr", low=0, low_open=True, high=100), default=None,
                     help="the server's learning rate (default 0.3 digits, 0.05 faces)")
    fed.add_argument("--hidden", type=positive_int("hidden width", 100_000), default=64,
                     help="width of the MLP's hidden layer (default 64)")
    fed.add_argument("--fraction", type=real("--fraction", low=0, low_open=True, high=1),
                     default=1.0,
                     help="share of the victim's batch with the property when it has it "
                     "(default 1)")
    fed.add_argument("--property-rounds", type=int, nargs=2, metavar=("START", "STOP"),
                     default=None, help="rounds START <= r < STOP (from 0) in which the victim's "
                     "batches have the property (default: the middle third)")
    atk = p.add_argument_group("the attack")
    atk.add_argument("--features", choices=FEATURES, default="last",
                     help="classify the output layer's update (last, default) or all of it")
    atk.add_argument("--train-draws", type=positive_int("train draws", 1_000_000), default=600,
                     help="simulated updates the attacker trains on per round (default 600)")
    atk.add_argument("--eval-draws", type=positive_int("eval draws", 1_000_000), default=200,
                     help="observed updates scored per round for its AUC (default 200)")
    p.add_argument("--seed", type=seed, default=0, help="seeds the split, model and draws (0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device(p)
    add_out(p, "metrics.json, auc_per_round.png, roc.png")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``property``; return the exit status."""
    from ..attacks.property import (
        PROPERTY_NAMES,
        PropertyConfig,
        intensity_property,
        plot_attack_roc,
        plot_rounds,
        run_property_inference,
        split_for_property,
    )
    from ..data import load_dataset
    from ..roc import percent

    defaults = _DEFAULTS[args.dataset]
    if args.participants < 2:
        raise ConfigError(f"--participants must be at least 2 (the adversary and the victim), "
                          f"got {args.participants}")
    lr = defaults["lr"] if args.lr is None else args.lr
    config = PropertyConfig(
        rounds=args.rounds, batch_size=args.batch_size or defaults["batch_size"], lr=lr,
        hidden=args.hidden, fraction=args.fraction,
        property_rounds=tuple(args.property_rounds) if args.property_rounds else None,
        train_draws=args.train_draws, eval_draws=args.eval_draws, features=args.features,
        seed=args.seed,
    )
    config.check()
    out = prepare_out(args.out)
    data = load_dataset(args.dataset, size=defaults["size"])
    sizes = {key: getattr(args, key) or defaults[key]
             for key in ("aux_size", "victim_size", "test_size")}
    split = split_for_property(data, intensity_property(data.images, data.labels),
                               n_others=args.participants - 2, seed=args.seed,
                               property_name=PROPERTY_NAMES[args.dataset], **sizes)
    result = run_property_inference(split, config, progress=not args.quiet, device=args.device)

    metrics = {**result.metrics(), "dataset": data.name, "source": data.source}
    metrics["config"].update(sizes, dataset=args.dataset, participants=args.participants)
    write_metrics(out, metrics, device=args.device)

    use_agg()
    fig = plot_rounds(result, title=f"Property inference on {data.name} "
                      f"({result.property_name}), {args.participants} participants")
    save_figure(fig, out / "auc_per_round.png")
    save_figure(plot_attack_roc(result), out / "roc.png")
    print(f"property '{result.property_name}' on {data.name}, {args.participants} participants, "
          f"{config.rounds} rounds: AUC {result.roc.auc:.3f} from the aggregate "
          f"(TPR {percent(result.roc.tpr_at_1pct_fpr)} at 1 % FPR), "
          f"{result.single_roc.auc:.3f} from "
          f"a single update; the real rounds: AUC {result.run_auc:.3f} ({result.seconds:.1f} s). "
          f"Outputs in {out}")
    return 0
