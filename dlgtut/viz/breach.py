"""Figures of a malicious-server attack: a closed-form read-out has no progress to show.

* :func:`plot_breach_grid`: the private images beside what the server read off the update, as
  two tiled grids (one image per cell, hundreds of them at once), those that did not come back
  exactly framed in red.
* :func:`plot_breach`: the PSNR of every private image, sorted, against the 40 dB line, and how
  the images fell into the block's rows (a row caught by one image gives it back exactly).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor

from ..errors import DataError
from ..metrics import EXACT_PSNR_DB, Scores
from .figures import BOOK_WIDTH
from .grid import _check_batch, image_grid

__all__ = ["plot_breach_grid", "plot_breach"]

_MISS = "#c62828"
_HIT = "#2e7d32"


def plot_breach_grid(
    truth: Tensor,
    reconstruction: Tensor,
    scores: Scores,
    *,
    threshold_db: float = EXACT_PSNR_DB,
    title: str | None = None,
) -> Figure:
    """The private images (left) beside their matched reconstructions (right).

    Cell ``i`` of the right grid is the reconstruction that ``scores`` paired with true image
    ``i``; reconstructions at or below ``threshold_db`` are framed in red.

    Args:
        truth: ``N x C x H x W`` private images.
        reconstruction: ``N x C x H x W`` what the attack returned, in its own order.
        scores: :func:`dlgtut.metrics.score_images` of this pair.
        threshold_db: the PSNR that counts as exact.
        title: the figure title; by default it says which side is which and how many came back.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from dlgtut.metrics import score_images
        >>> x = torch.rand(5, 1, 8, 8)
        >>> fig = plot_breach_grid(x, x.flip(0), score_images(x.flip(0), x))
        >>> len(fig.axes)
        2
    """
    top = _check_batch(truth, "truth")
    rec = _check_batch(reconstruction, "reconstruction")
    n = top.shape[0]
    if rec.shape != top.shape or len(scores.assignment) != n:
        raise DataError(f"truth, reconstruction and scores disagree: {tuple(top.shape)}, "
                        f"{tuple(rec.shape)}, {len(scores.assignment)} pairs")
    ordered = rec[torch.as_tensor(scores.assignment)]
    nrow = math.ceil(math.sqrt(n))
    pad = 2
    fig, axes = plt.subplots(1, 2, figsize=(BOOK_WIDTH, BOOK_WIDTH / 2 + 0.8),
                             layout="constrained")
    cmap = "gray" if top.shape[1] == 1 else None
    for ax, batch, name in ((axes[0], top, "ground truth"), (axes[1], ordered, "read off the "
                                                                   "update")):
        ax.imshow(image_grid(batch, nrow=nrow, padding=pad), cmap=cmap, vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
    h, w = top.shape[2:]
    psnr = scores.per_image["psnr"]
    for i in range(n):
        if psnr[i] <= threshold_db:
            r, c = divmod(i, nrow)
            axes[1].add_patch(Rectangle((pad + c * (w + pad) - 1.5, pad + r * (h + pad) - 1.5),
                                        w + 2, h + 2, fill=False, edgecolor=_MISS, lw=1.2))
    exact = sum(p > threshold_db for p in psnr)
    if title is None:
        title = (f"Private images (left) and what the server read off the update (right)\n"
                 f"{exact} of {n} above {threshold_db:g} dB; red frame: not exact")
    fig.suptitle(title, fontsize=11)
    return fig


def plot_breach(
    psnr: Sequence[float],
    occupancy: Sequence[int] | Tensor | None = None,
    *,
    threshold_db: float = EXACT_PSNR_DB,
    row_name: str = "bin",
    title: str | None = None,
) -> Figure:
    """PSNR of every private image, sorted, and how many images each hit row caught.

    Args:
        psnr: the PSNR of every private image (``scores.per_image["psnr"]``).
        occupancy: for every row (bin) of the block, how many private images it caught (rows
            that caught none are left out); None for the PSNR panel only.
        threshold_db: the PSNR that counts as exact, drawn as a line.
        row_name: what a row is called ("bin" for the imprint, "row" for trap weights).
        title: the figure title.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> fig = plot_breach([100.0, 100.0, 14.2, 12.0], [1, 1, 2, 0])
        >>> len(fig.axes)
        2
    """
    values = np.sort(np.asarray(list(psnr), dtype=float))[::-1]
    if values.size == 0:
        raise DataError("no PSNR values to plot")
    panels = 1 if occupancy is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(BOOK_WIDTH, 3.4), layout="constrained",
                             squeeze=False)
    ax = axes[0, 0]
    colours = [_HIT if v > threshold_db else _MISS for v in values]
    ax.bar(np.arange(1, values.size + 1), values, width=1.0, color=colours)
    ax.axhline(threshold_db, color="black", ls="--", lw=1)
    ax.text(values.size, threshold_db + 2, f"{threshold_db:g} dB: exact", ha="right", fontsize=8)
    ax.set_xlabel("private image (sorted by PSNR)")
    ax.set_ylabel("PSNR of its reconstruction (dB)")
    exact = int((values > threshold_db).sum())
    ax.set_title(f"{exact} of {values.size} images recovered exactly", fontsize=10)
    if occupancy is not None:
        counts = torch.as_tensor(occupancy).detach().cpu().flatten().long()
        counts = counts[counts > 0]
        ax = axes[0, 1]
        if counts.numel():
            most = int(counts.max())
            histogram = torch.bincount(counts, minlength=most + 1)[1:].numpy()
            ax.bar(np.arange(1, most + 1), histogram,
                   color=[_HIT] + [_MISS] * (most - 1))
            ax.set_xticks(np.arange(1, most + 1))
        ax.set_xlabel(f"private images caught by the {row_name}")
        ax.set_ylabel(f"{row_name}s")
        ax.set_title(f"{row_name}s hit by one image give it back exactly", fontsize=10)
    fig.suptitle(title or "What the closed-form read-out got", fontsize=11)
    return fig
