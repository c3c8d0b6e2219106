"""Trap weights (Boenisch et al., "When the curious abandon honesty", EuroS&P 2023).

No statistic and no bins: every row of the block is a random "trap" that only a few images
spring. Following the paper, each row gives half of the pixels negative weights and the other
half positive weights of the same magnitudes scaled down (by 0.95), so that a typical image
drives the row below zero. Here the server also uses its public data to set each row's bias so
that the row fires for a fraction ``1 / N`` of public images, ``N`` being the number of images it
expects in the update it will attack: then a row is sprung by exactly one image of the batch
with probability about :math:`(1 - 1/N)^{N-1} \\approx 1/e`.

The readout gives every row its own random weights, so an image sends a different gradient
into every row it springs. The attacker reads ``dW_i / db_i`` off every row that was sprung. A
row sprung by one image gives that image exactly, and usually several rows give the same image;
a row sprung by several images gives a blend with weights that differ from row to row, so two
rows almost never give the same blend. The attack therefore ranks its readings by how many rows
agree on them (:attr:`~.block.Breach.confirmed` when two or more do), drops readings that would
have sprung a row nobody sprang, and keeps one slot per image.

Compared with the imprint (:mod:`.imprint`), the rows are not sorted on anything, so no
subtraction is needed and no public statistic has to match; the price is more rows for the same
recovery, and readings the attacker cannot always tell from blends.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...errors import ConfigError, WrongTypeError
from ...fl import SharedUpdate
from .block import (
    Breach,
    MaliciousBlock,
    MaliciousModel,
    block_gradient,
    check_public,
    check_rows,
    finish_breach,
    insert_block,
    ratio_readings,
    same_groups,
)

__all__ = ["TrapWeights", "trap_model", "trap_attack", "trap_rows"]

SAME = 1e-4
"""Two readings closer than this (RMS, in pixel units) are the same image: a reading from a row
sprung by one image is exact to about 1e-7, and distinct images differ by far more."""

HIT_TOLERANCE = 1e-5
"""A row counts as sprung when its bias gradient exceeds this fraction of the largest one."""


@dataclass(frozen=True, eq=False, kw_only=True)
class TrapWeights(MaliciousModel):
    """A trap-weight block in front of an ordinary model: what is sent, and what is kept.

    Attributes:
        rate: the fraction of public images each row fires for (``1 / expected_images``).
        expected_images: the images the server expects in the update it attacks.
        public_images: how many public images the biases were set on.
    """

    rate: float
    expected_images: int
    public_images: int


def trap_rows(rows: int, features: int, *, scale: float = 1.0, seed: int = 0) -> Tensor:
    """Boenisch et al.'s trap rows: per row, half the pixels negative, half positive.

    Every row draws magnitudes ``|N(0, 1)|`` for a random half of the pixels (made negative)
    and gives the same magnitudes, times ``scale``, to the other half (positive). The paper
    scales by 0.95 so that rows rarely fire without a bias; here each row gets its own bias
    from public data (:func:`trap_model`), and ``scale = 1`` (rows blind to brightness)
    measured better on photo tiles: 55 % against 36 % of a batch of 64 with 1024 rows.

    Example:
        >>> w = trap_rows(3, 10, scale=0.95, seed=0)
        >>> (w < 0).sum(1).tolist(), bool((w.clamp(min=0).sum(1) < -w.clamp(max=0).sum(1)).all())
        ([5, 5, 5], True)
    """
    gen = torch.Generator().manual_seed(seed)
    order = torch.argsort(torch.rand(rows, features, generator=gen), dim=1)
    half = features // 2
    magnitude = torch.randn(rows, half, generator=gen, dtype=torch.float64).abs()
    weight = torch.zeros(rows, features, dtype=torch.float64)
    weight.scatter_(1, order[:, :half], -magnitude)
    weight.scatter_(1, order[:, half : 2 * half], scale * magnitude)
    return weight


def trap_model(
    model: nn.Module,
    public: Tensor,
    *,
    rows: int | None = None,
    images: int,
    seed: int = 0,
    gain: float = 1e-3,
    rewrite: bool = False,
) -> TrapWeights:
    """Put a trap-weight block with ``rows`` rows in front of ``model``, or, with ``rewrite``,
    turn the model's own first layer into traps, as Boenisch et al. publish the attack.

    With ``rewrite=True`` the model must begin with a fully connected layer over the whole
    image (after an optional ``nn.Flatten``) followed by a ReLU, as their fully connected
    models do; its every row becomes a trap, and nothing is added: the architecture the
    participants receive is the one they agreed on (:func:`~.checks.architecture_changes`
    finds nothing; the audit of the update does).

    Args:
        model: the ordinary model the participants expect; it is copied, not changed.
        public: ``P x C x H x W`` public images in [0, 1] (``P >= 2``): each row's bias is set
            so that the row fires for a fraction ``1 / images`` of them.
        rows: rows of the block, at least 1 (more rows, more images sprung alone); with
            ``rewrite``, the first layer's width (None, or that number).
        images: how many images the server expects in the update it attacks (batch size times
            participants under secure aggregation).
        seed: seed of the rows and of the readout.
        gain: about the most the block shifts a pixel (the ordinary model still sees the image);
            unused with ``rewrite``.
        rewrite: rewrite the model's first layer instead of adding a block.

    Raises:
        ConfigError: ``rows`` or ``images`` below 1, ``gain`` not positive, a model without
            room for the block, or with ``rewrite`` a model that does not begin with a fully
            connected layer over the image and a ReLU, or ``rows`` other than its width.
        DataError: fewer than 2 public images, or images outside [0, 1].

    Example:
        >>> from dlgtut.models import LeNet
        >>> public = torch.rand(50, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> lure = trap_model(LeNet(1, 10, 8, seed=0), public, rows=32, images=4)
        >>> lure.rows, lure.rate
        (32, 0.25)
    """
    if not isinstance(rewrite, bool):
        raise ConfigError(f"rewrite must be True or False, got {rewrite!r}")
    if rewrite:
        return _rewritten(model, public, rows=rows, images=images, seed=seed)
    rows = check_rows(rows, "rows")
    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise ConfigError(f"images must be a positive integer, got {images!r}")
    if not (isinstance(gain, int | float) and math.isfinite(gain) and gain > 0):
        raise ConfigError(f"gain must be a positive number, got {gain!r}")
    pub = check_public(public)
    shape = tuple(int(s) for s in pub.shape[1:])
    features = math.prod(shape)
    weight = trap_rows(rows, features, seed=seed)
    rate = 1.0 / images
    bias = _trap_biases(pub, weight, images)
    typical = (pub.flatten(1) @ weight.T + bias).clamp(min=0).max().clamp(min=1e-12)
    gen = torch.Generator().manual_seed(seed + 1)
    readout = torch.randn(features, rows, generator=gen, dtype=torch.float64)
    readout *= gain / (rows * float(typical))
    block = MaliciousBlock(shape, weight, bias, readout)
    sent = insert_block(model, block)
    return TrapWeights(model=sent, input_shape=shape, rows=rows, method="trap", rate=rate,
                       expected_images=images, public_images=int(pub.shape[0]))


def _trap_biases(public: Tensor, weight: Tensor, images: int) -> Tensor:
    """Biases that make each row fire for a fraction ``1 / images`` of the public images."""
    drive = public.flatten(1) @ weight.T  # P x rows
    return -torch.quantile(drive, 1.0 - 1.0 / images, dim=0)


def _rewritten(model: nn.Module, public: Tensor, *, rows: int | None, images: int,
               seed: int) -> TrapWeights:
    """Boenisch et al.'s attack as published: the model's own first layer turned into traps."""
    if not isinstance(model, nn.Module):
        raise WrongTypeError(f"the model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise ConfigError(f"images must be a positive integer, got {images!r}")
    pub = check_public(public)
    shape = tuple(int(s) for s in pub.shape[1:])
    features = math.prod(shape)
    chain = [m for m in model.modules() if not list(m.children())]  # the leaf layers, in order
    chain = [m for m in chain if not isinstance(m, nn.Flatten)]
    first = chain[0] if chain else None
    if not (isinstance(first, nn.Linear) and first.bias is not None
            and first.in_features == features and len(chain) > 1
            and isinstance(chain[1], nn.ReLU)):
        raise ConfigError("trap weights as published rewrite a first fully connected layer over "
                          f"the whole image ({features} inputs, with a bias) followed by a ReLU; "
                          "this model does not begin so (add a block instead: rewrite=False)")
    if rows is not None and rows != first.out_features:
        raise ConfigError(f"the first layer has {first.out_features} rows; rows must be that "
                          f"or None, got {rows!r}")
    width = first.out_features
    weight = trap_rows(width, features, seed=seed)
    bias = _trap_biases(pub, weight, images)
    sent = copy.deepcopy(model)
    layer = next(m for m in sent.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        layer.weight.copy_(weight.to(layer.weight))
        layer.bias.copy_(bias.to(layer.bias))
    if not isinstance(sent, nn.Sequential):
        sent = nn.Sequential(sent)
    return TrapWeights(model=sent, input_shape=shape, rows=width, method="trap",
                       rate=1.0 / images, expected_images=images,
                       public_images=int(pub.shape[0]))


def _possible(readings: Tensor, ranked: list[int], hit: Tensor, server: TrapWeights,
              n: int) -> list[int]:
    """The first ``n`` readings in ``ranked`` that spring no row nobody sprang.

    A real image of the batch springs only rows that were hit; a blend of images can spring
    others. Checked in chunks, best first, so a large block costs only what it must.
    """
    idle = ~hit
    layer = server.first_layer()
    weight = layer.weight.detach().cpu().double()[idle]
    bias = layer.bias.detach().cpu().double()[idle]
    scale = weight.abs().sum(1)
    chosen: list[int] = []
    for start in range(0, len(ranked), 2 * n):
        chunk = ranked[start : start + 2 * n]
        ok = ~((readings[chunk] @ weight.T + bias) / scale > 1e-6).any(1)
        chosen += [i for i, good in zip(chunk, ok.tolist(), strict=True) if good]
        if len(chosen) >= n:
            break
    return chosen[:n]


def trap_attack(update: SharedUpdate, server: TrapWeights) -> Breach:
    """Read the images that sprang a trap alone off an update of the trapped model.

    Args:
        update: one participant's update, or the secure aggregate of several, computed on
            ``server.model``.
        server: the :class:`TrapWeights` the server sent and kept.

    Returns:
        A :class:`~.block.Breach`: the readings most rows agree on first.

    Raises:
        WrongTypeError: ``update`` is not a SharedUpdate or ``server`` not TrapWeights.
        AttackError: the update was not computed on this model, or mixes several local steps.
    """
    started = time.perf_counter()
    if not isinstance(server, TrapWeights):
        raise WrongTypeError(f"trap_attack takes the server's TrapWeights, got "
                             f"{type(server).__name__}")
    d_weight, d_bias = block_gradient(update, server, "trap_attack")
    strength = d_bias.abs()
    top = float(strength.max())
    hit = strength > HIT_TOLERANCE * top if top > 0 else torch.zeros_like(strength, dtype=bool)
    hits, n = int(hit.sum()), update.batch_size
    readings = ratio_readings(d_weight, d_bias, hit)
    if len(readings) == 0:
        return finish_breach(readings, update, server, hits=0, noisy=False, started=started,
                             what="row")
    in_box = (readings - readings.clamp(0, 1)).abs().amax(1) < 1e-3
    group = same_groups(readings, SAME)
    support = torch.bincount(group, minlength=len(readings))[group]
    # One reading per group, ranked by the rows that agree on it, then by lying in [0, 1].
    first = group == torch.arange(len(readings))
    key = (support * 2 + in_box.long()).masked_fill(~first, -1)
    ranked = [i for i in torch.argsort(key, descending=True, stable=True).tolist() if key[i] >= 0]
    chosen = _possible(readings, ranked, hit, server, n)
    noisy = hits == server.rows and server.rows > n and not bool((support > 1).any())
    return finish_breach(readings[chosen], update, server, hits=hits, noisy=noisy,
                         started=started, what="row", confirmed=support[chosen] > 1)
