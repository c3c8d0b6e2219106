"""dlgtut.accounting: DP-SGD's epsilon for the batches the code draws, and the Gaussian's.

The reference numbers come from Google's dp-accounting 0.6.0, which cannot be installed beside
Colab's packages (it pins attrs<24), computed once in a throw-away environment:

    python3 -m venv /tmp/dpa && /tmp/dpa/bin/pip install dp-accounting==0.6.0
    # RDP: dp_accounting.rdp.rdp_privacy_accountant._compute_rdp_sample_wor_gaussian(q, s,
    #      range(2, 65)); epsilon: RdpAccountant(range(2, 65), NeighboringRelation.REPLACE_ONE)
    #      composing SelfComposedDpEvent(SampledWithoutReplacementDpEvent(n, b,
    #      GaussianDpEvent(sigma / 2)), steps); the Gaussian: PLDAccountant(ADD_OR_REMOVE_ONE,
    #      value_discretization_interval=1e-5) composing GaussianDpEvent(s) k times.

A bug in the bound, the sensitivity or the composition moves these numbers by far more than
the tolerances (measured agreement: 1e-13 relative for RDP and epsilon, 1e-10 for the
Gaussian, whose reference is itself discretised).
"""

import math

import pytest

from dlgtut.accounting import ORDERS, dp_sgd_epsilon, gaussian_epsilon, rdp_wor_gaussian
from dlgtut.errors import ConfigError

# (q, sigma): the RDP at orders 2..7, the first six of ORDERS (all 63 agreed to 1e-13 when
# these were recorded).
RDP = {
    (0.01, 1.0): (
        0.0005435086381094331, 0.0008348726849544131, 0.0011416065565370108,
        0.0014664462907361024, 0.0018141998399960689, 0.002197092036787071,
    ),
    (0.1, 0.8): (
        0.09113297983927968, 0.20386685457611176, 0.5228110354761292, 1.2319261888518802,
        2.0680974831788452, 2.898924249653094,
    ),
    (0.32, 0.5): (
        2.4999349181113546, 4.639038906514769, 6.711828990024384, 8.74899438076157,
        10.771308304015283, 12.786184533177867,
    ),
    (0.5, 2.0): (
        0.24999999999999997, 0.3656655320285793, 0.4438304033617457, 0.49715036008025826,
        0.5397859882251936, 0.5827815166795515,
    ),
    (0.05, 4.0): (
        0.0006447367017961317, 0.0009747531720038974, 0.0013095541837856094,
        0.0016488839523834775, 0.0019924714689392724, 0.002340031395598264,
    ),
    (0.9, 1.5): (
        1.0343155630942018, 1.225077149087424, 1.2841791049723388, 1.3746567225114261,
        1.4979090427805568, 1.6464251983155658,
    ),
}

# (sigma, batch, n, steps, delta): epsilon under replace-one, fixed-size batches without
# replacement.
EPSILON = {
    (1.0, 32, 100, 40, 1e-05): 110.12402782830452,
    (0.5, 1, 4, 10, 1e-05): 149.3322246898619,
    (2.0, 8, 1000, 500, 1e-06): 2.348990014583198,
    (1.1, 64, 60000, 3000, 1e-05): 4.720502675776233,
}

# (noise std, k, delta) at sensitivity 1: the exact epsilon of k Gaussian mechanisms.
GAUSSIAN = {
    (4.845, 1, 1e-05): 0.7509439396503427,
    (1.0, 1, 1e-05): 4.377178095869925,
    (0.5, 1, 1e-06): 10.997151214493307,
    (2.0, 10, 1e-05): 7.511275901020808,
}


@pytest.mark.parametrize("q, sigma", list(RDP))
def test_the_rdp_bound_is_dp_accounting_s(q, sigma):
    mine = rdp_wor_gaussian(q, sigma)
    assert len(mine) == len(ORDERS)
    for got, want in zip(mine, RDP[q, sigma], strict=False):
        assert got == pytest.approx(want, rel=1e-9)
    assert all(b >= a for a, b in zip(mine, mine[1:], strict=False))  # RDP grows with order


@pytest.mark.parametrize("key", list(EPSILON))
def test_dp_sgd_epsilon_is_dp_accounting_s_for_sampling_without_replacement(key):
    sigma, b, n, steps, delta = key
    assert dp_sgd_epsilon(sigma, b, n, steps, delta) == pytest.approx(EPSILON[key], rel=1e-9)


@pytest.mark.parametrize("key", list(GAUSSIAN))
def test_gaussian_epsilon_is_exact(key):
    noise, k, delta = key
    assert gaussian_epsilon(noise, 1.0, delta, k) == pytest.approx(GAUSSIAN[key], rel=1e-7)


def test_the_classic_formula_holds_below_one_and_fails_at_ten():
    """sigma = sqrt(2 ln(1.25/delta)) / eps is proven for eps < 1 (Dwork and Roth, Thm 3.22),
    Flower's LocalDpMod uses it at any eps: at eps = 10 its noise gives 10.39 (measured)."""
    delta = 1e-5
    for nominal in (0.5, 0.9):
        sigma = math.sqrt(2 * math.log(1.25 / delta)) / nominal
        assert gaussian_epsilon(sigma, 1.0, delta) < nominal  # measured 0.35 and 0.67
    sigma = math.sqrt(2 * math.log(1.25 / delta)) / 10.0
    assert gaussian_epsilon(sigma, 1.0, delta) == pytest.approx(10.3939, abs=1e-3)


def test_composing_and_sampling_behave():
    one = dp_sgd_epsilon(1.0, 32, 300, 1, 1e-5)
    assert one < dp_sgd_epsilon(1.0, 32, 300, 10, 1e-5) < dp_sgd_epsilon(1.0, 32, 300, 100, 1e-5)
    assert dp_sgd_epsilon(2.0, 32, 300, 100, 1e-5) < dp_sgd_epsilon(1.0, 32, 300, 100, 1e-5)
    # Without sampling (the whole dataset each step) it is k Gaussian mechanisms of
    # sensitivity 2C, exactly; sampling a tenth amplifies privacy.
    assert dp_sgd_epsilon(1.0, 300, 300, 5, 1e-5) == gaussian_epsilon(1.0, 2.0, 1e-5, 5)
    assert dp_sgd_epsilon(1.0, 30, 300, 5, 1e-5) < dp_sgd_epsilon(1.0, 300, 300, 5, 1e-5)
    assert dp_sgd_epsilon(0.0, 32, 300, 10, 1e-5) == math.inf
    assert dp_sgd_epsilon(1.0, 32, 300, 0, 1e-5) == 0.0


@pytest.mark.parametrize("args, fragment", [
    ((float("nan"), 8, 100, 10, 1e-5), "noise_multiplier must be a finite number"),
    ((-1.0, 8, 100, 10, 1e-5), "noise_multiplier must be non-negative"),
    ((1.0, 0, 100, 10, 1e-5), "batch_size"),
    ((1.0, 8.5, 100, 10, 1e-5), "batch_size"),
    ((1.0, 200, 100, 10, 1e-5), "dataset_size"),
    ((1.0, 8, 100, -1, 1e-5), "steps"),
    ((1.0, 8, 100, True, 1e-5), "steps"),
    ((1.0, 8, 100, 10, 1.0), "delta must lie in (0, 1)"),
    ((1.0, 8, 100, 10, 0.0), "delta must lie in (0, 1)"),
])
def test_dp_sgd_epsilon_refuses_bad_settings(refused, args, fragment):
    refused(ConfigError, fragment, dp_sgd_epsilon, *args)


@pytest.mark.parametrize("args, fragment", [
    ((0.0, 1.0, 1e-5), "noise_std"),
    ((1.0, float("inf"), 1e-5), "sensitivity"),
    ((1.0, 1.0, 2.0), "delta"),
    ((1.0, 1.0, 1e-5, 0), "compositions"),
])
def test_gaussian_epsilon_refuses_bad_settings(refused, args, fragment):
    refused(ConfigError, fragment, gaussian_epsilon, *args)


@pytest.mark.parametrize("q, sigma, orders, fragment", [
    (0.0, 1.0, ORDERS, "q must lie in"),
    (1.5, 1.0, ORDERS, "q must lie in"),
    (0.1, 0.0, ORDERS, "sigma"),
    (0.1, 1.0, [1], "every order"),
    (0.1, 1.0, [2.5], "every order"),
])
def test_the_rdp_bound_refuses_bad_settings(refused, q, sigma, orders, fragment):
    refused(ConfigError, fragment, rdp_wor_gaussian, q, sigma, orders)
