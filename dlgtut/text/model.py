"""TinyLM: a small GPT-style causal language model, twice differentiable, and its loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checks import integer
from ..checks import seed as check_seed
from ..device import model_device
from ..errors import ConfigError, DataError, WrongTypeError
from ..fl import one_hot, soft_cross_entropy
from ..seeding import seeded
from .corpus import as_token_ids


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
        with seeded(seed):  # the global generator is left as it was (dlgtut.seeding)
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
