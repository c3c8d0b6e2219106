"""A participant training TinyLM on its private sentences, and the update it shares."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..checks import integer, update_tensors
from ..errors import ConfigError, DataError, WrongTypeError
from .corpus import Vocabulary, _tokens
from .model import TinyLM, next_token_loss


@dataclass(frozen=True, eq=False)
class TextBatch:
    """A participant's private batch of sentences: ``N x T`` token ids, all of one length.

    Args:
        ids: ``N x T`` integer token ids, ``T >= 2`` (one next-token prediction at least).

    Example:
        >>> from dlgtut.text import default_vocabulary
        >>> batch = TextBatch.from_sentences(default_vocabulary(), ["Mr. Bennet made no answer."])
        >>> batch.ids.tolist(), batch.sentences(default_vocabulary())
        ([[54, 55, 89, 90, 91, 20]], ['mr. bennet made no answer.'])
    """

    ids: Tensor

    def __post_init__(self) -> None:
        ids = self.ids
        if not isinstance(ids, Tensor) or ids.ndim != 2:
            shape = tuple(ids.shape) if isinstance(ids, Tensor) else type(ids).__name__
            raise DataError(f"ids must be a tensor of shape N x T, got {shape}")
        if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise DataError(f"ids must be integers, got dtype {ids.dtype}")
        if ids.shape[0] == 0:
            raise DataError("a batch needs at least one sentence")
        if ids.shape[1] < 2:
            raise DataError(f"a sentence needs 2 tokens or more to predict one, got {ids.shape[1]}")
        if ids.min() < 0:
            raise DataError("token ids must be non-negative")
        object.__setattr__(self, "ids", ids.long())

    @classmethod
    def from_sentences(
        cls, vocab: Vocabulary, sentences: Sequence[str], length: int | None = None
    ) -> TextBatch:
        """Encode sentences (unknown words become ``<unk>``).

        Args:
            vocab: the model's vocabulary.
            sentences: the private sentences.
            length: keep the first ``length`` tokens of each; if None all must be equally long.
        """
        if not isinstance(vocab, Vocabulary):
            raise WrongTypeError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
        if isinstance(sentences, str):
            sentences = [sentences]
        sentences = _tokens(sentences, "sentences")
        if length is not None:
            integer(length, "length", low=2)
        encoded = [vocab.encode(s) for s in sentences]
        if not encoded:
            raise DataError("a batch needs at least one sentence")
        need = max(2, length or 0)
        for s, ids in zip(sentences, encoded, strict=True):
            if len(ids) < need:
                raise DataError(f"sentence {s!r} has {len(ids)} tokens, fewer than needed ({need})")
        if length is not None:
            encoded = [ids[:length] for ids in encoded]
        if len({len(ids) for ids in encoded}) > 1:
            raise DataError(
                f"sentences have different lengths {[len(i) for i in encoded]}; pass length="
            )
        return cls(torch.tensor(encoded, dtype=torch.long))

    def __len__(self) -> int:
        return self.ids.shape[0]

    def sentences(self, vocab: Vocabulary) -> list[str]:
        """The batch as text."""
        if not isinstance(vocab, Vocabulary):
            raise WrongTypeError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
        return [vocab.decode(row) for row in self.ids]


@dataclass(frozen=True, eq=False)
class TextUpdate:
    """What an honest-but-curious server receives from a participant training a language model.

    Attributes:
        model: the public model at the start of the round (a private copy).
        vocab: the public vocabulary of the model.
        tensors: the FedSGD gradient, one tensor per parameter in ``model.parameters()`` order.
        batch_size: number of sentences.
        seq_len: tokens per sentence (the model saw ``seq_len - 1`` of them as input). A public
            fact here, as the image shape is for images; it also shows in the gradient of the
            position embedding, whose rows from ``seq_len - 1`` on are zero.
    """

    model: TinyLM
    vocab: Vocabulary
    tensors: tuple[Tensor, ...]
    batch_size: int
    seq_len: int

    def gradient(self, name: str) -> Tensor:
        """The shared gradient of the parameter called ``name`` (e.g. ``"tok.weight"``)."""
        names = [n for n, _ in self.model.named_parameters()]
        if not isinstance(name, str) or name not in names:
            raise DataError(f"the model has no parameter {name!r}")
        return self.tensors[names.index(name)]


def require_text_update(update, who: str) -> TextUpdate:
    """Check that a text attack was given a :class:`TextUpdate`; say what went wrong if not.

    The private :class:`TextBatch` (or its ids) in its place is named as such: the attacker
    never sees the private sentences. Beyond the type, the update's public facts are checked:
    a :class:`TinyLM` and a :class:`Vocabulary` of one size, one floating-point tensor per
    parameter, a positive batch size and a sentence length of 2 tokens or more.

    Raises:
        WrongTypeError: not a TextUpdate, or one whose model, vocabulary or tensors are of the
            wrong kind.
        DataError: public facts that cannot describe a batch.
    """
    if isinstance(update, TextBatch | Tensor):
        raise WrongTypeError(
            f"{who} takes the TextUpdate a participant shares, not the private sentences "
            "(the attacker never sees them): pass TextParticipant(model, vocab).fedsgd(batch)")
    if not isinstance(update, TextUpdate):
        raise WrongTypeError(f"{who} takes a TextUpdate, got {type(update).__name__}")
    if not isinstance(update.model, TinyLM) or not isinstance(update.vocab, Vocabulary):
        raise WrongTypeError(f"{who} needs the update's public TinyLM and Vocabulary, got "
                             f"{type(update.model).__name__} and {type(update.vocab).__name__}")
    if update.model.vocab_size != len(update.vocab):
        raise DataError(f"the update's model has {update.model.vocab_size} outputs but its "
                        f"vocabulary {len(update.vocab)} tokens")
    update_tensors(update.tensors, who)
    integer(update.batch_size, "the update's batch_size", low=1, error=DataError)
    integer(update.seq_len, "the update's seq_len", low=2, error=DataError)
    return update


class TextParticipant:
    """An honest participant: shares the next-token gradient of its private sentences.

    The gradient is computed on the model's device, where the shared tensors stay.

    Args:
        model: the public language model of this round (never modified).
        vocab: its vocabulary.

    Example:
        >>> from dlgtut.text import default_vocabulary
        >>> vocab = default_vocabulary()
        >>> net = TinyLM(len(vocab), seed=0)
        >>> batch = TextBatch.from_sentences(vocab, ["What is his name?"])
        >>> update = TextParticipant(net, vocab).fedsgd(batch)
        >>> update.batch_size, update.seq_len, update.gradient("tok.weight").shape
        (1, 5, torch.Size([327, 32]))
    """

    def __init__(self, model: TinyLM, vocab: Vocabulary) -> None:
        if not isinstance(model, TinyLM):
            raise WrongTypeError(f"model must be a TinyLM, got {type(model).__name__}")
        if not isinstance(vocab, Vocabulary):
            raise WrongTypeError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
        if model.vocab_size != len(vocab):
            raise ConfigError(
                f"the model has {model.vocab_size} outputs but the vocabulary {len(vocab)} tokens"
            )
        self.model, self.vocab = model, vocab

    def fedsgd(self, batch: TextBatch) -> TextUpdate:
        """FedSGD: the gradient of :func:`next_token_loss` with respect to every parameter."""
        if not isinstance(batch, TextBatch):
            raise WrongTypeError(f"the participant needs a TextBatch, got {type(batch).__name__}")
        ids = batch.ids
        if ids.max() >= len(self.vocab):
            raise DataError(f"token ids must lie in [0, {len(self.vocab) - 1}]")
        if ids.shape[1] - 1 > self.model.context:
            raise DataError(
                f"sentences of {ids.shape[1]} tokens need a context of {ids.shape[1] - 1}, "
                f"the model has {self.model.context}"
            )
        params = list(self.model.parameters())
        grads = torch.autograd.grad(next_token_loss(self.model, ids), params)
        return TextUpdate(
            model=copy.deepcopy(self.model),
            vocab=self.vocab,
            tensors=tuple(g.detach().clone() for g in grads),
            batch_size=len(batch),
            seq_len=ids.shape[1],
        )
