"""Figures of the attacks: what the book shows and what the command line writes.

* :mod:`.grid`: batches tiled into one array (no matplotlib).
* :mod:`.figures`: the comparison of truth and reconstruction, the paper's progress figure, the
  distance curve.
* :mod:`.animation`: the attack as an animated GIF (Pillow).
* :mod:`.text`: sentences beside the truth, wrong words in red; the distance per step.
* :mod:`.panel`: the figure a one-panel plot draws on, the caller's or its own.
* :mod:`.breach`: a malicious server's closed-form read-out: truth beside what came back, and
  the PSNR of every image against how the images fell into the block's rows.

Plots have titles, axis labels and units; image grids say which row is the truth and which the
reconstruction. Every figure takes tensors from any device (it draws CPU copies).
"""

from .animation import save_gif
from .breach import plot_breach, plot_breach_grid
from .figures import BOOK_WIDTH, plot_comparison, plot_distance, plot_progress
from .grid import image_grid
from .text import plot_distances, plot_sentences

__all__ = [
    "BOOK_WIDTH",
    "image_grid",
    "plot_comparison",
    "plot_progress",
    "plot_distance",
    "save_gif",
    "plot_sentences",
    "plot_distances",
    "plot_breach",
    "plot_breach_grid",
]
