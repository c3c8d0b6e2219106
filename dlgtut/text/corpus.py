"""The text the attacks use: the shipped corpus, its tokens and sentences, and the vocabulary."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources

import torch
from torch import Tensor

from ..checks import integer
from ..errors import DataError, WrongTypeError

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
