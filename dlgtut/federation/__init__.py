"""Attacks on a real federation: dlgtut's participants and attacks inside Flower.

Threat model: an honest-but-curious server of a real Flower federation. It runs Flower's own
FedAvg strategy and returns the correct global model every round, but it looks at what Flower
hands every strategy before averaging: each participant's reply, separately, with the round,
the sending node and the number of examples. From those public facts and the global model it
sent, it rebuilds each reply as the :class:`~dlgtut.fl.SharedUpdate` that every dlgtut attack
takes, and attacks it. The participants are honest dlgtut participants in Flower ClientApps;
they may defend themselves (dlgtut's defences, Flower's differential-privacy mods).

* :mod:`.task`: what every node agrees on (data, model, hyperparameters, private batches).
* :mod:`.records`: how models and updates travel in Flower messages.
* :mod:`.client`: the honest participant as a ClientApp.
* :mod:`.strategy`: the curious server, a subclass of Flower's FedAvg.
* :mod:`.simulation`: a federation in this process on Flower's Simulation Engine.
* :mod:`.report`: scores and figures of what the server recovered.
* :mod:`.app`: the same apps for ``flwr run`` and a real deployment.
* :mod:`.diagram`: Flower's architecture, and where the curious server sits.

Needs the ``flower`` extra (``pip install "dlgtut[flower]"``). Flower's telemetry and update
check would try to reach Flower's servers: they are off while dlgtut imports Flower (telemetry
reads its switch once, then) and while a federation runs (:func:`.simulation.flower_environment`),
unless the caller set ``FLWR_TELEMETRY_ENABLED`` or ``FLWR_DISABLE_UPDATE_CHECK`` itself. The
process's environment is the same after the import as before it.
"""

from __future__ import annotations

from . import _quiet  # noqa: F401  (first: imports Flower with its telemetry off)
from .client import make_client_app, round_task
from .diagram import draw_flower
from .report import plot_reconstructions, score_captured
from .simulation import FederationRun, evaluate_global, make_server_app, run_federation
from .strategy import Attack, Captured, CuriousFedAvg, Failure, RoundLog
from .task import FlowerTask

__all__ = [
    "FlowerTask",
    "make_client_app",
    "round_task",
    "CuriousFedAvg",
    "Captured",
    "Failure",
    "RoundLog",
    "Attack",
    "run_federation",
    "FederationRun",
    "make_server_app",
    "evaluate_global",
    "score_captured",
    "plot_reconstructions",
    "draw_flower",
]
