"""Secure aggregation by pairwise masking, as Bonawitz et al. (CCS 2017) built it.

The server learns the sum of the participants' updates and nothing else about any one of them
(if enough participants are honest). Each pair of participants ``u < v`` agrees on a secret seed
by Diffie-Hellman; ``u`` adds the pseudo-random mask the seed expands to, ``v`` subtracts it, so
every pairwise mask cancels in the sum. Each participant also adds a mask of its own (the
*self mask*) and splits both its Diffie-Hellman secret and its self-mask seed among the others
with Shamir's secret sharing, so that when participants drop out the survivors can help the
server remove the masks that no longer cancel: the dropped participants' pairwise masks (from
the shares of their Diffie-Hellman secrets) and the survivors' self masks (from the shares of
their seeds). The server never gets both kinds of share for one participant, which is why an
update that arrives late cannot be unmasked.

Reference: K. Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine
Learning", CCS 2017 (the semi-honest protocol of its Figure 4); reference code: Flower's SecAgg+
(``flwr.common.secure_aggregation``, which uses the same quantisation and Shamir's scheme).

What this module leaves out, on purpose (it is for learning how the masks cancel, not for
deployment): the shares travel in the clear instead of encrypted between participants, nobody
signs anything (so a malicious server is not covered), and every participant shares with every
other (SecAgg+ uses a sparse graph). The cryptographic parts are real: Diffie-Hellman in the
2048-bit MODP group of RFC 3526, Shamir's scheme over the prime 2**521 - 1, masks expanded from
SHA-256 seeds with SHAKE-256. With ``seed`` set, the secrets are drawn from a seeded generator,
so a run can be repeated; that is for teaching only: such secrets are not secret.

Updates are clipped to ``[-clip, clip]`` and quantised to ``levels`` integer steps before
masking (as Flower's SecAgg+ does, with deterministic rounding here), and the arithmetic is
modulo ``2**32``: the sum the server decodes is exact in those integers, and within
``n * clip / levels`` of the float sum per coordinate (``n`` participants).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import secrets
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .checks import integer, number
from .checks import seed as check_seed
from .errors import ConfigError, DataError, WrongTypeError

__all__ = [
    "MODULUS",
    "MAX_PARTICIPANTS",
    "SecAggRound",
    "secure_sum",
    "key_pair",
    "agree",
    "shamir_split",
    "shamir_combine",
    "mask",
    "quantize",
    "dequantize",
]

MODULUS = 2**32  # the ring the masked integers live in
MAX_PARTICIPANTS = 100  # n (n - 1) / 2 key agreements and 2 n Shamir splits: ~30 s at 100 on a CPU
# RFC 3526, group 14: the 2048-bit MODP group, generator 2
_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)
_G = 2
_SHAMIR_PRIME = 2**521 - 1  # a Mersenne prime above every secret shared here (256 bits)
_SECRET_BITS = 256


def key_pair(rng: random.Random) -> tuple[int, int]:
    """A Diffie-Hellman key pair ``(secret, public)`` in RFC 3526's 2048-bit group."""
    sk = rng.getrandbits(_SECRET_BITS) | 1 << (_SECRET_BITS - 1)  # a full 256-bit exponent
    return sk, pow(_G, sk, _P)


def agree(secret: int, public: int) -> bytes:
    """The seed two participants share: SHA-256 of ``public ** secret`` mod the group's prime.

    ``agree(a_sk, b_pk) == agree(b_sk, a_pk)``.
    """
    if not 1 < public < _P - 1:
        raise DataError("a Diffie-Hellman public key must lie strictly between 1 and p - 1")
    shared = pow(public, secret, _P)
    return hashlib.sha256(shared.to_bytes(256, "big")).digest()


def shamir_split(secret: int, threshold: int, n: int, rng: random.Random) -> list[tuple[int, int]]:
    """Shamir's ``threshold``-of-``n`` shares ``(x, f(x))`` of ``secret`` (x = 1..n).

    Any ``threshold`` shares give ``secret`` back (:func:`shamir_combine`); fewer give nothing
    about it: every value is equally consistent with them.
    """
    n = integer(n, "n", low=1)
    threshold = integer(threshold, "threshold", low=1, high=n)
    if not 0 <= secret < _SHAMIR_PRIME:
        raise ConfigError("a Shamir secret must be a non-negative integer below 2**521 - 1")
    coefficients = [secret] + [rng.randrange(_SHAMIR_PRIME) for _ in range(threshold - 1)]
    shares = []
    for x in range(1, n + 1):
        y = 0
        for c in reversed(coefficients):  # Horner's rule
            y = (y * x + c) % _SHAMIR_PRIME
        shares.append((x, y))
    return shares


def shamir_combine(shares: Sequence[tuple[int, int]]) -> int:
    """The secret behind ``shares``: Lagrange interpolation of f at 0 (needs distinct x)."""
    xs = [x for x, _ in shares]
    if not shares or len(set(xs)) != len(xs):
        raise DataError("Shamir reconstruction needs at least one share and distinct indices")
    secret = 0
    for i, (xi, yi) in enumerate(shares):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if j != i:
                num = num * -xj % _SHAMIR_PRIME
                den = den * (xi - xj) % _SHAMIR_PRIME
        secret = (secret + yi * num * pow(den, -1, _SHAMIR_PRIME)) % _SHAMIR_PRIME
    return secret


def mask(seed: bytes, size: int) -> Tensor:
    """``size`` integers uniform in ``[0, 2**32)`` expanded from ``seed`` (SHAKE-256), int64."""
    stream = hashlib.shake_256(seed).digest(4 * size)
    return torch.from_numpy(np.frombuffer(stream, dtype="<u4").astype(np.int64))


def quantize(x: Tensor, clip: float, levels: int) -> Tensor:
    """``x`` clipped to ``[-clip, clip]`` and rounded to one of ``levels + 1`` integers, int64."""
    scaled = (x.double().clamp(-clip, clip) + clip) * (levels / (2 * clip))
    return torch.round(scaled).to(torch.int64)


def dequantize(q: Tensor, clip: float, levels: int, count: int = 1) -> Tensor:
    """The float value of a sum of ``count`` quantised vectors (float64)."""
    return q.double() * (2 * clip / levels) - count * clip


@dataclasses.dataclass(frozen=True)
class SecAggRound:
    """One round of secure aggregation, as the server sees it and what it decodes.

    Attributes:
        masked: each participant's masked vector (int64 in ``[0, 2**32)``), None for one that
            dropped out before sending it: all the server ever sees of an update.
        survivors: the participants whose masked vectors arrived.
        dropped: those that dropped out after sharing their keys.
        quantized_sum: the decoded sum of the survivors' quantised updates (int64, exact).
        total: that sum as floats, shaped like one update (a tuple of float64 tensors).
        clip, levels: the quantisation.
    """

    masked: tuple[Tensor | None, ...]
    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    quantized_sum: Tensor
    total: tuple[Tensor, ...]
    clip: float
    levels: int


def _updates(updates) -> tuple[list[list[Tensor]], list[torch.Size]]:
    if isinstance(updates, Tensor | str) or not isinstance(updates, Sequence):
        raise WrongTypeError("updates must be a list with one update (a tensor or a list of "
                             f"tensors) per participant, got {type(updates).__name__}")
    if len(updates) < 2:
        raise DataError(f"secure aggregation needs at least 2 participants, got {len(updates)}")
    if len(updates) > MAX_PARTICIPANTS:
        raise DataError(f"this implementation takes at most {MAX_PARTICIPANTS} participants "
                        f"(every pair agrees on a key: {len(updates)} would take minutes); "
                        "Flower's SecAgg+ scales further")
    parts = []
    for k, u in enumerate(updates):
        tensors = [u] if isinstance(u, Tensor) else u
        if isinstance(tensors, str) or not isinstance(tensors, Sequence) or not tensors or \
                not all(isinstance(t, Tensor) for t in tensors):
            raise WrongTypeError(f"participant {k}'s update must be a tensor or a non-empty list "
                                 "of tensors")
        if not all(t.is_floating_point() for t in tensors):
            raise DataError(f"participant {k}'s update must hold floating-point tensors")
        if not all(bool(torch.isfinite(t).all()) for t in tensors):
            raise DataError(f"participant {k}'s update contains NaN or inf")
        parts.append([t.detach().cpu() for t in tensors])
    shapes = [t.shape for t in parts[0]]
    for k, tensors in enumerate(parts[1:], start=1):
        if [t.shape for t in tensors] != shapes:
            raise DataError(f"participant {k}'s update is shaped differently from participant 0's")
    if sum(math.prod(s) for s in shapes) == 0:
        raise DataError("the updates have no entries")
    return parts, shapes


def _dropped(dropped, n: int) -> tuple[int, ...]:
    if isinstance(dropped, str) or not isinstance(dropped, Sequence | set | frozenset):
        raise WrongTypeError(f"dropped must be a list of participant indices, got "
                             f"{type(dropped).__name__}")
    out = [integer(d, "each dropped participant", low=0, high=n - 1) for d in dropped]
    if len(set(out)) != len(out):
        raise ConfigError("dropped names a participant twice")
    return tuple(sorted(out))


def secure_sum(updates: Sequence, *, dropped: Sequence[int] = (), threshold: int | None = None,
               clip: float = 1.0, levels: int = 2**16, seed: int | None = None) -> SecAggRound:
    """Run one round of Bonawitz et al.'s secure aggregation on ``updates``.

    Args:
        updates: one update per participant (2 to :data:`MAX_PARTICIPANTS`), each a tensor
            or a list of tensors (the same shapes for every participant), finite floats. The
            cost grows with the square of their number: 10 take under a second, 100 about 30 s.
        dropped: participants that share their keys but drop out before sending their masked
            update; the sum is then the survivors'.
        threshold: how many participants must survive (Shamir's threshold); default a
            majority, ``n // 2 + 1``. At least 2: one survivor's "sum" is its update.
        clip: updates are clipped to ``[-clip, clip]`` before quantisation.
        levels: quantisation steps across ``[-clip, clip]``; ``n * levels`` must stay below
            ``2**32`` so that the sum does not wrap around.
        seed: draw the secrets from a seeded generator (repeatable, for teaching); None draws
            them from the operating system's (:mod:`secrets`).

    Raises:
        WrongTypeError, DataError, ConfigError: bad updates or settings (checked before any work).
        ConfigError: fewer survivors than ``threshold``: the masks cannot be removed.
    """
    parts, shapes = _updates(updates)
    n = len(parts)
    dropped = _dropped(dropped, n)
    threshold = n // 2 + 1 if threshold is None else threshold
    threshold = integer(threshold, "threshold", low=2, high=n)
    clip = number(clip, "clip", low=0, low_open=True)
    levels = integer(levels, "levels", low=1)
    if n * levels >= MODULUS:
        raise ConfigError(f"{n} participants x {levels} levels would wrap around modulo 2**32; "
                          "use fewer levels")
    survivors = tuple(k for k in range(n) if k not in dropped)
    if len(survivors) < threshold:
        raise ConfigError(f"only {len(survivors)} of {n} participants survive, fewer than the "
                          f"threshold {threshold}: the masks cannot be removed")
    rng = secrets.SystemRandom() if seed is None else random.Random(check_seed(seed))
    size = sum(math.prod(s) for s in shapes)

    # Round 0, advertise keys: a Diffie-Hellman pair each.
    keys = [key_pair(rng) for _ in range(n)]
    # Round 1, share keys: a self-mask seed each; shares of it and of the DH secret to everyone.
    self_seeds = [rng.getrandbits(_SECRET_BITS) for _ in range(n)]
    sk_shares = [shamir_split(sk, threshold, n, rng) for sk, _ in keys]  # [owner][holder]
    seed_shares = [shamir_split(b, threshold, n, rng) for b in self_seeds]

    # Round 2, masked input: y_u = x_u + PRG(b_u) + sum_{v>u} PRG(s_uv) - sum_{v<u} PRG(s_uv).
    # Each pair's seed is agreed once here (u with v's public key gives what v gets with u's).
    agreed = {(u, v): agree(keys[u][0], keys[v][1]) for u in range(n) for v in range(u + 1, n)}

    def pairwise(u: int, v: int, seed: bytes) -> Tensor:
        return (1 if u < v else -1) * mask(seed, size)

    masked: list[Tensor | None] = []
    for u in range(n):
        if u in dropped:
            masked.append(None)
            continue
        x = torch.cat([quantize(t.reshape(-1), clip, levels) for t in parts[u]])
        y = x + mask(_seed_bytes(self_seeds[u]), size)
        for v in range(n):
            if v != u:
                y = y + pairwise(u, v, agreed[min(u, v), max(u, v)])
        masked.append(y % MODULUS)

    # Round 3, unmasking: the survivors give the server shares of the survivors' self-mask seeds
    # and of the dropped participants' DH secrets, never both for one participant.
    total = sum(masked[u] for u in survivors) % MODULUS
    for u in survivors:
        b = shamir_combine([seed_shares[u][h] for h in survivors[:threshold]])
        total = total - mask(_seed_bytes(b), size)
    for v in dropped:
        sk_v = shamir_combine([sk_shares[v][h] for h in survivors[:threshold]])
        for u in survivors:  # u added pairwise(u, v); v's side would have cancelled it
            total = total + pairwise(v, u, agree(sk_v, keys[u][1]))
    total = total % MODULUS
    flat = dequantize(total, clip, levels, count=len(survivors))
    pieces, start = [], 0
    for s in shapes:
        pieces.append(flat[start:start + math.prod(s)].reshape(s))
        start += math.prod(s)
    return SecAggRound(tuple(masked), survivors, dropped, total, tuple(pieces), clip, levels)


def _seed_bytes(b: int) -> bytes:
    return b.to_bytes(_SECRET_BITS // 8, "big")
