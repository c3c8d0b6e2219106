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

from .corpus import (
    UNK,
    Vocabulary,
    as_token_ids,
    corpus_sentences,
    default_vocabulary,
    detokenize,
    load_corpus,
    split_sentences,
    tokenize,
)
from .model import TinyLM, next_token_loss
from .participant import TextBatch, TextParticipant, TextUpdate, require_text_update

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

