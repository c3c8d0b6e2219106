"""Figures for the text attack: recovered sentences beside the truth, wrong words in red.

Example:
    >>> from dlgtut.text import default_vocabulary
    >>> vocab = default_vocabulary()
    >>> truth = torch.tensor([vocab.encode("Mr. Bennet made no answer.")])
    >>> guess = torch.tensor([vocab.encode("Mr. Bennet made an answer.")])
    >>> fig = plot_sentences(truth, guess, vocab)
    >>> len(fig.axes)
    1
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch  # noqa: F401 (the doctests use it)
from matplotlib.figure import Figure
from torch import Tensor

from ..checks import array, instance, integer
from ..errors import DataError
from ..text import Vocabulary, as_token_ids
from .panel import panel

__all__ = ["plot_sentences", "plot_distances"]

_RIGHT, _WRONG, _GREY = "#1b5e20", "#c62828", "#555555"


def _rows(tokens: list[str], width: int) -> list[list[tuple[int, str]]]:
    """Tokens laid out in lines of at most ``width`` characters: (column, token) pairs."""
    lines: list[list[tuple[int, str]]] = [[]]
    col = 0
    for tok in tokens:
        if col and col + len(tok) > width:
            lines.append([])
            col = 0
        lines[-1].append((col, tok))
        col += len(tok) + 1
    return lines


def plot_sentences(
    truth: Tensor,
    recovered: Tensor,
    vocab: Vocabulary,
    *,
    titles: Sequence[str] | None = None,
    width: int = 64,
) -> Figure:
    """The true sentences and the recovered ones, token by token; wrong tokens in red.

    Both are ``N x T`` token ids, already paired row by row (see
    :func:`~dlgtut.attacks.gradient.text.sentence_assignment`). Each token is given the width of
    the longer of its true and recovered word, so the two lines stay aligned.

    Args:
        truth: the private token ids.
        recovered: the attacker's token ids, row ``i`` paired with ``truth[i]``.
        vocab: the vocabulary that decodes them.
        titles: a heading per sentence (default: ``sentence i: k of T tokens right``).
        width: characters per printed line before wrapping.

    Raises:
        DataError: ids that are not integers of the vocabulary (a float id is refused, not
            truncated; a negative one would have shown the last word), shapes that differ,
            or titles that do not fit.
        WrongTypeError: ``vocab`` is not a Vocabulary.
        ConfigError: ``width`` is not a positive integer.
    """
    instance(vocab, Vocabulary, "vocab")
    truth = as_token_ids(truth, "truth", vocab_size=len(vocab))
    recovered = as_token_ids(recovered, "recovered", vocab_size=len(vocab))
    integer(width, "width", low=1)
    if truth.ndim != 2 or truth.shape != recovered.shape or truth.numel() == 0:
        raise DataError(
            f"need two N x T id tensors of one shape, got {tuple(truth.shape)} and "
            f"{tuple(recovered.shape)}"
        )
    if titles is not None and (isinstance(titles, str) or not isinstance(titles, Sequence)):
        raise DataError(f"titles must be a list of strings, one per sentence, got "
                        f"{type(titles).__name__}")
    if titles is not None and len(titles) != len(truth):
        raise DataError(f"{len(titles)} titles for {len(truth)} sentences")
    blocks = []
    for i, (t_row, r_row) in enumerate(zip(truth.tolist(), recovered.tolist(), strict=True)):
        t_words = [vocab.itos[j] for j in t_row]
        r_words = [vocab.itos[j] for j in r_row]
        cells = [max(len(a), len(b)) for a, b in zip(t_words, r_words, strict=True)]
        padded = ["x" * c for c in cells]
        right = sum(a == b for a, b in zip(t_row, r_row, strict=True))
        title = titles[i] if titles else f"sentence {i + 1}: {right} of {len(t_row)} tokens right"
        blocks.append((title, _rows(padded, width), t_words, r_words, t_row, r_row))
    n_lines = sum(1 + 2 * len(lines) + 1 for _, lines, *_ in blocks)
    fig = plt.figure(figsize=(0.08 * (width + 12), 0.22 * n_lines + 0.2))  # mono 9 pt: 0.075 in
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-11, width + 1)
    ax.set_ylim(n_lines, 0)
    ax.axis("off")
    y = 0.5
    style = {"family": "monospace", "fontsize": 9, "va": "center"}
    for title, lines, t_words, r_words, t_row, r_row in blocks:
        ax.text(-11, y, title, fontweight="bold", fontsize=9, va="center")
        y += 1
        k = 0
        for line in lines:
            ax.text(-11, y, "truth", color=_GREY, **style)
            ax.text(-11, y + 1, "recovered", color=_GREY, **style)
            for col, _ in line:
                ok = t_row[k] == r_row[k]
                ax.text(col, y, t_words[k], color="black", **style)
                ax.text(col, y + 1, r_words[k], color=_RIGHT if ok else _WRONG,
                        fontweight="normal" if ok else "bold", **style)
                k += 1
            y += 2
        y += 1
    return fig


def plot_distances(distances: Sequence[float], *, ax=None) -> Figure:
    """The gradient distance after every L-BFGS step of the text attack, on a log scale."""
    values = array(distances, "distances", ndim=1, finite=False)  # a diverged run ends in NaN
    if not len(values):
        raise DataError("no distances to plot")
    fig, ax, own = panel(ax, (5, 3))
    values = [max(float(d), 1e-20) for d in values]  # an exact match plots at the floor
    ax.semilogy(range(1, len(values) + 1), values, marker=".")
    ax.set_xlabel("L-BFGS step")
    ax.set_ylabel("gradient distance")
    ax.set_title("text DLG: matching the shared gradient")
    ax.grid(alpha=0.3)
    if own:
        fig.tight_layout()
    return fig
