"""What the curious server recovered, against the truth: scores and the figure.

Ground truth enters here and nowhere else. A captured update names its data partition only in
the experimenter's side channel (:attr:`~.strategy.Captured.partition`); with the task, the
partition and the round, :meth:`~.task.FlowerTask.private_batch` gives back the batch the
participant trained on, and :func:`dlgtut.metrics.score` compares it with the reconstruction.

Nothing here imports Flower; matplotlib and the metrics load when first used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..errors import DataError
from .task import FlowerTask

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["score_captured", "plot_reconstructions", "truth_of", "reconstruction_arrays"]


def truth_of(captured, task: FlowerTask, num_partitions: int | None = None):
    """The private batch behind a captured update (needs its partition).

    ``num_partitions`` defaults to the one the update's experiment record gives.
    """
    n = num_partitions or captured.num_partitions
    if captured.partition is None or n is None:
        raise DataError("this update does not say which partition it came from, so it "
                        "cannot be scored")
    return task.private_batch(captured.partition, n, captured.server_round)


def score_captured(captured: Sequence, task: FlowerTask,
                   num_partitions: int | None = None) -> list[dict[str, Any]]:
    """One row per captured update: who sent it, what the attack recovered, how well.

    Args:
        captured: :class:`~.strategy.Captured` updates (those without a reconstruction get
            no image scores).
        task: the federation's task.
        num_partitions: the number of partitions the data was dealt into (the clients);
            by default each update's own record says.

    Returns:
        Dicts with ``round``, ``node_id``, ``partition``, ``num_examples``, the participant's
        ``train_loss`` and ``train_accuracy`` (the received model on its own data), and, if
        attacked, ``psnr``, ``ssim``, ``mse``, ``label_accuracy``, ``status``,
        ``iterations`` and ``attack_seconds`` (None where not applicable).
    """
    from ..metrics import score  # scipy and scikit-image: loaded when scoring, not on import

    rows = []
    for c in captured:
        row: dict[str, Any] = {
            "round": c.server_round,
            "node_id": c.node_id,
            "partition": c.partition,
            "num_examples": c.update.batch_size,
            "train_loss": c.metrics.get("train-loss"),
            "train_accuracy": c.metrics.get("train-accuracy"),
            "psnr": None, "ssim": None, "mse": None, "label_accuracy": None,
            "status": None, "iterations": None,
            "attack_seconds": c.attack_seconds, "attack_error": c.attack_error,
        }
        rec = c.reconstruction
        if rec is not None and c.partition is not None:
            batch = truth_of(c, task, num_partitions)
            s = score(rec.images, rec.labels, batch.images, batch.labels)
            row.update(psnr=s.psnr, ssim=s.ssim, mse=s.mse, label_accuracy=s.label_accuracy,
                       status=rec.status, iterations=rec.iterations)
        rows.append(row)
    return rows


def plot_reconstructions(
    captured: Sequence,
    task: FlowerTask,
    num_partitions: int | None = None,
    *,
    max_clients: int = 8,
    title: str | None = None,
) -> Figure:
    """Each client's private images beside what the server recovered, round by round.

    One row per client (by partition, at most ``max_clients``), two panels per round: the
    private batch (truth) and the reconstruction, matched image by image, with the mean PSNR.

    Args:
        captured: attacked :class:`~.strategy.Captured` updates.
        task: the federation's task.
        num_partitions: the number of partitions (clients); by default the updates' own.
        max_clients: the most clients drawn.
        title: the figure title (a default says what is shown).

    Raises:
        DataError: no captured update has both a reconstruction and a partition.
    """
    import matplotlib.pyplot as plt

    from ..metrics import score
    from ..viz import BOOK_WIDTH, image_grid

    shown = [c for c in captured if c.reconstruction is not None and c.partition is not None]
    if not shown:
        raise DataError("no attacked update with a known partition to draw")
    clients = sorted({c.partition for c in shown})[:max_clients]
    rounds = sorted({c.server_round for c in shown})
    by_key = {(c.partition, c.server_round): c for c in shown}
    side = 1.15 * max(1, math.ceil(math.sqrt(task.examples_per_round())))
    width = min(BOOK_WIDTH, 0.9 + 2 * side * len(rounds))
    fig, axes = plt.subplots(len(clients), 2 * len(rounds), squeeze=False,
                             figsize=(width, 0.45 + 1.25 * side * len(clients) / 1.15),
                             layout="constrained")
    for i, p in enumerate(clients):
        for j, r in enumerate(rounds):
            ax_t, ax_r = axes[i, 2 * j], axes[i, 2 * j + 1]
            for ax in (ax_t, ax_r):
                ax.set_xticks([])
                ax.set_yticks([])
            c = by_key.get((p, r))
            if c is None:
                ax_t.set_axis_off()
                ax_r.set_axis_off()
                continue
            batch = truth_of(c, task, num_partitions)
            rec = c.reconstruction
            s = score(rec.images, rec.labels, batch.images, batch.labels)
            ordered = rec.images[torch.as_tensor(s.assignment)]
            for ax, images in ((ax_t, batch.images), (ax_r, ordered)):
                grid = image_grid(images)
                ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1,
                          interpolation="nearest")
            ax_t.set_title(f"round {r}: private", fontsize=8)
            colour = "black" if s.label_accuracy == 1 else "#c62828"
            ax_r.set_title(f"recovered, {s.psnr:.0f} dB", fontsize=8, color=colour)
            if j == 0:
                ax_t.set_ylabel(f"client {p}", fontsize=9)
    fig.suptitle(title or "What the curious Flower server recovered from each client's update"
                 "\n(left of each pair: the private batch; right: the reconstruction)",
                 fontsize=10)
    return fig


def reconstruction_arrays(captured: Sequence, task: FlowerTask,
                          num_partitions: int | None = None) -> dict[str, Any]:
    """The recovered images and the truth as float32 arrays, for ``numpy.savez``.

    Keys ``client{p}_round{r}_recovered`` and ``client{p}_round{r}_truth``; the recovered
    images are matched to the truth image by image (:func:`dlgtut.metrics.match`), so the
    ``i``-th recovered image is the attacker's guess for the ``i``-th private one.
    """
    import numpy as np

    from ..metrics import match

    arrays = {}
    for c in captured:
        if c.reconstruction is None or c.partition is None:
            continue
        truth = truth_of(c, task, num_partitions)
        rec = c.reconstruction.images
        order = match(rec.double().clamp(0, 1), truth.images.double())
        key = f"client{c.partition}_round{c.server_round}"
        arrays[f"{key}_recovered"] = rec[order].numpy().astype(np.float32)
        arrays[f"{key}_truth"] = truth.images.numpy().astype(np.float32)
    return arrays
