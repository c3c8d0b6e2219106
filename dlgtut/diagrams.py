"""Threat-model diagrams, drawn in code with matplotlib: who holds what, what travels, who attacks.

* :func:`draw_federation`: centralised federated learning (participants and a parameter server)
  or decentralised learning (peers on a ring), with what each arrow carries and where the
  attacker sits.
* :func:`draw_attack`: one flow diagram per attack family (deep leakage, membership, property
  inference, model inversion): what the attacker needs, what it computes, what it gets.

The colours mean the same thing in every diagram (:data:`COLOURS`): green is private data, blue
is what federated learning shares or publishes, red is the attacker and what it brings. Both
functions return a :class:`~matplotlib.figure.Figure` made with ``pyplot`` (or draw into a
given ``ax``) and never call ``plt.show()``. Every box carries a matplotlib ``gid`` (for example
``"server"``, ``"participant-1"``, ``"attacker"``) so that tests and readers can find it.
"""

from __future__ import annotations

import math
from typing import Literal

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from .checks import axes
from .errors import ConfigError

__all__ = ["draw_federation", "draw_attack", "COLOURS", "TOPOLOGIES", "ATTACK_FAMILIES"]

COLOURS: dict[str, str] = {
    "attacker": "#c62828",
    "private": "#2e7d32",
    "shared": "#1565c0",
    "neutral": "#455a64",
}
"""Edge, arrow and text colour of each role, the same in every diagram."""

_FILLS = {"attacker": "#ffebee", "private": "#e8f5e9", "shared": "#e3f2fd", "neutral": "#ffffff"}

TOPOLOGIES = ("centralised", "decentralised")
"""The topologies :func:`draw_federation` draws."""

ATTACK_FAMILIES = ("leakage", "membership", "property", "inversion", "malicious")
"""The attack families :func:`draw_attack` draws."""

_ATTACKERS = {"centralised": ("server", "participant"), "decentralised": ("neighbour",)}
_WIDTH = 10.0  # inches: the book's text width


def _canvas(ax: Axes | None, xlim: float, ylim: float) -> tuple[Figure, Axes]:
    """A blank axes spanning ``[0, xlim] x [0, ylim]`` in data units, one unit per inch."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(_WIDTH, _WIDTH * ylim / xlim))
        fig.subplots_adjust(left=0, right=1, bottom=0, top=1)
    else:
        fig = ax.figure
    ax.set_xlim(0, xlim)
    ax.set_ylim(0, ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _box(
    ax: Axes,
    centre: tuple[float, float],
    size: tuple[float, float],
    text: str,
    role: str,
    *,
    gid: str | None = None,
    fontsize: float = 10.5,
    weight: str = "normal",
    lw: float = 1.6,
) -> FancyBboxPatch:
    """A rounded box centred on ``centre`` with ``text`` in it, coloured by ``role``."""
    (x, y), (w, h) = centre, size
    patch = FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.12",
        facecolor=_FILLS[role], edgecolor=COLOURS[role], linewidth=lw, zorder=2,
    )
    patch.set_gid(gid)
    ax.add_patch(patch)
    if text:
        colour = "#212121" if role == "neutral" else COLOURS[role]
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=colour,
                fontweight=weight, zorder=3, linespacing=1.3)
    return patch


def _arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    role: str,
    *,
    gid: str | None = None,
    lw: float = 1.8,
) -> FancyArrowPatch:
    """An arrow from ``start`` to ``end`` in the colour of ``role``."""
    arrow = FancyArrowPatch(
        start, end, arrowstyle="-|>", mutation_scale=16,
        color=COLOURS[role], linewidth=lw, shrinkA=0, shrinkB=0, zorder=1,
    )
    arrow.set_gid(gid)
    ax.add_patch(arrow)
    return arrow


def _label(ax: Axes, xy: tuple[float, float], text: str, role: str, **kwargs) -> None:
    """A short label on a white background, so that it stays legible over lines."""
    kwargs.setdefault("ha", "center")
    kwargs.setdefault("va", "center")
    ax.text(*xy, text, color=COLOURS[role], fontsize=kwargs.pop("fontsize", 11), zorder=4,
            bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none"},
            **kwargs)


def _participant(
    ax: Axes, centre: tuple[float, float], k: int, *, curious: bool = False, width: float = 1.9
) -> FancyBboxPatch:
    """A participant: a box with its name and, inside, its private data in green."""
    x, y = centre
    outer = _box(ax, (x, y), (width, 1.05), "", "attacker" if curious else "neutral",
                 gid="attacker" if curious else f"participant-{k}", lw=2.4 if curious else 1.6)
    narrow = width < 1.75
    ax.text(x, y + 0.24, f"participant {k}", ha="center", va="center",
            fontsize=9.5 if narrow else 10.5, zorder=3,
            color=COLOURS["attacker"] if curious else "#212121",
            fontweight="bold" if curious else "normal")
    data = f"data D{_sub(k)}" if narrow else f"private data D{_sub(k)}"
    _box(ax, (x, y - 0.2), (width - 0.3, 0.42), data, "private", gid=f"data-{k}", fontsize=9.5)
    return outer


def _sub(k: int) -> str:
    """``k`` in Unicode subscript digits (``12`` -> ``₁₂``)."""
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _legend(ax: Axes, entries: list[tuple[str, str]], y: float) -> None:
    handles = [
        Patch(facecolor=_FILLS[role], edgecolor=COLOURS[role], linewidth=1.6, label=text)
        for role, text in entries
    ]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, y), ncol=len(handles),
              frameon=False, fontsize=10, handlelength=1.6, bbox_transform=ax.transAxes)


def draw_federation(
    topology: Literal["centralised", "decentralised"] = "centralised",
    *,
    attacker: str | None = None,
    n_participants: int = 4,
    ax: Axes | None = None,
) -> Figure:
    """Draw who holds what in federated learning, what travels, and where the attacker sits.

    * ``"centralised"``: participants in a row, each with its private data, below a parameter
      server. Each sends its update up (``∇Wₖ``, a gradient or a weight change) and receives
      the global model ``W``. ``attacker="server"`` marks the server as an honest-but-curious
      server (it sees every update); ``attacker="participant"`` marks participant 1 as a
      curious participant (it sees the global model of every round).
    * ``"decentralised"``: participants on a ring, no server; each exchanges its model and
      update (``Wₖ, ΔWₖ``) with its two neighbours. ``attacker="neighbour"`` marks participant
      1 as a curious neighbour and the updates it receives.

    Args:
        topology: ``"centralised"`` or ``"decentralised"``.
        attacker: None, or where the attacker sits (see above).
        n_participants: number of participants: 2 to 6 around a server, 3 to 8 on a ring.
        ax: draw into this axes (its limits and aspect are set); a new figure if None.

    Returns:
        The figure.

    Example:
        >>> fig = draw_federation("centralised", attacker="server")
        >>> "honest-but-curious server" in [t.get_text() for t in fig.axes[0].texts]
        True
        >>> plt.close(fig)
    """
    if not isinstance(topology, str) or topology not in TOPOLOGIES:
        raise ConfigError(f"unknown topology {topology!r}; choose from {', '.join(TOPOLOGIES)}")
    axes(ax)
    if attacker is not None and attacker not in _ATTACKERS[topology]:
        allowed = ", ".join(repr(a) for a in _ATTACKERS[topology])
        raise ConfigError(f"in {topology} learning the attacker is None or {allowed}, "
                          f"got {attacker!r}")
    lowest, highest = (2, 6) if topology == "centralised" else (3, 8)
    if isinstance(n_participants, bool) or not isinstance(n_participants, int) or not (
        lowest <= n_participants <= highest
    ):
        raise ConfigError(f"n_participants must be an integer from {lowest} to {highest} for "
                          f"{topology} learning, got {n_participants!r}")
    if topology == "centralised":
        return _centralised(ax, attacker, n_participants)
    return _decentralised(ax, attacker, n_participants)


def _title(ax: Axes, text: str, y: float) -> None:
    """The diagram's title, inside the canvas so that no layout engine can clip it."""
    ax.text(5.0, y, text, ha="center", va="center", fontsize=13, color="#212121")


def _centralised(ax: Axes | None, attacker: str | None, n: int) -> Figure:
    fig, ax = _canvas(ax, 10.0, 6.2)
    _title(ax, "Centralised federated learning", 5.95)
    curious_server = attacker == "server"
    _box(
        ax, (5.0, 4.55), (7.4, 0.9),
        "parameter server\naverages the updates, sends back the new global model W",
        "attacker" if curious_server else "neutral",
        gid="attacker" if curious_server else "server",
        lw=2.4 if curious_server else 1.6, weight="bold" if curious_server else "normal",
    )
    if curious_server:
        _label(ax, (5.0, 5.38), "honest-but-curious server", "attacker", fontsize=12,
               fontweight="bold")
        _label(ax, (5.0, 3.82), "sees every participant's update, every round", "attacker",
               fontsize=9.5, style="italic")
    spacing = 8.6 / n
    xs = [0.7 + spacing * (k + 0.5) for k in range(n)]
    y_part, top, bottom = 1.6, 2.13, 4.1
    labelled = range(1, n + 1) if n <= 5 else (1, n)
    for k, x in enumerate(xs, start=1):
        curious = attacker == "participant" and k == 1
        _participant(ax, (x, y_part), k, curious=curious, width=min(1.9, spacing - 0.14))
        at_server = 5.0 + (x - 5.0) * 0.85
        _arrow(ax, (x - 0.3, top), (at_server - 0.3, bottom), "shared", gid=f"update-{k}")
        _arrow(ax, (at_server + 0.3, bottom), (x + 0.3, top),
               "attacker" if curious else "neutral", gid=f"model-{k}")
        if k in labelled:
            mid = (top + bottom) / 2 - 0.2
            shift = (at_server - x) * (mid - top) / (bottom - top)
            _label(ax, (x - 0.4 + shift, mid), f"∇W{_sub(k)}", "shared", ha="right")
            _label(ax, (x + 0.4 + shift, mid), "W", "attacker" if curious else "neutral",
                   ha="left")
    if attacker == "participant":
        _label(ax, (xs[0] + 0.1, 0.82), "curious participant: sees W every round",
               "attacker", fontsize=10, fontweight="bold", ha="left" if n > 3 else "center")
    _legend(ax, [("private", "private data (never leaves its owner)"),
                 ("shared", "update ∇Wₖ (gradient or weight change)"),
                 ("neutral", "global model W"),
                 ("attacker", "attacker")], y=-0.005)
    return fig


def _decentralised(ax: Axes | None, attacker: str | None, n: int) -> Figure:
    fig, ax = _canvas(ax, 10.0, 7.0)
    _title(ax, "Decentralised federated learning (a ring, no server)", 6.75)
    cx, cy, rx, ry = 5.0, 3.4, 3.9, 2.25
    angles = [math.pi / 2 - 2 * math.pi * k / n for k in range(n)]
    centres = [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]
    nodes = []
    for k, c in enumerate(centres, start=1):
        curious = attacker == "neighbour" and k == 1
        nodes.append(_participant(ax, c, k, curious=curious))
    for k in range(n):
        j = (k + 1) % n
        into_attacker = attacker == "neighbour" and 0 in (k, j)
        role = "attacker" if into_attacker else "shared"
        arrow = FancyArrowPatch(
            centres[k], centres[j], arrowstyle="<|-|>", mutation_scale=16, color=COLOURS[role],
            linewidth=2.2 if into_attacker else 1.8, patchA=nodes[k], patchB=nodes[j],
            shrinkA=2, shrinkB=2, zorder=1,
        )
        arrow.set_gid(f"link-{k + 1}-{j + 1}")
        ax.add_patch(arrow)
        (xa, ya), (xb, yb) = centres[k], centres[j]
        mx, my = (xa + xb) / 2, (ya + yb) / 2
        # Push the label off the link, away from the ring's centre.
        dx, dy = mx - cx, my - cy
        norm = math.hypot(dx, dy) or 1.0
        _label(ax, (mx + 0.3 * dx / norm, my + 0.3 * dy / norm), "W, ΔW", role, fontsize=10)
    if attacker == "neighbour":
        x, y = centres[0]
        a, b = _sub(2), _sub(n)
        _label(ax, (x, y + 0.78), f"curious neighbour: receives W{a}, ΔW{a} and W{b}, ΔW{b}",
               "attacker", fontsize=11, fontweight="bold")
    ax.text(cx, cy, "each participant trains locally,\nsends its model W and update ΔW\n"
            "to its neighbours, and averages\nits model with theirs", ha="center", va="center",
            fontsize=10, color=COLOURS["neutral"], style="italic", linespacing=1.35)
    _legend(ax, [("private", "private data (never leaves its owner)"),
                 ("shared", "model and update sent to a neighbour"),
                 ("attacker", "attacker")], y=-0.005)
    return fig


# What each attack family needs, computes and gets: (title, inputs, computation, output).
# Input roles: "shared" (what federated learning shares or publishes), "attacker" (what the
# attacker brings of its own).
_ATTACKS: dict[str, tuple[str, list[tuple[str, str]], str, str]] = {
    "leakage": (
        "Deep leakage from gradients",
        [("a shared gradient ∇W\n(one participant, one round)", "shared"),
         ("the public model F\nand its weights W", "shared")],
        "gradient matching:\nfind x′, y′ whose\ngradient equals ∇W",
        "the private images\nand their labels",
    ),
    "membership": (
        "Membership inference",
        [("a candidate record (x, y)", "attacker"),
         ("the model, or the global\nmodels of successive rounds", "shared"),
         ("shadow models or\nreference data", "attacker")],
        "attack score:\nloss, confidence or\nlikelihood ratio",
        "member or\nnon-member?",
    ),
    "property": (
        "Property inference",
        [("updates observed\nround by round", "shared"),
         ("auxiliary data with and\nwithout the property", "attacker")],
        "a classifier trained\non updates computed on\nauxiliary batches",
        "does the victim's\ndata have the\nproperty?",
    ),
    "inversion": (
        "Model inversion",
        [("a trained model\n(white box)", "shared"),
         ("or the shared model used\nas a GAN's discriminator", "shared")],
        "optimise an input (or\na generator) to raise\none class's score",
        "a representative\nof the class",
    ),
    "malicious": (
        "A malicious server",
        [("its own model: an ordinary\nmodel with a block in front", "attacker"),
         ("the update, or the secure\naggregate of K participants", "shared"),
         ("what it kept: how it\nbuilt the block", "attacker")],
        "closed-form read-out:\n∇W_i / ∇b_i for every\nrow one image hit",
        "those images,\nexactly",
    ),
}


def draw_attack(family: str, ax: Axes | None = None) -> Figure:
    """Draw one attack family as a flow: what the attacker needs, computes and gets.

    Inputs on the left (blue: shared in federated learning or public; red: the attacker's own
    knowledge), the attacker's computation in the middle (red), and what leaks on the right
    (green). The families:

    * ``"leakage"``: shared gradient and public model -> gradient matching -> private images
      and labels (deep leakage from gradients);
    * ``"membership"``: a record and the model(s) or updates -> attack score -> member or not;
    * ``"property"``: updates and auxiliary data with and without a property -> classifier ->
      whether the victim's data has the property;
    * ``"inversion"``: a trained model (white box) or the shared model as a GAN's
      discriminator -> optimisation -> a representative of a class;
    * ``"malicious"``: the server's own model and the (aggregated) update -> a closed-form
      read-out -> the images that were alone in a row of its block.

    Args:
        family: one of :data:`ATTACK_FAMILIES`.
        ax: draw into this axes (its limits and aspect are set); a new figure if None.

    Returns:
        The figure.

    Example:
        >>> fig = draw_attack("leakage")
        >>> "gradient matching" in " ".join(t.get_text() for t in fig.axes[0].texts)
        True
        >>> plt.close(fig)
    """
    if not isinstance(family, str) or family not in _ATTACKS:
        raise ConfigError(
            f"unknown attack family {family!r}; choose from {', '.join(ATTACK_FAMILIES)}"
        )
    axes(ax)
    title, inputs, computation, output = _ATTACKS[family]
    fig, ax = _canvas(ax, 10.0, 4.1)
    _title(ax, title, 3.85)
    x_in, x_do, x_out, y_mid = 1.75, 5.35, 8.55, 1.7
    for x, head in ((x_in, "the attacker needs"), (x_do, "computes"), (x_out, "and gets")):
        ax.text(x, 3.35, head, ha="center", va="center", fontsize=10.5, color=COLOURS["neutral"],
                style="italic")
    step = 0.95 if len(inputs) == 3 else 1.15
    ys = [y_mid + step * ((len(inputs) - 1) / 2 - i) for i in range(len(inputs))]
    h_in = 0.8 if len(inputs) == 3 else 0.9
    _box(ax, (x_do, y_mid), (2.6, 1.5), computation, "attacker", gid="attacker",
         weight="bold", fontsize=10.5)
    for i, ((text, role), y) in enumerate(zip(inputs, ys, strict=True)):
        _box(ax, (x_in, y), (3.0, h_in), text, role, gid=f"input-{i}", fontsize=10)
        # Each arrow ends on the computation's left edge, fanned out around its middle.
        _arrow(ax, (x_in + 1.5, y), (x_do - 1.3, y_mid + 0.35 * (y - y_mid) / step), role,
               gid=f"input-arrow-{i}")
    _box(ax, (x_out, y_mid), (2.4, 1.3), output, "private", gid="output", weight="bold",
         fontsize=10.5)
    _arrow(ax, (x_do + 1.3, y_mid), (x_out - 1.2, y_mid), "attacker", gid="output-arrow")
    _legend(ax, [("shared", "shared in FL, or public"), ("attacker", "the attacker and its own"),
                 ("private", "what leaks")], y=-0.02)
    return fig
