r"""User-level differential privacy for FedAvg: DP-FedAvg (McMahan et al., ICLR 2018).

DP-SGD (:mod:`dlgtut.dp`) protects one *example*: neighbouring datasets differ in one record.
A participant of a federation usually holds many records about the same person, so
:cite:`mcmahan2018learning` protect one *participant*: neighbouring federations differ in all of
one participant's data. Their DP-FedAvg clips each participant's whole model update
:math:`\Delta_k` to L2 norm :math:`S` ("flat clipping"), sums the clipped updates of the
round's participants, adds Gaussian noise :math:`\mathcal N(0, z^2 S^2 I)` to the sum and
divides by the (fixed) number of participants :math:`m` of a round. The reference code is in
TensorFlow Federated (``tff.aggregators.DifferentiallyPrivateFactory``); Flower's
``DifferentialPrivacyServerSideFixedClipping`` does the same on a Flower server.

:func:`dp_fedavg_defense` is the participant's side of it, for
:func:`dlgtut.server.federated_training`: every participant clips its update and adds a
:math:`1/m` share of the noise variance, :math:`\mathcal N(0, z^2 S^2 / m)`. The server's
average of the :math:`m` defended updates is then distributed exactly as DP-FedAvg's:
:math:`(\sum_k \mathrm{clip}(\Delta_k) + \mathcal N(0, z^2 S^2 I)) / m`. Sharing the noise
this way is what a federation does when it does not trust the server with the noise and sums
the shares under secure aggregation (distributed DP; Kairouz et al. 2021 use a discrete
Gaussian for it); without secure aggregation the server sees each share with only
:math:`1/\sqrt m` of the noise.

The privacy of ``rounds`` rounds with ``m`` of ``N`` participants drawn uniformly without
replacement each round (as ``federated_training`` draws them) is
:func:`dlgtut.accounting.dp_sgd_epsilon` with participants in place of examples:
``dp_sgd_epsilon(z, m, N, rounds, delta)`` under replace-one-participant neighbours. The
paper drew participants independently with probability :math:`q` (Poisson) and used the
moments accountant under add/remove neighbours, which is not this sampling.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .checks import integer, number
from .checks import seed as check_seed
from .errors import DataError
from .fl import SharedUpdate, require_update

__all__ = ["clip_update", "dp_fedavg_defense"]


def clip_update(update: SharedUpdate, clip: float) -> SharedUpdate:
    """Scale the whole update (all its tensors together) down to L2 norm at most ``clip``.

    Raises:
        ConfigError: ``clip`` not positive and finite.
        WrongTypeError: not a SharedUpdate.
        DataError: an update with NaN or inf.

    Example:
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> from dlgtut.models import LeNet
        >>> u = Participant(LeNet(1, 10, 8, seed=0)).fedsgd(
        ...     PrivateBatch(torch.rand(1, 1, 8, 8), torch.tensor([1])))
        >>> c = clip_update(u, 0.5)
        >>> round(float(torch.cat([t.flatten() for t in c.tensors]).norm()), 4)
        0.5
    """
    update = require_update(update, "clip_update", needs_model=False)
    clip = number(clip, "clip", low=0, low_open=True)
    if not all(bool(torch.isfinite(t).all()) for t in update.tensors):
        raise DataError("clip_update: the update contains NaN or inf")
    total = math.sqrt(sum(float(t.double().pow(2).sum()) for t in update.tensors))
    scale = min(1.0, clip / total) if total > 0 else 1.0
    return dataclasses.replace(update, tensors=tuple(t * scale for t in update.tensors),
                               meta={**update.meta, "clipped_from": total})


def dp_fedavg_defense(clip: float, noise_multiplier: float, clients_per_round: int, *,
                      seed: int | None = 0):
    """A participant's half of DP-FedAvg: clip to ``clip``, add its share of the noise.

    Args:
        clip: :math:`S`, the L2 bound on one participant's whole update.
        noise_multiplier: :math:`z`: the noise on the round's sum has standard deviation
            :math:`zS` per coordinate.
        clients_per_round: :math:`m`, how many participants' updates the server averages
            (``federated_training``'s ``clients_per_round``); each adds variance
            :math:`z^2S^2/m`.
        seed: seed of the noise (one generator, drawn from afresh on every call).

    Returns:
        A defence (update to update) for ``federated_training(defense=...)``.

    Raises:
        ConfigError: a ``clip`` that is not positive and finite, a negative or non-finite
            noise multiplier, a ``clients_per_round`` below 1, or a bad seed.
    """
    clip = number(clip, "clip", low=0, low_open=True)
    noise_multiplier = number(noise_multiplier, "noise_multiplier", low=0)
    m = integer(clients_per_round, "clients_per_round", low=1)
    gen = None if seed is None else torch.Generator().manual_seed(check_seed(seed))
    std = noise_multiplier * clip / math.sqrt(m)

    def defend(update: SharedUpdate) -> SharedUpdate:
        clipped = clip_update(update, clip)
        noisy = tuple(t + (std * torch.randn(t.shape, generator=gen, dtype=t.dtype)).to(t.device)
                      for t in clipped.tensors)
        return dataclasses.replace(clipped, tensors=noisy, meta={
            **clipped.meta, "defense": f"DP-FedAvg share: S={clip:g}, z={noise_multiplier:g}, "
                                       f"m={m}"})

    return defend
