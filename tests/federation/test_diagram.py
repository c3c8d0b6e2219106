"""The Flower architecture diagram: every box the chapter talks about is there."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import pytest

matplotlib.use("Agg")
pytest.importorskip("flwr", reason="needs the flower extra: pip install 'dlgtut[flower]'")

from dlgtut.errors import ConfigError  # noqa: E402
from dlgtut.federation.diagram import draw_flower  # noqa: E402


@pytest.mark.parametrize("n", [2, 3, 4])
def test_the_diagram_has_the_superlink_the_strategy_and_every_supernode(n):
    fig = draw_flower(n)
    gids = {p.get_gid() for p in fig.axes[0].patches}
    assert {"superlink", "strategy", "configure_train", "aggregate_train", "flwr-run"} <= gids
    for k in range(1, n + 1):
        assert {f"supernode-{k}", f"data-{k}", f"model-{k}", f"reply-{k}"} <= gids
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "SuperLink" in texts and ("SuperNode N" in texts) == (n > 2)
    plt.close(fig)


@pytest.mark.parametrize("n", [1, 5, 2.0, True])
def test_too_few_or_too_many_supernodes_are_refused(n):
    with pytest.raises(ConfigError, match="n_supernodes"):
        draw_flower(n)
