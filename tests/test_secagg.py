"""Secure aggregation by pairwise masking (dlgtut.secagg): the masks cancel, dropouts are
recovered, a single masked update looks like noise, and bad input is refused up front."""

import random

import pytest
import torch

from dlgtut.errors import ConfigError, DataError, WrongTypeError
from dlgtut.secagg import (
    MODULUS,
    agree,
    dequantize,
    key_pair,
    mask,
    quantize,
    secure_sum,
    shamir_combine,
    shamir_split,
)


def _updates(n=5, size=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [0.1 * torch.randn(size, generator=g) for _ in range(n)]


def test_diffie_hellman_gives_both_sides_the_same_seed_and_strangers_another():
    rng = random.Random(0)
    (a, a_pub), (b, b_pub), (c, c_pub) = (key_pair(rng) for _ in range(3))
    assert agree(a, b_pub) == agree(b, a_pub)
    assert agree(a, c_pub) != agree(a, b_pub)


def test_any_threshold_shares_give_the_secret_back_and_fewer_do_not():
    rng = random.Random(1)
    secret = rng.getrandbits(256)
    shares = shamir_split(secret, 3, 6, rng)
    for picked in ([0, 1, 2], [3, 4, 5], [0, 2, 5], [1, 2, 3, 4, 5]):
        assert shamir_combine([shares[i] for i in picked]) == secret
    assert shamir_combine(shares[:2]) != secret  # two points fix a line, not the parabola


def test_the_masks_cancel_and_the_server_decodes_the_exact_quantised_sum():
    ups = _updates()
    result = secure_sum(ups, seed=3)
    exact = sum(quantize(u, 1.0, 2**16) for u in ups)
    assert torch.equal(result.quantized_sum, exact)  # integers: exactly, not approximately
    # Rounding costs each participant at most half a step (clip / levels) per coordinate.
    assert (result.total[0] - sum(ups).double()).abs().max() <= 5 * 1.0 / 2**16
    assert result.survivors == (0, 1, 2, 3, 4) and result.dropped == ()


def test_dropouts_are_recovered_from_the_survivors_shares():
    ups = _updates(n=6)
    result = secure_sum(ups, dropped=[4, 1], threshold=3, seed=4)
    assert result.dropped == (1, 4) and result.survivors == (0, 2, 3, 5)
    assert result.masked[1] is None and result.masked[4] is None
    exact = sum(quantize(ups[k], 1.0, 2**16) for k in (0, 2, 3, 5))
    assert torch.equal(result.quantized_sum, exact)


def test_without_the_unmasking_round_dropouts_would_leave_garbage():
    # The survivors' masked vectors alone do not sum to their updates: the dropped participant's
    # pairwise masks no longer cancel. This is what the Shamir shares are for.
    ups = _updates(n=4)
    result = secure_sum(ups, dropped=[2], threshold=2, seed=5)
    naive = sum(result.masked[k] for k in result.survivors) % MODULUS
    naive_sum = dequantize(naive, 1.0, 2**16, count=3)
    assert (naive_sum - (ups[0] + ups[1] + ups[3]).double()).abs().mean() > 100


def test_a_masked_update_looks_like_uniform_noise():
    ups = _updates(n=3, size=20000)
    result = secure_sum(ups, seed=6)
    for k, y in enumerate(result.masked):
        u = y.double() / MODULUS
        assert 0.49 < u.mean() < 0.51  # uniform on [0, 1): mean 1/2, sd of the mean 0.002
        corr = torch.corrcoef(torch.stack([u, ups[k].double()]))[0, 1]
        assert abs(corr) < 0.03  # 20,000 pairs: the sd of a null correlation is 0.007


def test_a_seed_repeats_the_round_and_no_seed_draws_fresh_secrets():
    ups = _updates(n=3, size=50)
    a, b = secure_sum(ups, seed=7), secure_sum(ups, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a.masked, b.masked, strict=True))
    c, d = secure_sum(ups), secure_sum(ups)
    assert not torch.equal(c.masked[0], d.masked[0])
    assert torch.equal(c.quantized_sum, d.quantized_sum)


def test_updates_with_several_tensors_come_back_in_their_shapes():
    g = torch.Generator().manual_seed(8)
    ups = [[0.1 * torch.randn(3, 4, generator=g), 0.1 * torch.randn(5, generator=g)]
           for _ in range(3)]
    result = secure_sum(ups, seed=8)
    assert [t.shape for t in result.total] == [torch.Size([3, 4]), torch.Size([5])]
    for k, t in enumerate(result.total):
        assert (t - sum(u[k] for u in ups).double()).abs().max() <= 3 / 2**16


def test_values_beyond_clip_are_clipped_not_wrapped():
    ups = [torch.tensor([5.0, -5.0]), torch.tensor([0.5, 0.5])]
    result = secure_sum(ups, clip=1.0, seed=9)
    assert torch.allclose(result.total[0], torch.tensor([1.5, -0.5], dtype=torch.float64),
                          atol=2 / 2**16)


def test_the_mask_expands_a_seed_deterministically_into_the_whole_ring():
    m = mask(b"seed", 100000)
    assert torch.equal(m, mask(b"seed", 100000)) and not torch.equal(m, mask(b"other", 100000))
    assert m.min() >= 0 and m.max() < MODULUS and m.max() > MODULUS * 0.999


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(updates=torch.zeros(3)), WrongTypeError, "one update"),
    (dict(updates="ab"), WrongTypeError, "one update"),
    (dict(updates=[torch.zeros(3)]), DataError, "at least 2"),
    (dict(updates=[]), DataError, "at least 2"),
    (dict(updates=[torch.zeros(3), "x"]), WrongTypeError, "participant 1"),
    (dict(updates=[torch.zeros(3), []]), WrongTypeError, "participant 1"),
    (dict(updates=[torch.zeros(3)] * 101), DataError, "at most 100"),
    (dict(updates=[torch.zeros(3), torch.zeros(4)]), DataError, "shaped differently"),
    (dict(updates=[torch.zeros(3), torch.zeros(3, dtype=torch.int64)]), DataError, "floating"),
    (dict(updates=[torch.zeros(3), torch.tensor([0.0, float("nan"), 0.0])]), DataError, "NaN"),
    (dict(updates=[torch.zeros(3), torch.tensor([0.0, float("inf"), 0.0])]), DataError, "NaN"),
    (dict(updates=[torch.zeros(0), torch.zeros(0)]), DataError, "no entries"),
    (dict(threshold=1), ConfigError, "threshold"),
    (dict(threshold=5), ConfigError, "threshold"),
    (dict(threshold=2.0), ConfigError, "threshold"),
    (dict(threshold=True), ConfigError, "threshold"),
    (dict(clip=0), ConfigError, "clip"),
    (dict(clip=-1), ConfigError, "clip"),
    (dict(clip=float("nan")), ConfigError, "clip"),
    (dict(clip=float("inf")), ConfigError, "clip"),
    (dict(clip="1"), ConfigError, "clip"),
    (dict(levels=0), ConfigError, "levels"),
    (dict(levels=2**31), ConfigError, "wrap around"),
    (dict(levels=1.5), ConfigError, "levels"),
    (dict(seed=-1), ConfigError, "seed"),
    (dict(seed=1.0), ConfigError, "seed"),
    (dict(dropped=[4]), ConfigError, "dropped"),
    (dict(dropped=[-1]), ConfigError, "dropped"),
    (dict(dropped=[0, 0]), ConfigError, "twice"),
    (dict(dropped="0"), WrongTypeError, "dropped"),
    (dict(dropped=3), WrongTypeError, "dropped"),
    (dict(dropped=[0, 1]), ConfigError, "fewer than the threshold"),
])
def test_bad_input_is_refused_with_a_clear_message(kwargs, error, words):
    args = dict(updates=[torch.zeros(3)] * 4, threshold=3)
    args.update(kwargs)
    with pytest.raises(error, match=words):
        secure_sum(args.pop("updates"), **args)


def test_shamir_refuses_what_it_cannot_share_or_combine():
    rng = random.Random(0)
    with pytest.raises(ConfigError, match="threshold"):
        shamir_split(1, 4, 3, rng)
    with pytest.raises(ConfigError, match="below 2\\*\\*521"):
        shamir_split(-1, 2, 3, rng)
    with pytest.raises(DataError, match="distinct"):
        shamir_combine([(1, 5), (1, 6)])
    with pytest.raises(DataError, match="at least one"):
        shamir_combine([])
    with pytest.raises(DataError, match="public key"):
        agree(3, 1)
