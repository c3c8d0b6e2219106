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

from .checks import integer
from .checks import seed as check_seed
from .device import model_device
from .errors import ConfigError, DataError, WrongTypeError
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
    "as_token_ids",
    "require_text_update",
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
    if not isinstance(text, str):
        raise WrongTypeError(f"text must be a string, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


def _tokens(tokens: Iterable[str], name: str = "tokens") -> list[str]:
    """A list of token strings; one string (which would be read letter by letter) is refused."""
    if isinstance(tokens, str):
        raise WrongTypeError(f"{name} must be a list of tokens, not one string "
                             "(tokenize it first)")
    try:
        tokens = list(tokens)
    except TypeError:
        raise WrongTypeError(f"{name} must be a list of tokens, got "
                             f"{type(tokens).__name__}") from None
    bad = [t for t in tokens if not isinstance(t, str)]
    if bad:
        raise WrongTypeError(f"{name} must all be strings, got {type(bad[0]).__name__}")
    return tokens


def detokenize(tokens: Iterable[str]) -> str:
    """Tokens joined by spaces, punctuation attached to the word before it.

    Example:
        >>> detokenize(['my', 'dear', 'mr.', 'bennet', ',', 'said', 'she', '.'])
        'my dear mr. bennet, said she.'
    """
    out = ""
    for tok in _tokens(tokens):
        out += tok if (tok in _CLOSE or not out) else " " + tok
    return out


def split_sentences(tokens: Sequence[str]) -> list[list[str]]:
    """Cut a token stream after every ``.``, ``!`` and ``?``; a trailing fragment is kept.

    Example:
        >>> split_sentences(['oh', '!', 'single', ',', 'my', 'dear', '.'])
        [['oh', '!'], ['single', ',', 'my', 'dear', '.']]
    """
    sentences: list[list[str]] = [[]]
    for tok in _tokens(tokens):
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
    integer(min_tokens, "min_tokens", low=0)
    top = math.inf if max_tokens is None else integer(max_tokens, "max_tokens", low=0)
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
        for tok in _tokens(tokens):
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
        """The text of a sequence of ids; an id outside the vocabulary raises DataError.

        Ids must be integers: a float id is refused, not truncated to a token.
        """
        ids = as_token_ids(ids, vocab_size=len(self)).reshape(-1).tolist()
        return detokenize(self.itos[i] for i in ids)


def as_token_ids(
    ids, name: str = "token ids", *, ndim: int | None = None, vocab_size: int | None = None
) -> Tensor:
    """Token ids as an int64 tensor: integers (not floats, not booleans), inside the vocabulary.

    Args:
        ids: a tensor, array or (nested) list of ids.
        name: what the message calls them.
        ndim: the number of dimensions they must have (2 for ``N x T``), or None.
        vocab_size: ids must lie in ``[0, vocab_size)``; None only refuses negative ids.

    Raises:
        DataError: anything else.

    Example:
        >>> as_token_ids([[3, 1]], ndim=2).tolist()
        [[3, 1]]
        >>> as_token_ids([2.7])
        Traceback (most recent call last):
        ...
        dlgtut.errors.DataError: token ids must be integers, got dtype torch.float32
    """
    try:
        t = torch.as_tensor(ids)
    except (TypeError, ValueError, RuntimeError):
        raise DataError(f"{name} must be integers, got {type(ids).__name__}") from None
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise DataError(f"{name} must be integers, got dtype {t.dtype}")
    if ndim is not None and t.ndim != ndim:
        raise DataError(f"{name} must have {ndim} dimensions (N x T), got shape {tuple(t.shape)}")
    outside = t < 0
    if vocab_size is not None:
        outside |= t >= vocab_size
    if bool(outside.any()):
        where = "be non-negative" if vocab_size is None else f"lie in [0, {vocab_size - 1}]"
        raise DataError(f"{name} must {where}, got {t[outside][:5].tolist()}")
    return t.long()


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
        for name, value in (("vocab_size", vocab_size), ("context", context),
                            ("d_model", d_model), ("heads", heads), ("layers", layers)):
            integer(value, name, low=1)
        if d_ff is not None:
            integer(d_ff, "d_ff", low=1)
        if seed is not None:
            check_seed(seed)
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
    positions, the loss the text attack matches gradients through. It is computed on the
    model's device (the ids are moved there).

    Raises:
        WrongTypeError: ``model`` is not a :class:`TinyLM`.
        DataError: ``ids`` is not ``N x T`` integer ids of the model's vocabulary with
            ``T >= 2``, or longer than its context.

    Example:
        >>> net = TinyLM(vocab_size=10, context=4, seed=0)
        >>> round(next_token_loss(net, torch.tensor([[1, 2, 3]])).item(), 4)
        2.2883
    """
    if not isinstance(model, TinyLM):
        raise WrongTypeError(f"model must be a TinyLM, got {type(model).__name__}")
    ids = as_token_ids(ids, "ids", ndim=2, vocab_size=model.vocab_size)
    if ids.shape[0] == 0 or ids.shape[1] < 2:
        raise DataError(f"ids must hold a sentence of 2 tokens or more, got shape "
                        f"{tuple(ids.shape)}")
    ids = ids.to(model_device(model))
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
    tensors = update.tensors
    if not isinstance(tensors, tuple | list) or not tensors or not all(
            isinstance(t, Tensor) and t.is_floating_point() for t in tensors):
        raise WrongTypeError(f"{who} needs the update's tensors as a non-empty tuple of "
                             "floating-point tensors, one per parameter")
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
