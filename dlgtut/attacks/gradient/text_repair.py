"""The discrete side of text DLG: what the gradient says about tokens without optimisation.

* :func:`bag_of_words`: the tokens of the batch, read off the embedding gradient's non-zero rows.
* :class:`TextProblem`: the exact gradient distance of a token batch, which the continuous
  search in :mod:`dlgtut.attacks.gradient.text` and the repair both minimise.
* :func:`refine_tokens`: a greedy discrete repair of recovered tokens (after LAMP, Balunovic et
  al. 2022).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ...checks import choice, flag, integer
from ...errors import AttackError, DataError
from ...fl import soft_cross_entropy
from ...text import TextUpdate, as_token_ids, require_text_update
from .deep_leakage import gradient_distance

__all__ = [
    "bag_of_words",
    "refine_tokens",
    "TextProblem",
    "repair",
]


def bag_of_words(update: TextUpdate, labels: bool = True) -> Tensor:
    """The tokens of a private batch, read off its gradient without any optimisation.

    A token embedding row receives gradient only if its token was an input, so the non-zero
    rows of the embedding gradient are exactly the input tokens (every token but the last of
    each sentence). With ``labels`` the tokens whose output bias gradient
    ``mean prediction - frequency as a target`` is negative are added: the targets, as long as
    the model spreads its predictions (true for an untrained model; a trained one may hide a
    frequent target).

    Example:
        >>> from dlgtut.text import TextBatch, TextParticipant, TinyLM, default_vocabulary
        >>> vocab = default_vocabulary()
        >>> batch = TextBatch.from_sentences(vocab, ["What is his name?"])
        >>> update = TextParticipant(TinyLM(len(vocab), seed=0), vocab).fedsgd(batch)
        >>> [vocab.itos[i] for i in bag_of_words(update, labels=False)]
        ['is', 'his', 'what', 'name']
        >>> [vocab.itos[i] for i in bag_of_words(update)]
        ['is', 'his', '?', 'what', 'name']
    """
    update = require_text_update(update, "bag_of_words")
    flag(labels, "labels")
    rows = update.gradient("tok.weight").abs().sum(dim=1)
    present = rows > 0
    if labels:
        present |= update.gradient("head.bias") < 0
    return present.nonzero().flatten()


class TextProblem:
    """The attacker's matching problem, built from the shared update only.

    Args:
        update: the shared update of the language model.
        unknowns: ``"tokens"`` (token distributions, every parameter matched) or
            ``"embeddings"`` (free embeddings: the embedding matrix's gradient is left out).
        distance: ``"l2"`` (normalised squared) or ``"cosine"``.
    """

    def __init__(self, update: TextUpdate, unknowns: str = "tokens", distance: str = "l2"
                 ) -> None:
        update = require_text_update(update, "TextProblem")
        choice(unknowns, ("tokens", "embeddings"), "unknowns")
        choice(distance, ("l2", "cosine"), "distance")
        self.unknowns, self.distance_kind = unknowns, distance
        self.model = copy.deepcopy(update.model).double()
        self.device = next(self.model.parameters()).device  # the attack runs where the model is
        names = [n for n, _ in self.model.named_parameters()]
        self.params = list(self.model.parameters())
        for p in self.params:
            p.requires_grad_(True)
        if len(update.tensors) != len(self.params) or any(
            t.shape != p.shape for t, p in zip(update.tensors, self.params, strict=True)
        ):
            raise AttackError("the shared update does not match the public model's parameters")
        if update.seq_len < 2 or update.seq_len - 1 > self.model.context:
            raise DataError(
                f"sentences of {update.seq_len} tokens need a context of {update.seq_len - 1}; "
                f"the model has {self.model.context}"
            )
        target = [t.detach().to(self.device, torch.float64) for t in update.tensors]
        sq = sum(float((t**2).sum()) for t in target)
        if not math.isfinite(sq):
            raise AttackError("the shared update contains NaN or inf")
        if sq == 0:
            raise AttackError("the shared update is all zeros: there is nothing to invert")
        self.embedding_index = names.index("tok.weight")
        self.all = list(range(len(self.params)))
        # Free embeddings cannot produce the embedding matrix's gradient: leave it out.
        self.matched = (
            self.all if unknowns == "tokens"
            else [i for i in self.all if i != self.embedding_index]
        )
        self.target = target
        self.shape = (update.batch_size, update.seq_len)
        self.E = self.model.tok.weight

    def _sq(self, which: list[int]) -> float | None:
        if self.distance_kind != "l2":
            return None
        return sum(float((self.target[i] ** 2).sum()) for i in which)

    def distance(self, emb: Tensor, labels: Tensor, which: list[int], create_graph: bool) -> Tensor:
        """Distance between the dummy's gradient (parameters ``which``) and the shared one."""
        logits = self.model.forward_embeddings(emb)
        v = logits.shape[-1]
        loss = soft_cross_entropy(logits.reshape(-1, v), labels.reshape(-1, v))
        params = [self.params[i] for i in which]
        grads = torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)
        grads = [
            torch.zeros_like(p) if g is None else g for g, p in zip(grads, params, strict=True)
        ]
        target = [self.target[i] for i in which]
        return gradient_distance(grads, target, self.distance_kind, self._sq(which))

    def exact(self, ids: Tensor) -> float:
        """The distance of the gradient of the token batch ``ids`` (all parameters)."""
        emb = self.E[ids[:, :-1]]
        labels = F.one_hot(ids[:, 1:], self.E.shape[0]).to(emb.dtype)
        with torch.enable_grad():
            return float(self.distance(emb, labels, self.all, create_graph=False))


def _moves(ids: Tensor, bag: Tensor):
    """Candidate edits of a token batch, cheapest and likeliest first (descriptions only)."""
    n, t = ids.shape
    present = set(ids.flatten().tolist())
    missing = [w for w in bag.tolist() if w not in present]
    for w in missing:  # a token the gradient says is there, but the reconstruction lacks
        for i in range(n):
            for j in range(t):
                yield ("set", i, j, w)
    for i in range(n):  # a stretch of tokens that landed in the wrong sentence
        for k in range(i + 1, n):
            for lo in range(t):
                for hi in range(lo + 1, t + 1):
                    yield ("exchange", i, k, lo, hi)
    for i in range(n):  # two tokens in each other's places
        for a in range(t):
            for b in range(a + 1, t):
                yield ("swap", i, a, b)
    for w in bag.tolist():  # any token of the bag anywhere
        for i in range(n):
            for j in range(t):
                yield ("set", i, j, w)


def _apply(ids: Tensor, move: tuple) -> Tensor | None:
    """The batch after ``move``, or None when the move changes nothing."""
    out = ids.clone()
    if move[0] == "set":
        _, i, j, w = move
        if out[i, j] == w:
            return None
        out[i, j] = w
    elif move[0] == "exchange":
        _, i, k, lo, hi = move
        if torch.equal(out[i, lo:hi], out[k, lo:hi]):
            return None
        out[i, lo:hi], out[k, lo:hi] = ids[k, lo:hi], ids[i, lo:hi]
    else:
        _, i, a, b = move
        if out[i, a] == out[i, b]:
            return None
        out[i, a], out[i, b] = ids[i, b], ids[i, a]
    return out


def repair(
    problem: TextProblem, ids: Tensor, bag: Tensor, max_evals: int, stop: float = 1e-10,
    deadline: float | None = None,
) -> tuple[Tensor, float, int]:
    """Greedy discrete search; returns the tokens, their exact distance and the evaluations."""
    best, evals = problem.exact(ids), 1
    while best > stop and evals < max_evals:
        improved = False
        for move in _moves(ids, bag):
            candidate = _apply(ids, move)
            if candidate is None:
                continue
            d, evals = problem.exact(candidate), evals + 1
            if d < best:
                ids, best, improved = candidate, d, True
            if best <= stop or evals >= max_evals:
                break
            if deadline is not None and time.perf_counter() > deadline:
                return ids, best, evals
        if not improved:
            break
    return ids, best, evals


def refine_tokens(
    update: TextUpdate,
    tokens: Tensor,
    bag: Tensor | None = None,
    *,
    max_evals: int = 3000,
    distance: Literal["l2", "cosine"] = "l2",
) -> tuple[Tensor, float, int]:
    """Repair recovered tokens by a greedy discrete search on the exact gradient distance.

    Continuous matching gets most tokens right but can end in a local minimum that a single
    discrete edit escapes (the idea of LAMP, Balunovic et al., 2022). Edits are tried in this
    order, each kept if the gradient of the edited batch is closer to the shared one: put a
    token of the bag of words that the reconstruction lacks at some position; exchange a
    stretch of tokens between two sentences; swap two tokens of a sentence; put any token of
    the bag anywhere. Sweeps repeat until none helps, the distance is below 1e-10, or
    ``max_evals`` gradients have been computed.

    Args:
        update: the shared update.
        tokens: ``N x T`` token ids to start from.
        bag: the candidate tokens (default :func:`bag_of_words`).
        max_evals: most gradient evaluations.
        distance: ``"l2"`` (normalised squared) or ``"cosine"``.

    Returns:
        The repaired ``N x T`` ids, their gradient distance and the evaluations spent.

    Raises:
        WrongTypeError: ``update`` is not a TextUpdate.
        DataError: ``tokens`` or ``bag`` that are not integer ids of the vocabulary (a float
            id is refused, not truncated), or ``tokens`` of the wrong shape.
        ConfigError: a negative or non-integer ``max_evals``, or an unknown ``distance``.

    Example:
        >>> from dlgtut.text import TextBatch, TextParticipant, TinyLM, default_vocabulary
        >>> vocab = default_vocabulary()
        >>> batch = TextBatch.from_sentences(vocab, ["What is his name?"])
        >>> update = TextParticipant(TinyLM(len(vocab), seed=0), vocab).fedsgd(batch)
        >>> guess = torch.tensor([vocab.encode("What is name his?")])
        >>> ids, d, evals = refine_tokens(update, guess)
        >>> vocab.decode(ids[0]), d < 1e-10
        ('what is his name?', True)
    """
    problem = TextProblem(update, distance=distance)
    vocab_size = problem.E.shape[0]
    tokens = as_token_ids(tokens, "tokens", vocab_size=vocab_size)  # floats refused, not cut
    if tokens.shape != problem.shape:
        raise DataError(f"tokens must be {problem.shape[0]} x {problem.shape[1]}, got "
                        f"{tuple(tokens.shape)}")
    if bag is None:
        bag = bag_of_words(update)
    else:
        bag = as_token_ids(bag, "bag", vocab_size=vocab_size).reshape(-1)
    integer(max_evals, "max_evals", low=0)
    return repair(problem, tokens, bag, max_evals)


