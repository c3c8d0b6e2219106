"""The figure a plotting function draws on: the caller's, or one of its own.

A function that takes ``ax=`` draws one panel. Given a caller's axes, it leaves the figure's
layout to the caller, who may put many panels in it and lays it out once; on a figure of its
own it lays itself out.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..checks import axes

__all__ = ["panel"]


def panel(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes, bool]:
    """``(figure, axes, own)``: ``ax`` and its top-level figure (``own`` False), or a new
    figure of ``figsize`` and its one axes (``own`` True).

    Raises:
        WrongTypeError: ``ax`` is neither None nor a matplotlib Axes.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax, own = panel(None, (2, 2))
        >>> own, panel(ax, (9, 9)) == (fig, ax, False)
        (True, True)
        >>> plt.close(fig)
    """
    axes(ax)
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax, True
    fig = ax.figure
    while not isinstance(fig, Figure):  # a SubFigure: go up to the Figure
        fig = fig.figure
    return fig, ax, False
