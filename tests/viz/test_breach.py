"""Figures of a malicious-server attack: what they contain, not how they look."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from dlgtut.errors import DataError  # noqa: E402
from dlgtut.metrics import score_images  # noqa: E402
from dlgtut.viz import plot_breach, plot_breach_grid  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_the_grid_frames_the_images_that_did_not_come_back():
    truth = torch.rand(10, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    rec = truth.flip(0).clone()
    rec[[0, 3]] = 0.5  # truth[9] and truth[6] did not come back
    fig = plot_breach_grid(truth, rec, score_images(rec, truth))
    left, right = fig.axes
    assert left.get_title() == "ground truth" and right.get_title() == "read off the update"
    frames = [p for p in right.patches if isinstance(p, Rectangle)]
    assert len(frames) == 2 and "8 of 10 above 40 dB" in fig._suptitle.get_text()
    with pytest.raises(DataError, match="disagree"):
        plot_breach_grid(truth, rec[:5], score_images(rec, truth))


def test_the_breach_figure_counts_bins_by_occupancy():
    fig = plot_breach([100.0, 100.0, 14.0, 12.0, 9.0], [1, 0, 1, 3, 0, 0])
    psnr_ax, bins_ax = fig.axes
    assert psnr_ax.get_ylabel() == "PSNR of its reconstruction (dB)"
    assert "2 of 5 images recovered exactly" in psnr_ax.get_title()
    assert [round(b.get_height()) for b in bins_ax.patches] == [2, 0, 1]
    assert "bin" in bins_ax.get_xlabel()
    assert len(plot_breach([50.0]).axes) == 1


def test_the_figures_take_tensors_from_any_device(device):
    truth = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    rec = truth.flip(0).to(device)
    scores = score_images(rec, truth)
    assert len(plot_breach_grid(truth.to(device), rec, scores).axes) == 2
    fig = plot_breach(scores.per_image["psnr"], torch.tensor([1, 1, 2, 0], device=device))
    assert len(fig.axes) == 2
