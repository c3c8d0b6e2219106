"""The attack as an animated GIF: the dummy batch at every snapshot, beside the truth.

Written with Pillow alone (no matplotlib), so a command line run pays little for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from ..attacks.result import Snapshot
from ..checks import integer
from ..errors import ConfigError, DataError, WrongTypeError
from .grid import _check_batch, _check_history, image_grid

__all__ = ["save_gif"]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at ``size`` pixels (its fixed bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def _to_pil(grid: np.ndarray, scale: int) -> Image.Image:
    """An :func:`image_grid` array as an RGB image, upscaled ``scale`` times without smoothing."""
    pixels = np.round(np.clip(grid, 0.0, 1.0) * 255).astype(np.uint8)
    image = Image.fromarray(pixels).convert("RGB")
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def save_gif(
    history: Sequence[Snapshot],
    path: str | Path,
    *,
    truth: Tensor | None = None,
    scale: int = 4,
    duration_ms: int = 120,
) -> Path:
    """The whole batch emerging from noise, as an animated GIF that loops forever.

    Frame ``k`` is snapshot ``k``'s batch as one :func:`image_grid` (``ceil(sqrt(N))`` images to a
    row, 2 pixels of white padding), upscaled ``scale`` times with nearest-neighbour, under a
    white caption band ``band = max(16, 4 * scale)`` pixels tall reading ``iter=k`` (Pillow's
    default font). With ``truth`` the true batch's grid, captioned ``ground truth``, stands on the
    left, ``4 * scale`` pixels apart. A grid of ``h x w`` pixels thus gives frames
    ``w * scale`` (``2 * w * scale + 4 * scale`` with truth) wide and ``band + h * scale`` tall;
    a panel too narrow for its caption is widened to fit it. Each frame lasts ``duration_ms``;
    the last one ten times as long (at least a second).

    Args:
        history: the attack's snapshots (``Reconstruction.history``), in order.
        path: the GIF to write (its folder is created if missing).
        truth: the private ``N x C x H x W`` batch, shown beside every frame.
        scale: the upscaling factor, at least 1.
        duration_ms: how long each frame is shown, in milliseconds.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        DataError: the history is empty or of mixed shapes, or ``truth`` does not fit it.
        ConfigError: ``scale`` or ``duration_ms`` is not an integer of at least 1.
        WrongTypeError: ``history`` is not a list of Snapshots, or ``path`` not a path.

    Example:
        >>> import tempfile, torch
        >>> from dlgtut.attacks.result import Snapshot
        >>> history = [Snapshot(k, torch.rand(4, 3, 8, 8), 0.0) for k in range(3)]
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with Image.open(save_gif(history, Path(tmp) / "a.gif", scale=4)) as gif:
        ...         print(gif.n_frames, gif.size)
        3 (88, 104)
    """
    batches = _check_history(history)
    integer(scale, "scale")
    integer(duration_ms, "duration_ms")
    if not isinstance(path, str | Path) or not str(path):
        raise WrongTypeError(f"path must name a file, got {path!r}")
    if scale < 1 or duration_ms < 1:
        raise ConfigError(f"scale and duration_ms must be at least 1, got {scale}, {duration_ms}")
    nrow = math.ceil(math.sqrt(batches[0].shape[0]))
    truth_panel = None
    if truth is not None:
        true_batch = _check_batch(truth, "truth")
        if true_batch.shape != batches[0].shape:
            raise DataError(
                f"truth has shape {tuple(true_batch.shape)}, the snapshots "
                f"{tuple(batches[0].shape)}"
            )
        truth_panel = _to_pil(image_grid(true_batch, nrow=nrow), scale)

    band = max(16, 4 * scale)
    font = _font(round(0.7 * band))
    captions = [f"iter={s.iteration}" for s in history]
    panels = [_to_pil(image_grid(b, nrow=nrow), scale) for b in batches]
    grid_w, grid_h = panels[0].size
    panel_w = max(grid_w, math.ceil(max(font.getlength(c) for c in captions)) + 4)
    x0, truth_w = 0, 0
    if truth_panel is not None:
        truth_w = max(grid_w, math.ceil(font.getlength("ground truth")) + 4)
        x0 = truth_w + 4 * scale
    size = (x0 + panel_w, band + grid_h)

    def caption(draw: ImageDraw.ImageDraw, left: int, width: int, text: str) -> None:
        box = draw.textbbox((0, 0), text, font=font)
        xy = (left + (width - (box[2] - box[0])) // 2 - box[0], (band - box[3] - box[1]) // 2)
        draw.text(xy, text, fill="black", font=font)

    frames = []
    for text, panel in zip(captions, panels, strict=True):
        frame = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(frame)
        if truth_panel is not None:
            frame.paste(truth_panel, ((truth_w - grid_w) // 2, band))
            caption(draw, 0, truth_w, "ground truth")
        frame.paste(panel, (x0 + (panel_w - grid_w) // 2, band))
        caption(draw, x0, panel_w, text)
        frames.append(frame)

    durations = [duration_ms] * len(frames)
    durations[-1] = max(10 * duration_ms, 1000)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(
        out, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0
    )
    return out
