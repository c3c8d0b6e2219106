"""Tests of dlgtut.viz: what the figures and the GIF contain, not how they look."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from dlgtut.attacks.result import Snapshot  # noqa: E402
from dlgtut.errors import ConfigError, DataError, WrongTypeError  # noqa: E402
from dlgtut.metrics import score  # noqa: E402
from dlgtut.viz import (  # noqa: E402
    image_grid,
    plot_comparison,
    plot_distance,
    plot_distances,
    plot_progress,
    plot_sentences,
    save_gif,
)
from dlgtut.viz.figures import _even_picks  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _history(count: int, n: int = 2, c: int = 1, side: int = 8, seed: int = 0) -> list[Snapshot]:
    images = _rand(count, n, c, side, side, seed=seed)
    return [Snapshot(5 * k, images[k], 1.0 / (k + 1)) for k in range(count)]


def _image_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.images]


def test_image_grid_shapes_and_range() -> None:
    rgb = image_grid(_rand(4, 3, 32, 32))
    assert rgb.shape == (2 * 34 + 2, 2 * 34 + 2, 3)  # 2 x 2 grid, 2 px padding
    assert rgb.dtype == np.float32 and rgb.min() >= 0 and rgb.max() <= 1
    grey = image_grid(_rand(10, 1, 8, 8) * 3 - 1, nrow=5, padding=1)
    assert grey.shape == (2 * 9 + 1, 5 * 9 + 1)
    assert grey.min() >= 0 and grey.max() <= 1  # clamped
    # Image k sits at row k // nrow, column k % nrow, after the padding.
    images = _rand(10, 1, 8, 8)
    grid = image_grid(images, nrow=5, padding=1)
    np.testing.assert_array_equal(grid[10:18, 19:27], images[7, 0].numpy())
    assert grid[0, 0] == 1.0  # white padding by default


def test_plot_comparison_columns_titles_and_matching() -> None:
    truth = _rand(5, 1, 8, 8, seed=1)
    perm = torch.tensor([3, 0, 4, 1, 2])
    reconstruction = truth[perm] + 0.05 * (_rand(5, 1, 8, 8, seed=2) - 0.5)
    labels = torch.tensor([7, 1, 4, 1, 0])
    pred_labels = labels[perm].clone()
    pred_labels[perm.tolist().index(2)] = 9  # true image 2's label recovered wrongly
    scores = score(reconstruction, pred_labels, truth, labels)
    fig = plot_comparison(
        truth,
        reconstruction,
        true_labels=labels,
        pred_labels=pred_labels,
        scores=scores,
        title="a test",
    )
    assert isinstance(fig, Figure)
    axes = _image_axes(fig)
    assert len(axes) == 10
    top, bottom = axes[:5], axes[5:]
    for i in range(5):
        np.testing.assert_allclose(top[i].images[0].get_array(), truth[i, 0].numpy())
        # Each reconstruction sits under the true image it was matched to.
        matched = reconstruction[scores.assignment[i], 0].clamp(0, 1).numpy()
        np.testing.assert_allclose(bottom[i].images[0].get_array(), matched, rtol=1e-6)
        assert top[i].images[0].get_cmap().name == "gray"
        assert top[i].images[0].get_interpolation() == "nearest"
        assert f"label {labels[i].item()}" in top[i].get_title()
        assert "dB" in bottom[i].get_title() and "SSIM" in bottom[i].get_title()
        assert f"{scores.per_image['psnr'][i]:.1f} dB" in bottom[i].get_title()
        assert not top[i].axison
    assert "label 9" in bottom[2].get_title() and "✗" in bottom[2].get_title()
    assert "✗" not in bottom[0].get_title()
    assert fig._suptitle.get_text() == "a test"
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "ground truth" in texts and "reconstruction" in texts


def test_plot_comparison_default_title_and_wrapping() -> None:
    truth = _rand(12, 3, 16, 16, seed=3)
    scores = score(truth, list(range(12)), truth, list(range(12)))
    fig = plot_comparison(truth, truth, scores=scores, max_cols=5)
    assert len(_image_axes(fig)) == 24  # 3 pairs of rows of 5; 3 blank axes
    assert "PSNR 100.0 dB" in fig._suptitle.get_text()
    assert fig.get_figwidth() <= 10.5
    fig = plot_comparison(truth[:3], truth[:3])  # no labels, no scores
    assert len(_image_axes(fig)) == 6
    assert fig._suptitle.get_text()


def test_plot_comparison_rejects_mismatches() -> None:
    x = _rand(3, 1, 8, 8)
    with pytest.raises(DataError):
        plot_comparison(x, x[:2])
    with pytest.raises(DataError):
        plot_comparison(x, x, true_labels=[1, 2])
    with pytest.raises(DataError):
        plot_comparison(x, x, scores=score(x[:2], [0, 1], x[:2], [0, 1]))
    with pytest.raises(DataError):
        plot_comparison(_rand(3, 2, 8, 8), _rand(3, 2, 8, 8))  # 2 channels


def test_plot_progress_picks_evenly_spaced_frames() -> None:
    history = _history(40)
    truth = torch.stack([history[-1].images[1], history[-1].images[0]])  # swapped order
    fig = plot_progress(history, truth, index=0, max_frames=30)
    axes = _image_axes(fig)
    assert len(axes) == 31
    titles = [ax.get_title() for ax in axes]
    assert titles[0] == "ground truth"
    iters = [int(t.removeprefix("iter=")) for t in titles[1:]]
    assert all(t.startswith("iter=") for t in titles[1:])
    assert iters[0] == 0 and iters[-1] == 5 * 39
    assert iters == sorted(set(iters))
    assert max(np.diff(iters)) <= 10  # even spacing: no gap of more than two snapshots
    # Image 0 of the last snapshot matches truth[1], which is what is shown as ground truth.
    np.testing.assert_allclose(axes[0].images[0].get_array(), truth[1, 0].numpy())
    np.testing.assert_allclose(axes[-1].images[0].get_array(), history[-1].images[0, 0].numpy())
    assert fig._suptitle.get_text()


def test_plot_progress_without_truth_and_short_history() -> None:
    fig = plot_progress(_history(40, c=3), index=1, max_frames=30, title="t")
    assert len(_image_axes(fig)) == 30
    fig = plot_progress(_history(4), max_frames=30)
    assert [ax.get_title() for ax in _image_axes(fig)] == ["iter=0", "iter=5", "iter=10", "iter=15"]
    fig = plot_progress(_history(4), _rand(1, 8, 8), max_frames=2)  # a single C x H x W truth
    assert [ax.get_title() for ax in _image_axes(fig)] == ["ground truth", "iter=0", "iter=15"]
    with pytest.raises(ConfigError):
        plot_progress(_history(4), index=2)
    with pytest.raises(DataError):
        plot_progress([])
    with pytest.raises(DataError):
        plot_progress(_history(4), _rand(3, 1, 8, 8))


def test_plot_distance_log_axis_and_overlay() -> None:
    distances = [10.0**-k for k in range(20)]
    fig = plot_distance(distances)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "gradient distance"
    assert ax.get_title()
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 21))
    np.testing.assert_array_equal(line.get_ydata(), distances)
    assert ax.get_legend() is None
    again = plot_distance(distances[:5], ax=ax, label="second")
    assert again is fig and len(ax.get_lines()) == 2 and ax.get_legend() is not None
    with pytest.raises(DataError):
        plot_distance([])


def _durations(gif: Image.Image) -> list[int]:
    out = []
    for k in range(gif.n_frames):
        gif.seek(k)
        out.append(gif.info["duration"])
    return out


def test_save_gif_frames_size_and_loop(tmp_path: Path) -> None:
    n, side, scale = 4, 16, 3
    history = _history(12, n=n, c=3, side=side)
    grid_h, grid_w = image_grid(history[0].images).shape[:2]
    band = max(16, 4 * scale)
    path = save_gif(history, tmp_path / "new" / "dir" / "a.gif", scale=scale, duration_ms=50)
    assert path == tmp_path / "new" / "dir" / "a.gif" and path.is_file()
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["a.gif"]
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.is_animated
        assert gif.n_frames == 12
        assert gif.size == (grid_w * scale, grid_h * scale + band)
        assert gif.info["loop"] == 0
        durations = _durations(gif)
    assert durations[:-1] == [50] * 11 and durations[-1] > 50


def test_save_gif_with_truth_shows_the_pixels(tmp_path: Path) -> None:
    # Grey levels in steps of 1/4 survive the GIF palette exactly.
    n, side, scale = 4, 8, 4
    images = torch.randint(0, 5, (3, n, 1, side, side), generator=torch.Generator().manual_seed(1))
    history = [Snapshot(10 * k, images[k] / 4, 0.0) for k in range(3)]
    truth = torch.randint(0, 5, (n, 1, side, side), generator=torch.Generator().manual_seed(2)) / 4
    path = save_gif(history, str(tmp_path / "b.gif"), truth=truth, scale=scale)
    grid = image_grid(history[1].images)
    grid_h, grid_w = grid.shape
    band = max(16, 4 * scale)
    with Image.open(path) as gif:
        assert gif.n_frames == 3
        assert gif.size == (2 * grid_w * scale + 4 * scale, grid_h * scale + band)
        gif.seek(1)
        frame = np.asarray(gif.convert("L"), dtype=np.float64) / 255
    x0 = grid_w * scale + 4 * scale
    shown = frame[band:, x0:]
    want = np.kron(grid, np.ones((scale, scale)))  # nearest-neighbour upscaling
    np.testing.assert_allclose(shown, want, atol=1 / 255)
    truth_shown = frame[band:, : grid_w * scale]
    np.testing.assert_allclose(
        truth_shown, np.kron(image_grid(truth), np.ones((scale, scale))), atol=1 / 255
    )
    assert frame[:band].min() < 0.5  # the caption is drawn in the band


def test_save_gif_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        save_gif([], tmp_path / "c.gif")
    with pytest.raises(DataError):
        save_gif(_history(3, n=2), tmp_path / "c.gif", truth=_rand(3, 1, 8, 8))
    with pytest.raises(ConfigError):
        save_gif(_history(3), tmp_path / "c.gif", scale=0)
    assert not (tmp_path / "c.gif").exists()


def test_even_picks_include_first_and_last() -> None:
    for count in (1, 2, 31, 40, 99, 1000):
        for most in (1, 2, 7, 30):
            picks = _even_picks(count, most)
            assert len(picks) == min(count, most)
            assert picks == sorted(set(picks)) and picks[-1] == count - 1
            if most > 1:
                assert picks[0] == 0
                gaps = np.diff(picks) if len(picks) > 1 else np.array([0])
                assert gaps.max() - gaps.min() <= 1  # evenly spaced
    fig = plot_progress(_history(99, n=1, side=3), max_frames=7)
    iters = [int(ax.get_title().removeprefix("iter=")) for ax in _image_axes(fig)]
    assert iters == [5 * k for k in _even_picks(99, 7)]


@pytest.mark.parametrize("call,error,fragment", [
    (lambda: image_grid(torch.randint(0, 256, (2, 3, 4, 4))), DataError,
     "images must be floating-point images in [0, 1], got dtype torch.int64"),  # not all white
    (lambda: image_grid(_rand(2, 1, 0, 4)), DataError, "N, H, W >= 1"),
    (lambda: image_grid(_rand(2, 1, 4, 4), nrow=1.5), ConfigError, "nrow must be an integer"),
    (lambda: image_grid(_rand(2, 1, 4, 4), padding=True), ConfigError,
     "padding must be an integer"),
    (lambda: image_grid(_rand(2, 1, 4, 4), pad_value=float("nan")), ConfigError,
     "pad_value must be a finite number"),
    (lambda: image_grid(_rand(2, 1, 4, 4), pad_value=2.0), ConfigError,
     "pad_value must lie in [0, 1]"),
    (lambda: plot_comparison(_rand(2, 1, 4, 4), _rand(2, 1, 4, 4), true_labels=[1.5, 2.0]),
     DataError, "true_labels must be integer class indices"),
    (lambda: plot_comparison(_rand(2, 1, 4, 4), _rand(2, 1, 4, 4), max_cols=2.5), ConfigError,
     "max_cols must be a positive integer"),
    (lambda: plot_comparison(_rand(2, 1, 4, 4), _rand(2, 1, 4, 4), scores={"psnr": 1}),
     WrongTypeError, "scores must be a Scores, got dict"),
    (lambda: plot_progress(_history(3), index=0.5), ConfigError, "index must be an integer"),
    (lambda: plot_progress(_history(3), max_frames=True), ConfigError,
     "max_frames must be an integer"),
    (lambda: plot_progress(_history(3)[0]), WrongTypeError, "history must be a list of Snapshots"),
    (lambda: plot_progress([_rand(2, 1, 4, 4)]), WrongTypeError,
     "history entry 0 must be a Snapshot, got Tensor"),
    (lambda: plot_distance(["a", "b"]), DataError, "distances must be numbers"),
    (lambda: plot_distance(None), DataError, "distances must be numbers"),
    (lambda: plot_distance([1.0], ax="left"), WrongTypeError, "ax must be a matplotlib Axes"),
])
def test_figures_refuse_bad_arguments_in_one_line(refused, call, error, fragment):
    refused(error, fragment, call)


def test_save_gif_refuses_bad_arguments(refused, tmp_path):
    refused(ConfigError, "scale must be an integer", save_gif, _history(3), tmp_path / "a.gif",
            scale=2.5)
    refused(ConfigError, "duration_ms must be an integer", save_gif, _history(3),
            tmp_path / "a.gif", duration_ms=True)
    refused(WrongTypeError, "path must name a file, got None", save_gif, _history(3), None)
    assert not (tmp_path / "a.gif").exists()


def test_a_diverged_distance_curve_still_plots():
    fig = plot_distance([1.0, 0.5, float("nan")])
    assert fig.axes[0].get_yscale() == "log"


def test_text_figures_refuse_ids_outside_the_vocabulary(refused):
    from dlgtut.text import Vocabulary, tokenize

    vocab = Vocabulary(tokenize("a rose is a rose."))
    ids = torch.tensor([[1, 2, 3]])
    refused(DataError, "recovered must lie in [0, 4], got [-1]", plot_sentences, ids,
            torch.tensor([[1, 2, -1]]), vocab)  # -1 showed the last word of the vocabulary
    refused(DataError, "truth must be integers, got dtype torch.float32", plot_sentences,
            ids.float(), ids, vocab)
    refused(WrongTypeError, "vocab must be a Vocabulary, got list", plot_sentences, ids, ids,
            ["a", "rose"])
    refused(ConfigError, "width must be a positive integer", plot_sentences, ids, ids, vocab,
            width=0)
    refused(DataError, "titles must be a list of strings", plot_sentences, ids, ids, vocab,
            titles="one")
    refused(DataError, "distances must be numbers", plot_distances, ["x"])
    refused(WrongTypeError, "ax must be a matplotlib Axes", plot_distances, [1.0], ax=3)


@pytest.mark.parametrize("plot", [plot_distance, plot_distances])
def test_a_curve_drawn_into_a_callers_panel_leaves_the_layout_to_the_caller(plot):
    # Laying out the caller's whole figure for one panel redoes it once per panel; on a figure
    # of its own the curve still lays itself out. A panel of a SubFigure returns the Figure.
    fig, axes = plt.subplots(1, 2)
    before = vars(fig.subplotpars).copy()
    for ax in axes:
        assert plot([1.0, 0.1, 0.01], ax=ax) is fig
    assert vars(fig.subplotpars) == before
    sub = plt.figure().subfigures(1, 2)[1]
    assert plot([1.0, 0.1], ax=sub.subplots()) is sub.figure
    own = plot([1.0, 0.1])
    assert vars(own.subplotpars) != vars(plt.figure().subplotpars)
    plt.close("all")


@pytest.mark.parametrize("n,c,nrow,padding,pad_value", [
    (4, 3, None, 2, 1.0), (10, 1, 5, 1, 1.0), (7, 3, 3, 0, 0.5), (1, 3, None, 2, 1.0),
    (3, 1, 8, 2, 0.0),
])
def test_image_grid_tiles_exactly_as_torchvision_does(n, c, nrow, padding, pad_value):
    # image_grid tiles in numpy to spare the command line torchvision's import; the layout
    # must stay make_grid's, pixel for pixel.
    from torchvision.utils import make_grid

    x = torch.rand(n, c, 6, 5, generator=torch.Generator().manual_seed(n))
    ours = image_grid(x, nrow=nrow, padding=padding, pad_value=pad_value)
    grid = make_grid(x, nrow=nrow or int(np.ceil(np.sqrt(n))), padding=padding,
                     pad_value=pad_value)
    ref = grid[0].numpy() if c == 1 else grid.permute(1, 2, 0).numpy()
    assert np.array_equal(ours, ref)


def test_figures_and_the_gif_take_tensors_from_any_device(device, tmp_path):
    truth = _rand(3, 1, 8, 8).to(device)
    history = [Snapshot(s.iteration, s.images.to(device), s.distance) for s in _history(4, n=3)]
    rec = history[-1].images
    labels = torch.tensor([1, 2, 3], device=device)
    fig = plot_comparison(truth, rec, true_labels=labels, pred_labels=labels,
                          scores=score(rec, labels, truth, labels))
    assert len(_image_axes(fig)) == 6
    assert len(_image_axes(plot_progress(history, truth))) == 5
    assert image_grid(truth).shape == (22, 22)
    with Image.open(save_gif(history, tmp_path / "a.gif", truth=truth)) as gif:
        assert gif.n_frames == 4
