"""ROC scoring: agrees with scikit-learn, reads TPR at a low FPR right, refuses bad input."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve

from dlgtut.errors import ConfigError, DataError, WrongTypeError
from dlgtut.roc import plot_roc, roc_summary, tpr_at_fpr


def _gaussians(shift, n=200_000, seed=0):
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.normal(shift, 1, n), rng.normal(0, 1, n)])
    labels = np.concatenate([np.ones(n, int), np.zeros(n, int)])
    return scores, labels


def test_auc_and_curve_agree_with_scikit_learn():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 500)
    scores = labels * 0.7 + rng.normal(size=500)
    r = roc_summary(scores, labels)
    fpr, tpr, _ = roc_curve(labels, scores)
    assert r.auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    np.testing.assert_array_equal(r.fpr, fpr)
    np.testing.assert_array_equal(r.tpr, tpr)
    assert (r.positives, r.negatives) == (int(labels.sum()), int(500 - labels.sum()))


@pytest.mark.parametrize("shift", [1.0, 2.0, 3.0])
def test_known_gaussians_give_the_textbook_answers(shift):
    # Members ~ N(shift, 1), non-members ~ N(0, 1): AUC = Phi(shift / sqrt 2) and
    # TPR at FPR a = 1 - Phi(z_{1-a} - shift).
    r = roc_summary(*_gaussians(shift))
    assert r.auc == pytest.approx(norm.cdf(shift / np.sqrt(2)), abs=3e-3)
    for got, a in ((r.tpr_at_1pct_fpr, 0.01), (r.tpr_at_0_1pct_fpr, 0.001)):
        assert got == pytest.approx(norm.sf(norm.isf(a) - shift), abs=0.01)
    assert r.balanced_accuracy == pytest.approx(norm.cdf(shift / 2), abs=3e-3)


def test_chance_scores_give_chance_figures():
    rng = np.random.default_rng(2)
    r = roc_summary(rng.normal(size=100_000), rng.integers(0, 2, 100_000))
    assert r.auc == pytest.approx(0.5, abs=0.01)
    assert r.tpr_at_1pct_fpr == pytest.approx(0.01, abs=0.003)


def test_tpr_at_fpr_never_exceeds_the_target():
    fpr = np.array([0.0, 0.005, 0.02, 1.0])
    tpr = np.array([0.0, 0.3, 0.8, 1.0])
    assert tpr_at_fpr(fpr, tpr, 0.01) == 0.3
    assert tpr_at_fpr(fpr, tpr, 0.001) == 0.0


def test_as_dict_uses_the_metrics_json_names():
    d = roc_summary([3, 2, 1, 0], [1, 1, 0, 0]).as_dict()
    assert {"auc", "tpr_at_0.1pct_fpr", "tpr_at_1pct_fpr"} <= set(d)
    # Two non-members measure neither rate: None, which metrics.json writes as null.
    assert d["auc"] == 1.0 and d["tpr_at_1pct_fpr"] is None and d["tpr_at_0.1pct_fpr"] is None
    d = roc_summary(list(range(300, 0, -1)), [1] * 100 + [0] * 200).as_dict()
    assert d["tpr_at_1pct_fpr"] == 1.0 and d["tpr_at_0.1pct_fpr"] is None


@pytest.mark.parametrize(
    "scores, labels, message",
    [
        ([0.1, 0.2], [1], "2 scores but 1 labels"),
        ([0.1, 0.2], [1, 1], "both positives"),
        ([0.1, 0.2], [1, 2], "must be 0"),
        ([np.nan, 0.2], [1, 0], "NaN"),
    ],
)
def test_bad_input_is_refused(scores, labels, message):
    with pytest.raises(DataError, match=message):
        roc_summary(scores, labels)


def test_plot_roc_draws_log_log_axes_with_one_line_per_attack():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plot_roc({"a": roc_summary(*_gaussians(1.0, n=1000)),
                    "b": roc_summary(*_gaussians(2.0, n=1000))})
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert len(ax.lines) == 3  # two attacks and the chance diagonal
    plt.close(fig)


def test_plot_roc_says_n_a_where_too_few_negatives_measure_the_rate():
    """50 negatives cannot measure a TPR at 1 % FPR: the legend says so instead of failing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plot_roc({"small": roc_summary(*_gaussians(1.0, n=50))})
    label = fig.axes[0].lines[0].get_label()
    assert "TPR@1% n/a" in label
    plt.close(fig)


@pytest.mark.parametrize("scores,labels,fragment", [
    (["a", "b"], [1, 0], "scores must be numbers"),
    ([[0.1], [0.2, 0.3]], [1, 0], "scores must be a rectangular array of numbers"),
    ([True, False], [1, 0], "scores must be numbers"),
    ([0.1, 0.2], ["1", "0"], "labels must be 0"),
    ([0.1, 0.2], [0.5, 1], "labels must be 0"),
    ([0.1, float("inf")], [1, 0], "NaN or infinite"),
])
def test_roc_summary_refuses_what_is_not_numbers_in_one_line(refused, scores, labels, fragment):
    refused(DataError, fragment, roc_summary, scores, labels)


@pytest.mark.parametrize("args,error,fragment", [
    (([0.0, 1.0], [0.0], 0.01), DataError, "fpr and tpr must be of one length"),
    (([0.0, 1.0], [0.0, 1.0], float("nan")), ConfigError, "target must be a finite number"),
    (([0.0, 1.0], [0.0, 1.0], 2.0), ConfigError, "target must lie in [0, 1]"),
    (([0.0, 2.0], [0.0, 1.0], 0.01), DataError, "must lie in [0, 1]"),
    ((["x"], [0.0], 0.01), DataError, "fpr must be numbers"),
])
def test_tpr_at_fpr_refuses_bad_curves(refused, args, error, fragment):
    refused(error, fragment, tpr_at_fpr, *args)


def test_plot_roc_refuses_curves_of_the_wrong_kind(refused):
    r = roc_summary([3, 2, 1, 0], [1, 1, 0, 0])
    refused(WrongTypeError, "curves must map a legend label to a RocSummary, got list", plot_roc,
            [r])
    refused(WrongTypeError, "curve 'a' must be a RocSummary, got dict", plot_roc, {"a": {}})
    refused(WrongTypeError, "ax must be a matplotlib Axes or None", plot_roc, {"a": r}, ax=1)


def test_scores_and_labels_may_be_tensors_on_any_device(device):
    import torch

    scores, labels = _gaussians(1.0, n=500)
    on_device = roc_summary(torch.tensor(scores, device=device),
                            torch.tensor(labels, device=device))
    assert on_device.auc == roc_summary(scores, labels).auc


def test_a_tpr_at_a_rate_the_negatives_cannot_resolve_is_not_reported():
    """With fewer than 1,000 non-members no threshold has an FPR between 0 and 0.1 %: the
    'TPR at 0.1 % FPR' would be the TPR at zero false positives. It is None there (999
    negatives), and measured from 1,000 on; the same at 1 % with 100."""
    rng = np.random.default_rng(0)
    for negatives, at01, at1 in ((999, False, True), (1000, True, True), (99, False, False),
                                 (100, False, True)):
        scores = np.concatenate([rng.normal(2, 1, 500), rng.normal(0, 1, negatives)])
        labels = np.concatenate([np.ones(500), np.zeros(negatives)])
        r = roc_summary(scores, labels)
        assert (r.tpr_at_0_1pct_fpr is not None) == at01, negatives
        assert (r.tpr_at_1pct_fpr is not None) == at1, negatives
        assert r.as_dict()["negatives"] == negatives
