"""Robbing the Fed (Fowl et al., ICLR 2022): an imprint block that bins images by one statistic.

The server picks a linear statistic ``s(x) = m . x`` of an image (its average brightness, or a
fixed random projection) and estimates its distribution on public data. Every row of the block
is the same measurement ``m`` with its own threshold ``t_i`` at a quantile of that
distribution, so row ``i`` fires for every image with ``s(x) > t_i`` (the paper's "cumulative"
structure). Because the readout weights are all equal, an image sends the same gradient ``g``
into every row it activates, and the difference of two consecutive rows keeps only the images
of one bin ``t_i < s(x) <= t_{i+1}``:

.. math::
    \\frac{\\nabla_{W_i} L - \\nabla_{W_{i+1}} L}{\\nabla_{b_i} L - \\nabla_{b_{i+1}} L}
    = \\frac{\\sum_{x \\in \\text{bin } i} g(x)\\, x}{\\sum_{x \\in \\text{bin } i} g(x)}

A bin hit by one image gives that image back exactly; a bin hit by several gives a weighted
blend. With ``k`` bins of equal probability and ``N`` images, an image is alone in its bin with
probability :math:`(1 - 1/k)^{N-1}`: about 78 % for ``k = 4N``. Nothing is optimised: the attack
is two subtractions and a division, whatever the batch size.
"""

from __future__ import annotations

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
)

__all__ = ["Imprint", "STATISTICS", "imprint_model", "imprint_attack", "bin_boundaries"]

STATISTICS = ("brightness", "random")
"""The statistics an imprint can bin by: the mean of all pixels, or a fixed random projection."""

HIT_TOLERANCE = 1e-5
"""A bin counts as hit when its bias gradient exceeds this fraction of the largest bin's: what
float32 rounding leaves in an empty bin is orders of magnitude below it."""


@dataclass(frozen=True, eq=False, kw_only=True)
class Imprint(MaliciousModel):
    """An imprint block in front of an ordinary model: what is sent, and the server's secret.

    Attributes:
        boundaries: ``k`` ascending thresholds (float64). Row ``i`` fires for ``s(x) > t_i``;
            bin ``i`` is ``t_i < s(x) <= t_{i+1}`` (the last bin is open above). ``t_0`` lies
            below the statistic of any image in [0, 1], so every image is in some bin.
        measurement: the ``C H W`` vector ``m`` of the statistic ``s(x) = m . x`` (float64).
        statistic: ``"brightness"`` or ``"random"``.
        requested: the bins asked for; ``rows`` can be fewer when the public statistic has
            ties (two images with the same statistic can never be told apart).
        public_images: how many public images the thresholds were estimated on.
    """

    boundaries: Tensor
    measurement: Tensor
    statistic: str
    requested: int
    public_images: int

    def statistic_of(self, images: Tensor) -> Tensor:
        """``s(x)`` of every image in ``images`` (``N x C x H x W``), in float64."""
        return images.detach().cpu().double().flatten(1) @ self.measurement

    def bin_of(self, images: Tensor) -> Tensor:
        """The bin every image falls into, as the block sorts it (``N`` int64)."""
        s = self.statistic_of(images)
        return torch.searchsorted(self.boundaries, s, right=False) - 1

    def occupancy(self, images: Tensor) -> Tensor:
        """How many of ``images`` fall into each bin (for figures: the attack never has them)."""
        return torch.bincount(self.bin_of(images).clamp(min=0), minlength=self.rows)


def _measurement(statistic: str, features: int, seed: int) -> Tensor:
    """The vector ``m`` of the statistic ``s(x) = m . x``."""
    if statistic == "brightness":
        return torch.full((features,), 1.0 / features, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(features, generator=gen, dtype=torch.float64) / math.sqrt(features)


def bin_boundaries(values: Tensor, bins: int, floor: float) -> Tensor:
    """Thresholds that split ``values`` into ``bins`` bins of (nearly) equal counts.

    The first threshold is ``floor``; the others are the quantiles ``i / bins`` of ``values``
    (interpolated between neighbouring values, so there can be more bins than values).
    Quantiles that coincide merge: a statistic with ties gives fewer bins, because two images
    with the same statistic can never be told apart.

    Args:
        values: the statistic of the public images.
        bins: the bins wanted, at least 1.
        floor: a threshold below every value the statistic can take.

    Returns:
        Ascending float64 thresholds, ``floor`` first; at most ``bins`` of them.

    Example:
        >>> bin_boundaries(torch.tensor([0.25, 0.5, 0.5, 0.75]), 4, -1.0).tolist()
        [-1.0, 0.4375, 0.5, 0.5625]
        >>> bin_boundaries(torch.tensor([0.5, 0.5, 0.5]), 3, -1.0).tolist()  # ties merge
        [-1.0, 0.5]
    """
    check_rows(bins)
    v = values.detach().double().flatten()
    levels = torch.arange(1, bins, dtype=torch.float64) / bins
    inner = torch.unique(torch.quantile(v, levels)) if bins > 1 else v.new_zeros(0)
    return torch.cat([torch.tensor([floor], dtype=torch.float64), inner[inner > floor]])


def imprint_model(
    model: nn.Module,
    public: Tensor,
    *,
    bins: int,
    statistic: str = "brightness",
    seed: int = 0,
    gain: float = 1e-3,
    scale: float = 1.0,
) -> Imprint:
    """Put an imprint block with ``bins`` rows in front of ``model`` (Fowl et al., 2022).

    Args:
        model: the ordinary model the participants expect; it is copied, not changed.
        public: ``P x C x H x W`` public images in [0, 1] (``P >= 2``) like the participants'
            data: the thresholds are quantiles of their statistic.
        bins: rows of the block, at least 1. About four per image the server expects in the
            update it will attack (batch size times participants) leaves 78 % of the images
            alone in their bin when the public statistic matches the private one.
        statistic: ``"brightness"`` (the mean pixel) or ``"random"`` (a projection on a fixed
            random direction drawn from ``seed``: continuous where brightness has ties).
        seed: seed of the random direction.
        gain: the most the block may shift a pixel: the ordinary model sees the image plus at
            most this much, so it still trains (and looks) as usual.
        scale: the size of the block's gradients, which the server is free to choose: the rows
            are divided by ``scale`` and the readout multiplied by it, so the model computes the
            same function while the block's gradients grow ``scale`` times (against noise of a
            fixed size on the update).

    Returns:
        The :class:`Imprint`: ``.model`` goes to the participants, the rest stays.

    Raises:
        ConfigError: ``bins`` below 1 (or above :data:`~.block.MAX_ROWS`), an unknown statistic,
            a ``gain`` that is not positive, or a model without room for the block.
        DataError: fewer than 2 public images, or images outside [0, 1].

    Example:
        >>> from dlgtut.models import LeNet
        >>> public = torch.rand(50, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> lure = imprint_model(LeNet(1, 10, 8, seed=0), public, bins=16)
        >>> lure.rows, len(list(lure.model.parameters()))
        (16, 11)
    """
    bins = check_rows(bins)
    for name, value in (("gain", gain), ("scale", scale)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a positive number, got {value!r}")
    if statistic not in STATISTICS:
        raise ConfigError(f"unknown statistic {statistic!r}; choose from {', '.join(STATISTICS)}")
    pub = check_public(public)
    shape = tuple(int(s) for s in pub.shape[1:])
    features = math.prod(shape)
    m = _measurement(statistic, features, seed)
    lowest, highest = float(m.clamp(max=0).sum()), float(m.clamp(min=0).sum())
    floor = lowest - 1.0  # below s(x) for every x in [0, 1]^D
    thresholds = bin_boundaries(pub.flatten(1) @ m, bins, floor)
    k = len(thresholds)
    # Every pixel gets the same small share of every row: at most `gain` in all.
    share = scale * gain / (k * (highest - floor))
    readout = torch.full((features, k), share, dtype=torch.float64)
    block = MaliciousBlock(shape, m.repeat(k, 1) / scale, -thresholds / scale, readout)
    sent = insert_block(model, block)
    return Imprint(model=sent, input_shape=shape, rows=k, method="imprint",
                   boundaries=thresholds, measurement=m, statistic=statistic, requested=bins,
                   public_images=int(pub.shape[0]))


def imprint_attack(update: SharedUpdate, server: Imprint) -> Breach:
    """Read every image that is alone in its bin off an update of the imprinted model.

    Args:
        update: what the server received: one participant's update, or the secure aggregate
            of several (:func:`dlgtut.defenses.secure_aggregate`), computed on
            ``server.model``. A FedAvg update of one local step works too.
        server: the :class:`Imprint` the server sent and kept.

    Returns:
        A :class:`~.block.Breach` with one slot per image behind the update, the readings in
        bin order (ascending statistic) first.

    Raises:
        WrongTypeError: ``update`` is not a SharedUpdate (a PrivateBatch, say) or ``server``
            is not an Imprint.
        AttackError: the update was not computed on this model, or mixes several local steps.

    Example:
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> from dlgtut.models import LeNet
        >>> gen = torch.Generator().manual_seed(0)
        >>> lure = imprint_model(LeNet(1, 10, 8, seed=0), torch.rand(99, 1, 8, 8, generator=gen),
        ...                      bins=8)
        >>> x = torch.rand(1, 1, 8, 8, generator=gen)
        >>> breach = imprint_attack(Participant(lure.model).fedsgd(PrivateBatch(x, [3])), lure)
        >>> breach.status, bool((breach.images - x).abs().max() < 1e-6)
        ('recovered', True)
    """
    started = time.perf_counter()
    if not isinstance(server, Imprint):
        raise WrongTypeError(f"imprint_attack takes the server's Imprint, got "
                             f"{type(server).__name__}")
    d_weight, d_bias = block_gradient(update, server, "imprint_attack")
    # Bin i holds the images that fire row i but not row i + 1.
    bin_weight, bin_bias = d_weight.clone(), d_bias.clone()
    bin_weight[:-1] -= d_weight[1:]
    bin_bias[:-1] -= d_bias[1:]
    strength = bin_bias.abs()
    hit = strength > HIT_TOLERANCE * float(strength.max()) if strength.max() > 0 else \
        torch.zeros_like(strength, dtype=torch.bool)
    hits = int(hit.sum())
    n = update.batch_size
    noisy = hits > n
    if noisy:  # keep the n strongest bins, in bin order
        strongest = torch.topk(torch.where(hit, strength, -1.0), n).indices
        hit = torch.zeros_like(hit)
        hit[strongest] = True
    readings = ratio_readings(bin_weight, bin_bias, hit)
    return finish_breach(readings, update, server, hits=hits, noisy=noisy, started=started,
                         what="bin")
