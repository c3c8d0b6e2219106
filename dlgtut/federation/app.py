"""The same apps for ``flwr run``: a simulation federation, or a real deployment.

A Flower app names its two components in its ``pyproject.toml``; ``flower_app/pyproject.toml``
in this repository says::

    [tool.flwr.app.components]
    serverapp = "dlgtut.federation.app:server_app"
    clientapp = "dlgtut.federation.app:client_app"

Everything else comes from the *run config* (``[tool.flwr.app.config]``, or
``flwr run --run-config "key=value ..."``): the :class:`~.task.FlowerTask` fields (``dataset``,
``size``, ``algorithm``, ``lr``, ``batch-size``, ...) and the server's own settings:

==================  ===========================================================================
``num-rounds``      federated rounds (1)
``min-nodes``       SuperNodes to wait for and sample every round (2)
``attack``          ``dlg``, ``ig``, or ``none`` (``dlg``)
``attack-iterations``  attack steps; 0 for the attack's default (0)
``out-dir``         if not empty, an absolute folder where the server writes ``metrics.json``,
                    ``reconstruction.png`` and ``reconstruction.npz`` ("")
==================  ===========================================================================

Each SuperNode must say which part of the data it holds: ``--node-config "partition-id=0
num-partitions=2"`` in a deployment; the Simulation Engine sets both itself. The server logs one
line per update it attacked, so ``flwr run ... --stream`` shows what it recovered.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from .client import make_client_app
from .records import state_to_arrays
from .report import plot_reconstructions, reconstruction_arrays, score_captured
from .simulation import evaluate_global
from .strategy import CuriousFedAvg, server_attack
from .task import FlowerTask

__all__ = ["server_app", "client_app", "SERVER_DEFAULTS"]

SERVER_DEFAULTS = {"num-rounds": 1, "min-nodes": 2, "attack": "dlg", "attack-iterations": 0,
                   "out-dir": ""}
"""The server's run-config entries and their defaults (the task's are :class:`FlowerTask`'s)."""

_log = logging.getLogger("flwr")  # what `flwr run --stream` shows

client_app = make_client_app()  # the task comes from the run config of each run
server_app = ServerApp()


def _finite(value):
    return value if not isinstance(value, float) or math.isfinite(value) else None


def _write(out: Path, strategy: CuriousFedAvg, task: FlowerTask, rows, result) -> None:
    """metrics.json, reconstruction.png and reconstruction.npz in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    evaluated = result.evaluate_metrics_serverapp
    record = {
        "per_update": [{k: _finite(v) for k, v in r.items()} for r in rows],
        "failures": [f.__dict__ for f in strategy.failures],
        "test_accuracy": [float(evaluated[r]["test-accuracy"]) for r in sorted(evaluated)],
        "rounds": [log.__dict__ for log in strategy.rounds],
        "task": task.to_run_config(),
    }
    (out / "metrics.json").write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    attacked = [c for c in strategy.captured
                if c.reconstruction is not None and c.partition is not None]
    if attacked:
        fig = plot_reconstructions(attacked, task)
        fig.savefig(out / "reconstruction.png", dpi=150, bbox_inches="tight")
        plt.close(fig)
        np.savez_compressed(out / "reconstruction.npz", **reconstruction_arrays(attacked, task))


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """The curious server: FedAvg for ``num-rounds`` rounds, attacking every update."""
    config = {**SERVER_DEFAULTS, **dict(context.run_config)}
    task = FlowerTask.from_run_config(config)
    attack = None
    if config["attack"] != "none":
        iterations = int(config["attack-iterations"]) or None
        attack, _ = server_attack(str(config["attack"]), iterations=iterations, seed=task.seed)
    nodes = int(config["min-nodes"])
    strategy = CuriousFedAvg(task, attack=attack, min_train_nodes=nodes,
                             min_available_nodes=nodes)
    result = strategy.start(grid=grid, initial_arrays=state_to_arrays(task.build_model()),
                            num_rounds=int(config["num-rounds"]),
                            evaluate_fn=evaluate_global(task))
    rows = score_captured(strategy.captured, task)
    for r in rows:
        if r["psnr"] is not None:
            _log.info("dlgtut: round %d, node %d (partition %s): recovered %d image(s), "
                      "PSNR %.1f dB, SSIM %.3f, labels %.0f%% right, %.1f s",
                      r["round"], r["node_id"], r["partition"], r["num_examples"], r["psnr"],
                      r["ssim"], 100 * r["label_accuracy"], r["attack_seconds"])
    for f in strategy.failures:
        _log.warning("dlgtut: round %d, node %d failed: %s", f.server_round, f.node_id,
                     f.reason)
    if config["out-dir"]:
        out = Path(str(config["out-dir"]))
        _write(out, strategy, task, rows, result)
        _log.info("dlgtut: the server's reconstructions are in %s", out)
