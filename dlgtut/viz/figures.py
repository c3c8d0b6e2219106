"""Figures and animations of an attack: what was stolen, how it emerged, how the optimiser went.

* :func:`image_grid`: a batch as one array for ``imshow`` (torchvision's ``make_grid``).
* :func:`plot_comparison`: ground truth above its reconstruction, with labels and scores.
* :func:`plot_progress`: one image at successive iterations, the figure of the DLG paper.
* :func:`plot_distance`: the gradient distance per iteration, on a log axis.
* :func:`save_gif`: the whole batch emerging from noise, as an animated GIF (Pillow).

Images are ``N x C x H x W`` tensors with one (grey) or three (RGB) channels; they are clamped to
[0, 1] for display (NaN, from a diverged run, shows as 0) and shown pixel for pixel
(``interpolation="nearest"``). The plotting functions return a matplotlib
:class:`~matplotlib.figure.Figure` made with ``pyplot`` and never call ``plt.show()``; in a
notebook write ``fig = plot_...(...)`` (or end the line with ``;``) so the figure is drawn once,
and ``plt.close(fig)`` when making many.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch  # noqa: F401 (the doctests use it)
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from ..attacks.result import Snapshot
from ..checks import array, instance, integer
from ..errors import ConfigError, DataError
from ..fl import as_labels
from ..metrics import Scores, match
from .grid import _check_batch, _check_history, _to_display, image_grid
from .panel import panel

__all__ = [
    "image_grid",
    "plot_comparison",
    "plot_progress",
    "plot_distance",
]

BOOK_WIDTH = 10.0
"""Width in inches of the widest figures, the width of the book's text column at print size."""

_WRONG = "#c62828"  # title colour of a wrongly recovered label


def _show(ax: Axes, image: Tensor) -> None:
    """Draw one ``C x H x W`` image in [0, 1] pixel for pixel, without axes."""
    array = _to_display(image)
    if array.ndim == 2:
        ax.imshow(array, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(array, interpolation="nearest")
    ax.set_axis_off()


def _row_label(ax: Axes, text: str, fontsize: float) -> None:
    """A bold label left of a row of images (visible although the axes are off)."""
    ax.text(
        -0.12,
        0.5,
        text,
        transform=ax.transAxes,
        rotation=90,
        ha="right",
        va="center",
        fontsize=fontsize,
        fontweight="bold",
    )


def plot_comparison(
    truth: Tensor,
    reconstruction: Tensor,
    *,
    true_labels: Tensor | Sequence[int] | None = None,
    pred_labels: Tensor | Sequence[int] | None = None,
    scores: Scores | None = None,
    title: str | None = None,
    max_cols: int = 10,
) -> Figure:
    """Ground truth above its reconstruction, one column per image.

    The top row shows the private images (with their labels), the bottom row the reconstruction
    (with the recovered label, red and marked ``✗`` where wrong, and the image's PSNR and SSIM
    when ``scores`` are given). With ``scores``, reconstruction ``scores.assignment[i]`` is drawn
    under true image ``i``, so each column is a matched pair; without, columns pair by position.
    More than ``max_cols`` images wrap into further pairs of rows.

    Args:
        truth: ``N x C x H x W`` private images.
        reconstruction: ``N x C x H x W`` reconstructed images (clamped to [0, 1] for display).
        true_labels: ``N`` true labels, shown above the truth.
        pred_labels: ``N`` recovered labels, in the order of ``reconstruction``.
        scores: the result of :func:`dlgtut.metrics.score` on this pair, for the matching and the
            per-image PSNR and SSIM.
        title: the figure title; by default it says which row is which and, with ``scores``,
            gives the batch means.
        max_cols: the most image columns in one row.

    Returns:
        The figure, ``2 N`` image axes (plus blank ones filling the last wrapped row).

    Raises:
        DataError: the batches or labels disagree in size, labels are not integers, or
            ``scores`` is for another batch.
        ConfigError: ``max_cols`` is not a positive integer.
        WrongTypeError: ``scores`` is not a :class:`~dlgtut.metrics.Scores`.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> x = torch.rand(3, 1, 8, 8)
        >>> fig = plot_comparison(x, x, true_labels=[1, 2, 3], pred_labels=[1, 2, 3])
        >>> len([ax for ax in fig.axes if ax.images])
        6
    """
    top = _check_batch(truth, "truth")
    bottom = _check_batch(reconstruction, "reconstruction")
    if top.shape != bottom.shape:
        raise DataError(
            f"truth and reconstruction shapes differ: {tuple(top.shape)} vs {tuple(bottom.shape)}"
        )
    integer(max_cols, "max_cols", low=1)
    n = top.shape[0]
    labels: dict[str, list[int] | None] = {}
    for name, given in (("true_labels", true_labels), ("pred_labels", pred_labels)):
        values = None if given is None else as_labels(given, name).tolist()
        if values is not None and len(values) != n:
            raise DataError(f"{name} has {len(values)} entries for {n} images")
        labels[name] = values
    order = list(range(n))
    if scores is not None:
        instance(scores, Scores, "scores")
        order = list(scores.assignment)
        if sorted(order) != list(range(n)) or len(scores.per_image.get("psnr", [])) != n:
            raise DataError(f"scores are for a batch of {len(order)} images, not {n}")
    bottom = bottom[order]
    true_l, pred_l = labels["true_labels"], labels["pred_labels"]
    if pred_l is not None:
        pred_l = [pred_l[j] for j in order]

    ncols = min(n, max_cols)
    blocks = math.ceil(n / ncols)
    cell = min(1.4, (BOOK_WIDTH - 0.6) / ncols)  # inches per image
    fontsize = 9.0 if ncols <= 8 else 8.0
    top_title = 0.25 if true_l is not None else 0.05
    bottom_lines = (pred_l is not None) + 2 * (scores is not None)
    bottom_title = 0.05 + 0.17 * bottom_lines
    fig_w = max(ncols * cell + 0.6, 5.0)  # room for the title
    fig_h = blocks * (2 * cell + top_title + bottom_title + 0.15) + 0.7
    fig, axes = plt.subplots(
        2 * blocks, ncols, figsize=(fig_w, fig_h), squeeze=False, layout="constrained"
    )
    for i in range(blocks * ncols):
        ax_t, ax_b = axes[2 * (i // ncols), i % ncols], axes[2 * (i // ncols) + 1, i % ncols]
        if i >= n:
            ax_t.set_axis_off()
            ax_b.set_axis_off()
            continue
        _show(ax_t, top[i])
        _show(ax_b, bottom[i])
        if true_l is not None:
            ax_t.set_title(f"label {true_l[i]}", fontsize=fontsize)
        lines, colour = [], "black"
        if pred_l is not None:
            wrong = true_l is not None and pred_l[i] != true_l[i]
            lines.append(f"label {pred_l[i]}" + (" ✗" if wrong else ""))
            colour = _WRONG if wrong else colour
        if scores is not None:
            lines.append(f"{scores.per_image['psnr'][i]:.1f} dB")
            lines.append(f"SSIM {scores.per_image['ssim'][i]:.2f}")
        if lines:
            ax_b.set_title("\n".join(lines), fontsize=fontsize, color=colour, linespacing=1.1)
        if i % ncols == 0:
            _row_label(ax_t, "ground truth", fontsize)
            _row_label(ax_b, "reconstruction", fontsize)
    if title is None:
        title = "Ground truth (top) and its reconstruction (bottom)"
        if scores is not None:
            title += (
                f"\nmean PSNR {scores.psnr:.1f} dB, mean SSIM {scores.ssim:.3f}, "
                f"label accuracy {scores.label_accuracy:.0%}"
            )
    fig.suptitle(title, fontsize=11)
    return fig


def _even_picks(count: int, most: int) -> list[int]:
    """``min(count, most)`` evenly spaced indices into ``range(count)``, first and last included."""
    if count <= most:
        return list(range(count))
    if most == 1:
        return [count - 1]
    picks = np.floor(np.linspace(0, count - 1, most) + 0.5).astype(int)
    return sorted(set(picks.tolist()))


def plot_progress(
    history: Sequence[Snapshot],
    truth: Tensor | None = None,
    *,
    index: int = 0,
    max_frames: int = 30,
    ncols: int = 10,
    title: str | None = None,
) -> Figure:
    """One image emerging from noise, snapshot by snapshot: the figure of the DLG paper.

    The ground truth (if given) comes first, titled ``ground truth``, then image ``index`` of each
    snapshot titled ``iter=k``, at most ``ncols`` to a row (the rows are balanced: 31 panels make
    4 rows of 8). Of more than ``max_frames`` snapshots, ``max_frames`` evenly spaced ones are
    shown, the first and the last among them. An attack recovers a batch in any order, so the
    true image shown is the one that the last snapshot's image ``index`` matches
    (:func:`dlgtut.metrics.match`), which need not be ``truth[index]``.

    Args:
        history: the attack's snapshots (``Reconstruction.history``), in order.
        truth: the private batch ``N x C x H x W`` (image ``index`` is shown) or one
            ``C x H x W`` image.
        index: which image of the batch to follow.
        max_frames: the most snapshots shown.
        ncols: images per row.
        title: the figure title; by default ``"Reconstruction of image <index>"``.

    Returns:
        The figure: ``min(len(history), max_frames)`` snapshot images, plus one for the truth.

    Raises:
        DataError: the history is empty or of mixed shapes, or ``truth`` does not fit it.
        ConfigError: ``index`` is not in the batch, or ``max_frames`` or ``ncols`` is not an
            integer of at least 1.
        WrongTypeError: ``history`` is not a list of Snapshots.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from dlgtut.attacks.result import Snapshot
        >>> history = [Snapshot(k, torch.rand(2, 1, 8, 8), 1.0 / (k + 1)) for k in range(50)]
        >>> fig = plot_progress(history, max_frames=5)
        >>> [ax.get_title() for ax in fig.axes if ax.images]
        ['iter=0', 'iter=12', 'iter=25', 'iter=37', 'iter=49']
    """
    batches = _check_history(history)
    n = batches[0].shape[0]
    integer(index, "index")
    if not 0 <= index < n:
        raise ConfigError(f"index must lie in [0, {n - 1}] for a batch of {n}, got {index}")
    integer(max_frames, "max_frames")
    integer(ncols, "ncols")
    if max_frames < 1 or ncols < 1:
        raise ConfigError(f"max_frames and ncols must be at least 1, got {max_frames}, {ncols}")
    panels: list[tuple[str, Tensor]] = []
    if truth is not None:
        if isinstance(truth, Tensor) and truth.ndim == 3:
            truth = truth.unsqueeze(0)
            true_image = _check_batch(truth, "truth")[0]
        else:
            true_batch = _check_batch(truth, "truth")
            if true_batch.shape != batches[0].shape:
                raise DataError(
                    f"truth has shape {tuple(true_batch.shape)}, the snapshots "
                    f"{tuple(batches[0].shape)}"
                )
            # The attack recovers the batch in any order: show the true image that the last
            # snapshot's image `index` matches (metrics.match), not simply truth[index].
            perm = match(batches[-1], true_batch).tolist()
            true_image = true_batch[perm.index(index)]
        if true_image.shape != batches[0].shape[1:]:
            raise DataError(
                f"truth images are {tuple(true_image.shape)}, snapshot images "
                f"{tuple(batches[0].shape[1:])}"
            )
        panels.append(("ground truth", true_image))
    for i in _even_picks(len(history), max_frames):
        panels.append((f"iter={history[i].iteration}", batches[i][index]))

    rows = math.ceil(len(panels) / ncols)
    cols = math.ceil(len(panels) / rows)  # balance the rows: 31 panels as 4 x 8, not 3 x 10 + 1
    cell = min(1.2, BOOK_WIDTH / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(cols * cell, rows * (cell + 0.25) + 0.5),
        squeeze=False,
        layout="constrained",
    )
    for k, ax in enumerate(axes.flat):
        if k >= len(panels):
            ax.set_axis_off()
            continue
        name, image = panels[k]
        _show(ax, image)
        is_truth = truth is not None and k == 0
        ax.set_title(name, fontsize=9, fontweight="bold" if is_truth else "normal")
    fig.suptitle(title if title is not None else f"Reconstruction of image {index}", fontsize=11)
    return fig


def plot_distance(
    distances: Sequence[float],
    *,
    ax: Axes | None = None,
    label: str | None = None,
) -> Figure:
    """The gradient distance after every iteration, on a log axis.

    Iterations are numbered from 1 (``distances[0]`` is the distance after the first step).
    Pass ``ax`` and ``label`` to draw several runs on one axis; a legend appears once a curve
    has a label.

    Args:
        distances: the distances, e.g. ``Reconstruction.distances``.
        ax: an axis to draw on; by default a new figure.
        label: the curve's legend entry.

    Returns:
        The figure holding the axis.

    Raises:
        DataError: ``distances`` is empty or not a list of numbers.
        WrongTypeError: ``ax`` is not a matplotlib Axes.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> fig = plot_distance([1.0, 0.1, 0.01], label="run 1")
        >>> fig.axes[0].get_yscale(), fig.axes[0].get_xlabel()
        ('log', 'iteration')
    """
    values = array(distances, "distances", ndim=1, finite=False)  # a diverged run ends in NaN
    if values.size == 0:
        raise DataError("no distances to plot")
    fig, ax, own = panel(ax, (8.0, 3.6))
    ax.plot(np.arange(1, values.size + 1), values, label=label, linewidth=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("gradient distance")
    ax.set_title("Gradient distance during the attack")
    ax.grid(True, which="major", alpha=0.3)
    if any(not line.get_label().startswith("_") for line in ax.get_lines()):
        ax.legend()
    if own:
        fig.tight_layout()
    return fig


