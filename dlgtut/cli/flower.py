"""``python -m dlgtut flower``: attack every update of a real Flower federation.

A Flower federation of ``--clients`` virtual SuperNodes runs in this process on Flower's
Simulation Engine (Ray) for ``--rounds`` rounds. Every node is an honest dlgtut participant
with its own part of a real dataset; the server is Flower's FedAvg made curious
(:class:`dlgtut.federation.CuriousFedAvg`), which attacks each update it receives. ``DIR``
receives ``metrics.json`` (per client and round: PSNR, SSIM, label accuracy, the participant's
training loss and accuracy; per round: the global model's test accuracy and the timings),
``reconstruction.png`` (each client's private images beside what the server recovered) and
``reconstruction.npz`` (the recovered images and the truth, by client and round).

Needs the ``flower`` extra: ``pip install "dlgtut[flower]"``.
"""

from __future__ import annotations

import dataclasses
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
    warn,
    write_metrics,
)

__all__ = ["add_parser", "run"]

# The names of dlgtut.defenses.DEFENSES, written out so that parsing the options does not
# import torch (tests/cli/test_flower.py checks that the two agree).
DEFENSE_NAMES = ("gaussian", "laplacian", "float16", "int8", "prune")

INSTALL = 'pip install "dlgtut[flower]"'
MAX_CLIENTS = 10_000
DATASETS = ("digits", "faces", "photos", "mnist", "cifar10", "cifar100", "svhn")


def add_parser(sub) -> None:
    """Register ``flower`` on the ``dlgtut`` parser's subparsers."""
    p = sub.add_parser(
        "flower",
        help="run a real Flower federation in-process; the server attacks every update",
        description="A Flower federation on Flower's Simulation Engine: honest dlgtut "
        "participants in ClientApps, and a curious server (Flower's FedAvg) that "
        f"reconstructs every participant's private batch from its update. Needs {INSTALL}.",
    )
    fed = p.add_argument_group("the federation")
    fed.add_argument("--clients", type=positive_int("clients", MAX_CLIENTS), default=4,
                     help="virtual SuperNodes, each with its own part of the data (4)")
    fed.add_argument("--rounds", type=positive_int("rounds", 10_000), default=2,
                     help="federated rounds (2)")
    fed.add_argument("--algorithm", choices=("fedsgd", "fedavg"), default="fedsgd",
                     help="participants share a gradient (fedsgd, default) or their new "
                     "weights after --local-steps SGD steps (fedavg)")
    fed.add_argument("--local-steps", type=positive_int("local steps", 1000), default=None,
                     help="FedAvg's local SGD steps (1)")
    fed.add_argument("--full-batch", action="store_true",
                     help="FedAvg: every local step on the same --batch-size examples (several "
                     "local epochs) instead of a fresh minibatch per step")
    fed.add_argument("--lr", type=real("--lr", low=0, low_open=True, high=100), default=0.1,
                     help="learning rate: the server's for fedsgd, the participants' for "
                     "fedavg (0.1)")
    fed.add_argument("--batch-size", type=positive_int("batch size", 64), default=1,
                     help="examples per participant and (local) step (1)")
    fed.add_argument("--defense", choices=DEFENSE_NAMES, default=None,
                     help="a defence every participant applies to its update before sending")
    fed.add_argument("--defense-value", type=real("--defense-value", low=0), default=None,
                     help="its strength: the noise variance, or the pruned fraction")
    data = p.add_argument_group("the data and the model")
    data.add_argument("--dataset", choices=DATASETS, default="digits",
                      help="digits, faces and photos ship offline; the others are downloaded "
                      "when possible, else replaced by an offline set (default digits)")
    data.add_argument("--size", type=positive_int("size", 64), default=16,
                      help="image side, 3 to 64 (16)")
    data.add_argument("--model", choices=("lenet", "lenet-relu"), default="lenet",
                      help="the DLG paper's Sigmoid LeNet (default) or its ReLU variant")
    data.add_argument("--data-dir", type=data_dir, default=None,
                      help="where datasets are downloaded (default $DLGTUT_DATA or ~/.cache)")
    add_fallback(data)
    atk = p.add_argument_group("the curious server's attack")
    atk.add_argument("--attack", choices=("dlg", "ig"), default="dlg",
                     help="dlg (dlgtut's DLG, default) or ig (Inverting Gradients, which "
                     "unrolls FedAvg's local steps)")
    atk.add_argument("--iterations", type=positive_int("iterations", 1_000_000), default=None,
                     help="attack steps per update (300 for dlg, 1500 for ig)")
    atk.add_argument("--tv", type=real("--tv", low=0, high=1e6), default=None,
                     help="total-variation weight of --attack ig (default 0.01; 0.001 did "
                     "better on 16 x 16 digits here)")
    atk.add_argument("--attack-limit", type=positive_int("attack limit", MAX_CLIENTS),
                     default=None, help="attack at most this many updates per round (all)")
    p.add_argument("--cpus", type=positive_int("cpus", 1024), default=None,
                   help="CPUs the Simulation Engine (Ray) may use, one virtual client training "
                   "on each at a time (default: all)")
    p.add_argument("--seed", type=seed, default=1234,
                   help="seeds the model, the data split, the batches and the attack (1234)")
    p.add_argument("--verbose", action="store_true", help="show Flower's and Ray's logs")
    add_device(p, "where the curious server's attack runs: auto (CUDA when there is one, the "
               "default), cpu or cuda; the virtual clients train on the CPU")
    add_out(p, "metrics.json, reconstruction.png, reconstruction.npz")
    p.set_defaults(run=run)


def _check(args) -> None:
    """Everything that can be checked from the options alone."""
    from ..defenses import DEFENSES

    only_with(args, {
        "local_steps": (args.algorithm == "fedavg", "with --algorithm fedavg"),
        "full_batch": (args.algorithm == "fedavg", "with --algorithm fedavg"),
        "defense_value": (args.defense is not None, "with --defense"),
        "tv": (args.attack == "ig", "to --attack ig"),
    })
    if args.size < 3:
        raise ConfigError(f"--size must be at least 3 (SSIM needs 3 x 3 pixels), got {args.size}")
    if args.defense is not None:
        param = DEFENSES[args.defense][0]
        if param is not None and args.defense_value is None:
            raise ConfigError(f"--defense {args.defense} needs --defense-value (its {param})")
        if param is None and args.defense_value is not None:
            raise ConfigError(f"--defense {args.defense} takes no --defense-value")
        if args.defense == "prune" and not args.defense_value < 1:
            raise ConfigError(f"--defense-value for prune is a fraction in [0, 1), got "
                              f"{args.defense_value:g}")
    if (args.local_steps or 1) > 1 and args.attack == "dlg":
        raise ConfigError(f"dlg needs a gradient, and {args.local_steps} local steps mix "
                          "several; use --attack ig, which unrolls them")


def _flower_installed() -> None:
    """Refuse in one line, before any work, when the flower extra is missing."""
    try:
        from .. import federation  # noqa: F401 (turns telemetry off before flwr loads)
    except ImportError:
        raise ConfigError(f"Flower is not installed; install the extra: {INSTALL}") from None


def _round_rows(fed, rows) -> list[dict]:
    """Per round: the global model's test accuracy, the mean attack scores, the timings."""
    out = []
    for log in fed.round_logs:
        mine = [r for r in rows if r["round"] == log.server_round and r["psnr"] is not None]
        out.append({
            "round": log.server_round,
            "test_accuracy": fed.test_accuracy[log.server_round],
            "train_accuracy": fed.train_metrics.get(log.server_round, {}).get("train-accuracy"),
            "mean_psnr": sum(r["psnr"] for r in mine) / len(mine) if mine else None,
            "replies": log.replies,
            "failures": log.failures,
            "clients_seconds": round(log.clients_seconds, 3),
            "capture_seconds": round(log.capture_seconds, 4),
            "attack_seconds": round(log.attack_seconds, 3),
            "aggregate_seconds": round(log.aggregate_seconds, 4),
        })
    return out


def _on_device(attack, device):
    """The attack, run on a copy of each captured update moved to ``device``."""
    import copy

    def moved(update):
        return attack(dataclasses.replace(
            update, model=copy.deepcopy(update.model).to(device),
            tensors=tuple(t.to(device) for t in update.tensors)))

    return moved


def run(args) -> int:
    """Run ``flower``; return the exit status."""
    _flower_installed()
    _check(args)
    started = time.perf_counter()
    if args.data_dir is not None:
        import os

        os.environ["DLGTUT_DATA"] = str(args.data_dir)  # the Ray workers load the data too
    from ..federation import FlowerTask, plot_reconstructions, run_federation, score_captured
    from ..federation.strategy import server_attack

    task = FlowerTask(
        dataset=args.dataset, size=args.size, model=args.model, seed=args.seed,
        algorithm=args.algorithm, lr=args.lr, local_steps=args.local_steps or 1,
        batch_size=args.batch_size, full_batch=args.full_batch, defense=args.defense or "",
        defense_value=args.defense_value or 0.0,
        fallback=args.fallback,
    )
    attack, config = server_attack(args.attack, iterations=args.iterations, seed=args.seed,
                                   **({} if args.tv is None else {"tv_weight": args.tv}))
    if args.device.type != "cpu":
        attack = _on_device(attack, args.device)
    out = prepare_out(args.out)
    task.partition(0, args.clients)  # the data loads and splits here, before Ray starts
    fed = run_federation(task, clients=args.clients, rounds=args.rounds, attack=attack,
                         attack_limit=args.attack_limit, num_cpus=args.cpus,
                         verbose=args.verbose)
    task = fed.task  # with the dataset that actually loaded
    rows = score_captured(fed.captured, task, args.clients)
    scored = [r for r in rows if r["psnr"] is not None]

    def mean(key):
        return sum(r[key] for r in scored) / len(scored) if scored else None

    attacked = [c.attack_seconds for c in fed.captured if c.attack_seconds is not None]
    timings = {k: round(v, 3) for k, v in fed.seconds.items()}
    timings["attack_per_update"] = round(sum(attacked) / len(attacked), 4) if attacked else None
    timings["first_round"] = round(fed.round_logs[0].clients_seconds, 3)
    write_metrics(out, {
        "clients": args.clients,
        "rounds": args.rounds,
        "cpus": args.cpus,
        "attack": args.attack,
        "updates_captured": len(fed.captured),
        "updates_attacked": len(attacked),
        "psnr": mean("psnr"),
        "ssim": mean("ssim"),
        "label_accuracy": mean("label_accuracy"),
        "test_accuracy": fed.test_accuracy,
        "per_update": rows,
        "per_round": _round_rows(fed, rows),
        "failures": [dataclasses.asdict(f) for f in fed.failures],
        "timings": timings,
        "task": task.to_run_config(),
        "attack_config": dataclasses.asdict(config),
        "seconds": round(time.perf_counter() - started, 2),
    }, device=args.device)
    if scored:
        import numpy as np

        from ..federation.report import reconstruction_arrays

        use_agg()
        save_figure(plot_reconstructions(fed.captured, task, args.clients),
                    out / "reconstruction.png")
        np.savez_compressed(out / "reconstruction.npz",
                            **reconstruction_arrays(fed.captured, task, args.clients))
    acc = fed.test_accuracy
    summary = (f"{len(fed.captured)} updates captured from {args.clients} clients in "
               f"{args.rounds} round{'s' if args.rounds > 1 else ''}, {len(scored)} attacked")
    if scored:
        summary += (f": mean PSNR {mean('psnr'):.1f} dB, SSIM {mean('ssim'):.3f}, labels "
                    f"{mean('label_accuracy'):.0%} right")
    print(f"{summary}. Test accuracy of the global model {acc[0]:.1%} -> {acc[-1]:.1%}. "
          f"{time.perf_counter() - started:.0f} s ({fed.seconds['rounds']:.0f} s of rounds, "
          f"{fed.seconds['attack']:.1f} s of attacks). Outputs in {out}")
    for f in fed.failures:
        warn(f"client node {f.node_id} failed in round {f.server_round}: {f.reason}")
    for r in rows:
        if r["attack_error"]:
            warn(f"round {r['round']}, client {r['partition']}: {r['attack_error']}")
    return 0
