"""Flower's architecture in one diagram, and where the curious server looks.

:func:`draw_flower` draws a Flower federation as the Message API builds it: ``flwr run``
submits an app to the SuperLink, which runs the ServerApp and its strategy; SuperNodes run the
ClientApp next to their private data. In a round the strategy's ``configure_train`` sends the
global model out and ``aggregate_train`` receives every reply, one by one, before averaging:
the place where an honest-but-curious strategy can look. The colours are those of
:mod:`dlgtut.diagrams` (green private, blue shared, red the attacker). Nothing here imports
Flower.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..diagrams import COLOURS, _arrow, _box, _canvas, _label, _legend, _sub
from ..errors import ConfigError

__all__ = ["draw_flower"]


def draw_flower(n_supernodes: int = 3, *, ax: Axes | None = None) -> Figure:
    """Draw a Flower federation: SuperLink with ServerApp and strategy, SuperNodes with data.

    Args:
        n_supernodes: SuperNodes drawn, 2 to 4 (the last one stands for "... N").
        ax: draw into this axes; a new figure if None.

    Returns:
        The figure. Boxes carry ``gid`` s: ``"superlink"``, ``"strategy"``,
        ``"aggregate_train"``, ``"supernode-1"``, ...

    Example:
        >>> import matplotlib.pyplot as plt
        >>> fig = draw_flower()
        >>> "aggregate_train" in [p.get_gid() for p in fig.axes[0].patches]
        True
        >>> plt.close(fig)
    """
    if isinstance(n_supernodes, bool) or not isinstance(n_supernodes, int) or not (
            2 <= n_supernodes <= 4):
        raise ConfigError(f"n_supernodes must be an integer from 2 to 4, got {n_supernodes!r}")
    fig, ax = _canvas(ax, 10.0, 7.0)
    ax.text(5.0, 6.78, "A Flower federation (Message API): who runs what, what travels",
            ha="center", va="center", fontsize=13, color="#212121")
    # flwr run -> SuperLink
    _box(ax, (0.85, 5.15), (1.4, 0.8), "flwr run\n(the app,\na FAB)", "neutral",
         gid="flwr-run", fontsize=9)
    _arrow(ax, (1.55, 5.15), (1.75, 5.15), "neutral", gid="submit")
    # the SuperLink with the ServerApp and the strategy
    _box(ax, (5.6, 5.15), (7.7, 2.5), "", "neutral", gid="superlink", lw=1.8)
    ax.text(1.95, 6.2, "SuperLink", ha="left", va="center", fontsize=11, fontweight="bold",
            color="#212121")
    ax.text(9.25, 6.2, "runs the ServerApp: strategy.start(...)", ha="right", va="center",
            fontsize=9.5, color="#212121")
    _box(ax, (5.6, 5.0), (7.2, 1.75), "", "attacker", gid="strategy", lw=2.2)
    ax.text(5.6, 5.6, "CuriousFedAvg (a subclass of Flower's FedAvg)", ha="center",
            va="center", fontsize=10, fontweight="bold", color=COLOURS["attacker"])
    _box(ax, (3.7, 4.95), (2.7, 0.62), "configure_train\nsends W_t and the config", "neutral",
         gid="configure_train", fontsize=9)
    _box(ax, (7.5, 4.95), (2.7, 0.62), "aggregate_train\nevery reply, one by one",
         "attacker", gid="aggregate_train", fontsize=9, lw=2.2)
    ax.text(7.5, 4.33, "each reply -> SharedUpdate -> DLG / IG", ha="center", va="center",
            fontsize=9, fontweight="bold", color=COLOURS["attacker"])
    # SuperNodes, each with a model arrow down and a reply arrow up
    n = n_supernodes
    spacing = 7.2 / n
    xs = [2.0 + spacing * (k + 0.5) for k in range(n)]
    for k, x in enumerate(xs, start=1):
        last = k == n and n > 2
        _box(ax, (x, 1.55), (min(2.2, spacing - 0.15), 1.5), "", "neutral",
             gid=f"supernode-{k}")
        ax.text(x, 2.05, "SuperNode N" if last else f"SuperNode {k}", ha="center",
                va="center", fontsize=10, color="#212121")
        _box(ax, (x, 1.6), (min(1.9, spacing - 0.35), 0.42), "ClientApp: Participant",
             "neutral", gid=f"clientapp-{k}", fontsize=8.5)
        _box(ax, (x, 1.05), (min(1.9, spacing - 0.35), 0.4),
             "private data D_N" if last else f"private data D{_sub(k)}", "private",
             gid=f"data-{k}", fontsize=8.5)
        _arrow(ax, (x - 0.3, 3.9), (x - 0.3, 2.3), "neutral", gid=f"model-{k}")
        _arrow(ax, (x + 0.3, 2.3), (x + 0.3, 3.9), "shared", gid=f"reply-{k}")
    _label(ax, (xs[0] - 0.4, 3.1), "W_t, config\n(round, lr,\nsteps)", "neutral", fontsize=9,
           ha="right")
    _label(ax, (xs[-1] + 0.4, 3.1), "reply: gradient\nor new weights,\nnum-examples",
           "shared", fontsize=9, ha="left")
    ax.text(5.0, 0.42, "Simulation Engine: SuperNodes are virtual, run by Ray workers in one "
            "machine.  Deployment: flower-superlink and flower-supernode processes on "
            "separate machines.", ha="center", va="center", fontsize=8.5, color="#455a64",
            wrap=True)
    _legend(ax, [("private", "private data (never leaves its SuperNode)"),
                 ("shared", "what each participant sends"),
                 ("neutral", "global model and protocol"),
                 ("attacker", "where the server looks")], y=-0.02)
    return fig
