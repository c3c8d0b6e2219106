"""Text for the attacks: a shipped corpus, a word-level vocabulary and a tiny causal language model.

The image chapters leak pictures; this module sets up the same threat model for words::

    sentences -> TextBatch -> TextParticipant -> TextUpdate -> text_dlg -> tokens -> metrics

The corpus is the first chapter of Jane Austen's *Pride and Prejudice* (1813, public domain),
shipped as ``dlgtut/assets/corpus.txt`` so that nothing is downloaded. Words and punctuation are
lower-cased tokens; double quotation marks are dropped; "Mr." and "Mrs." are single tokens so
that sentences split on ``.``, ``!`` and ``?`` only. The vocabulary is every token of the corpus
in order of first appearance, after ``<unk>``.

:class:`TinyLM` is a small GPT-style model (token and learned position embeddings, pre-norm
transformer blocks with causal self-attention and a GELU MLP, a final norm and an untied output
layer) written out in plain :mod:`torch.nn` so that it is twice differentiable, which gradient
matching needs. A participant trains it on next-token prediction: the sentence without its last
token goes in, the sentence without its first token is the target. What it shares, a
:class:`TextUpdate`, holds the gradient of that loss with respect to every parameter, the public
model and its vocabulary, and the public facts of the round: batch size and sentence length.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import ConfigError, DataError
from .fl import one_hot, soft_cross_entropy

__all__ = [
    "UNK",
    "load_corpus",
    "tokenize",
    "detokenize",
    "split_sentences",
    "corpus_sentences",
    "Vocabulary",
    "default_vocabulary",
    "TinyLM",
    "next_token_loss",
    "TextBatch",
    "TextUpdate",
    "TextParticipant",
]

UNK = "<unk>"
_TOKEN = re.compile(r"mrs?\.|[a-z0-9]+(?:'[a-z0-9]+)*|[.,;:!?]")
_CLOSE = frozenset(".,;:!?")
_END = frozenset(".!?")


def load_corpus() -> str:
    """The shipped corpus, without its ``#`` source line.

    Example:
        >>> load_corpus()[:30]
        'It is a truth universally ackn'
    """
    raw = resources.files("dlgtut").joinpath("assets", "corpus.txt").read_text(encoding="utf-8")
    return "\n".join(line for line in raw.splitlines() if not line.startswith("#")).strip()


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation marks; double quotes and other symbols are dropped.

    Example:
        >>> tokenize('"My dear Mr. Bennet," said his lady.')
        ['my', 'dear', 'mr.', 'bennet', ',', 'said', 'his', 'lady', '.']
    """
    return _TOKEN.findall(text.lower())


def detokenize(tokens: Iterable[str]) -> str:
    """Tokens joined by spaces, punctuation attached to the word before it.

    Example:
        >>> detokenize(['my', 'dear', 'mr.', 'bennet', ',', 'said', 'she', '.'])
        'my dear mr. bennet, said she.'
    """
    out = ""
    for tok in tokens:
        out += tok if (tok in _CLOSE or not out) else " " + tok
    return out


def split_sentences(tokens: Sequence[str]) -> list[list[str]]:
    """Cut a token stream after every ``.``, ``!`` and ``?``; a trailing fragment is kept.

    Example:
        >>> split_sentences(['oh', '!', 'single', ',', 'my', 'dear', '.'])
        [['oh', '!'], ['single', ',', 'my', 'dear', '.']]
    """
    sentences: list[list[str]] = [[]]
    for tok in tokens:
        sentences[-1].append(tok)
        if tok in _END:
            sentences.append([])
    return [s for s in sentences if s]


@lru_cache(maxsize=1)
def _corpus_tokens() -> tuple[str, ...]:
    return tuple(tokenize(load_corpus()))


def corpus_sentences(min_tokens: int = 1, max_tokens: int | None = None) -> list[str]:
    """The corpus's sentences (as detokenised text) with a token count in the given range.

    Example:
        >>> corpus_sentences()[0][:40]
        'it is a truth universally acknowledged, '
        >>> corpus_sentences(max_tokens=4)[:3]
        ['bingley.', 'oh!', 'how so?']
    """
    top = math.inf if max_tokens is None else max_tokens
    return [
        detokenize(s) for s in split_sentences(_corpus_tokens()) if min_tokens <= len(s) <= top
    ]


class Vocabulary:
    """A word-level vocabulary: ``<unk>`` first, then the tokens in order of first appearance.

    Args:
        tokens: the token stream to collect the vocabulary from.

    Attributes:
        itos: the tokens, indexed by id.
        stoi: the id of each token.

    Example:
        >>> vocab = Vocabulary(tokenize("a rose is a rose."))
        >>> vocab.itos
        ['<unk>', 'a', 'rose', 'is', '.']
        >>> vocab.encode("A rose is a tulip.")
        [1, 2, 3, 1, 0, 4]
        >>> vocab.decode([1, 2, 3, 1, 0, 4])
        'a rose is a <unk>.'
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self.itos: list[str] = [UNK]
        self.stoi: dict[str, int] = {UNK: 0}
        for tok in tokens:
            if tok not in self.stoi:
                self.stoi[tok] = len(self.itos)
                self.itos.append(tok)

    @property
    def unk(self) -> int:
        """The id of ``<unk>``, which every word outside the vocabulary maps to."""
        return self.stoi[UNK]

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; words outside the vocabulary become ``<unk>``."""
        return [self.stoi.get(tok, self.unk) for tok in tokenize(text)]

    def decode(self, ids: Iterable[int] | Tensor) -> str:
        """The text of a sequence of ids; an id outside the vocabulary raises DataError."""
        ids = [int(i) for i in (ids.tolist() if isinstance(ids, Tensor) else ids)]
        bad = [i for i in ids if not 0 <= i < len(self)]
        if bad:
            raise DataError(f"token ids must lie in [0, {len(self) - 1}], got {bad[:5]}")
        return detokenize(self.itos[i] for i in ids)


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """The vocabulary of the shipped corpus.

    Example:
        >>> vocab = default_vocabulary()
        >>> len(vocab), vocab.itos[:6]
        (327, ['<unk>', 'it', 'is', 'a', 'truth', 'universally'])
    """
    return Vocabulary(_corpus_tokens())


class _Block(nn.Module):
    """One pre-norm transformer block: causal multi-head self-attention, then a GELU MLP."""

    def __init__(self, d_model: int, heads: int, d_ff: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def attention(self, x: Tensor) -> Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (z.reshape(n, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)
        future = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        weights = F.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(n, t, d))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyLM(nn.Module):
    """A tiny causal transformer language model, twice differentiable.

    ``ids -> token embedding + position embedding -> blocks -> LayerNorm -> Linear -> logits``.
    The output layer is not tied to the token embedding, so the embedding's gradient has non-zero
    rows only for the tokens that went in (the bag-of-words leak of Melis et al., 2019).

    Args:
        vocab_size: number of tokens.
        context: longest input the position embedding covers.
        d_model: width of the embeddings and the residual stream.
        heads: attention heads (must divide ``d_model``).
        layers: transformer blocks.
        d_ff: hidden width of the MLP (default ``2 * d_model``).
        seed: if given, the global generator is seeded before the (PyTorch default) weights
            are drawn; if None they are drawn from its current stream.

    Example:
        >>> net = TinyLM(vocab_size=50, context=8, seed=0)
        >>> net(torch.tensor([[3, 1, 4, 1]])).shape
        torch.Size([1, 4, 50])
    """

    def __init__(
        self,
        vocab_size: int,
        context: int = 32,
        d_model: int = 32,
        heads: int = 2,
        layers: int = 1,
        d_ff: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if min(vocab_size, context, d_model, heads, layers) < 1:
            raise ConfigError("vocab_size, context, d_model, heads and layers must be positive")
        if d_model % heads:
            raise ConfigError(f"heads ({heads}) must divide d_model ({d_model})")
        if seed is not None:
            torch.manual_seed(seed)
        self.vocab_size, self.context, self.d_model = vocab_size, context, d_model
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(
            [_Block(d_model, heads, d_ff or 2 * d_model) for _ in range(layers)]
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward_embeddings(self, x: Tensor) -> Tensor:
        """Logits ``N x T x V`` from token embeddings ``N x T x d`` (positions are added here)."""
        t = x.shape[1]
        if t > self.context:
            raise DataError(f"inputs of {t} tokens exceed the model's context of {self.context}")
        h = x + self.pos.weight[:t]
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))

    def forward(self, ids: Tensor) -> Tensor:
        """Logits ``N x T x V`` for token ids ``N x T``."""
        return self.forward_embeddings(self.tok(ids))


def next_token_loss(model: TinyLM, ids: Tensor) -> Tensor:
    """Mean cross entropy of predicting ``ids[:, 1:]`` from ``ids[:, :-1]``.

    It is :func:`~dlgtut.fl.soft_cross_entropy` on one-hot targets over all ``N (T - 1)``
    positions, the loss the text attack matches gradients through.

    Example:
        >>> net = TinyLM(vocab_size=10, context=4, seed=0)
        >>> round(next_token_loss(net, torch.tensor([[1, 2, 3]])).item(), 4)
        2.2883
    """
    logits = model(ids[:, :-1])
    target = one_hot(ids[:, 1:].reshape(-1), logits.shape[-1]).to(logits.dtype)
    return soft_cross_entropy(logits.reshape(-1, logits.shape[-1]), target)


@dataclass(frozen=True, eq=False)
class TextBatch:
    """A participant's private batch of sentences: ``N x T`` token ids, all of one length.

    Args:
        ids: ``N x T`` integer token ids, ``T >= 2`` (one next-token prediction at least).

    Example:
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
        if isinstance(sentences, str):
            sentences = [sentences]
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
        if name not in names:
            raise DataError(f"the model has no parameter {name!r}")
        return self.tensors[names.index(name)]


class TextParticipant:
    """An honest participant: shares the next-token gradient of its private sentences.

    Args:
        model: the public language model of this round (never modified).
        vocab: its vocabulary.

    Example:
        >>> vocab = default_vocabulary()
        >>> net = TinyLM(len(vocab), seed=0)
        >>> batch = TextBatch.from_sentences(vocab, ["What is his name?"])
        >>> update = TextParticipant(net, vocab).fedsgd(batch)
        >>> update.batch_size, update.seq_len, update.gradient("tok.weight").shape
        (1, 5, torch.Size([327, 32]))
    """

    def __init__(self, model: TinyLM, vocab: Vocabulary) -> None:
        if model.vocab_size != len(vocab):
            raise ConfigError(
                f"the model has {model.vocab_size} outputs but the vocabulary {len(vocab)} tokens"
            )
        self.model, self.vocab = model, vocab

    def fedsgd(self, batch: TextBatch) -> TextUpdate:
        """FedSGD: the gradient of :func:`next_token_loss` with respect to every parameter."""
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
