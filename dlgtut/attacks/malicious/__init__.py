"""Malicious-server attacks: the server chooses the model it sends.

Threat model: the server no longer just looks. It sends the participants a model of its own
making (an ordinary model with a small block in front), and keeps secret how it built that
block. The participants follow the protocol honestly on whatever model they receive; secure
aggregation may hide their individual updates, so the server may see only their sum. The
attacks take what the server receives (a :class:`~dlgtut.fl.SharedUpdate`, or the aggregate
from :func:`dlgtut.defenses.secure_aggregate`) together with the server's own
:class:`~.block.MaliciousModel`, never the private batch, and read images off it in closed
form: nothing is optimised. The server's model is built on the device of the model it wraps;
the read-out works in float64 on the CPU, and the images come back there.

* :mod:`.block`: the block, what the server sends and keeps (:class:`MaliciousModel`), and what
  an attack returns (:class:`Breach`).
* :mod:`.imprint`: Robbing the Fed (Fowl et al., 2022): rows that bin images by a statistic.
* :mod:`.trap`: trap weights (Boenisch et al., 2023): random rows that few images spring.
* :mod:`.checks`: what a participant can check about the model it receives, before it trains.
"""

from .block import Breach, MaliciousBlock, MaliciousModel
from .checks import Audit, architecture_changes, audit_update, parallel_rows
from .imprint import STATISTICS, Imprint, bin_boundaries, imprint_attack, imprint_model
from .trap import TrapWeights, trap_attack, trap_model, trap_rows

__all__ = [
    "MaliciousModel",
    "MaliciousBlock",
    "Breach",
    "Imprint",
    "STATISTICS",
    "imprint_model",
    "imprint_attack",
    "bin_boundaries",
    "TrapWeights",
    "trap_model",
    "trap_attack",
    "trap_rows",
    "Audit",
    "architecture_changes",
    "parallel_rows",
    "audit_update",
]
