"""dlgtut.text refuses bad input in one line: the corpus helpers, the model and the data flow."""

from __future__ import annotations

import pytest
import torch

from dlgtut.errors import ConfigError, DataError, WrongTypeError
from dlgtut.text import (
    TextBatch,
    TextParticipant,
    TinyLM,
    Vocabulary,
    as_token_ids,
    corpus_sentences,
    default_vocabulary,
    detokenize,
    next_token_loss,
    require_text_update,
    split_sentences,
    tokenize,
)


@pytest.fixture(scope="module")
def small():
    vocab = Vocabulary(tokenize("a rose is a rose ."))
    return vocab, TinyLM(len(vocab), context=8, d_model=8, seed=0)


@pytest.mark.parametrize("call,error,fragment", [
    (lambda: tokenize(b"a rose"), WrongTypeError, "text must be a string, got bytes"),
    (lambda: tokenize(None), WrongTypeError, "text must be a string, got NoneType"),
    (lambda: detokenize("a rose"), WrongTypeError, "not one string (tokenize it first)"),
    (lambda: detokenize(["a", 3]), WrongTypeError, "tokens must all be strings, got int"),
    (lambda: split_sentences("oh! yes."), WrongTypeError, "not one string"),
    (lambda: split_sentences(5), WrongTypeError, "tokens must be a list of tokens, got int"),
    (lambda: Vocabulary("a rose"), WrongTypeError, "not one string"),
    (lambda: corpus_sentences(max_tokens=4.5), ConfigError, "max_tokens must be a non-negative"),
    (lambda: corpus_sentences(min_tokens=True), ConfigError, "min_tokens must be a non-negative"),
])
def test_corpus_helpers_refuse_what_is_not_text(refused, call, error, fragment):
    refused(error, fragment, call)


@pytest.mark.parametrize("ids,fragment", [
    ([1.0, 2.0], "token ids must be integers, got dtype torch.float32"),  # not truncated
    (torch.tensor([True]), "token ids must be integers, got dtype torch.bool"),
    ([-1], "token ids must lie in [0, 4], got [-1]"),
    ([5, 1], "token ids must lie in [0, 4], got [5]"),
    ("ab", "token ids must be integers"),
])
def test_decode_refuses_ids_that_are_not_tokens(refused, small, ids, fragment):
    vocab, _ = small
    refused(DataError, fragment, vocab.decode, ids)


def test_as_token_ids_checks_the_shape_when_asked(refused):
    refused(DataError, "ids must have 2 dimensions (N x T), got shape (3,)", as_token_ids,
            [1, 2, 3], "ids", ndim=2)
    assert as_token_ids([[1, 2]], ndim=2, vocab_size=3).dtype == torch.long


@pytest.mark.parametrize("kwargs,fragment", [
    ({"vocab_size": 10.0}, "vocab_size must be a positive integer"),
    ({"vocab_size": 10, "heads": True}, "heads must be a positive integer, got True"),
    ({"vocab_size": 10, "context": 0}, "context must be a positive integer"),
    ({"vocab_size": 10, "d_ff": 2.5}, "d_ff must be a positive integer"),
    ({"vocab_size": 10, "seed": -2}, "seed must be a non-negative integer"),
])
def test_tinylm_refuses_bad_sizes(refused, kwargs, fragment):
    refused(ConfigError, fragment, TinyLM, **kwargs)


def test_next_token_loss_refuses_bad_ids_and_models(refused, small):
    vocab, net = small
    refused(DataError, "ids must be integers, got dtype torch.float32", next_token_loss, net,
            torch.tensor([[1.0, 2.0]]))
    refused(DataError, "ids must lie in [0, 4], got [7]", next_token_loss, net,
            torch.tensor([[1, 7]]))
    refused(DataError, "2 tokens or more", next_token_loss, net, torch.tensor([[1]]))
    refused(WrongTypeError, "model must be a TinyLM, got Linear", next_token_loss,
            torch.nn.Linear(2, 2), torch.tensor([[1, 2]]))


def test_the_data_flow_refuses_objects_of_the_wrong_kind(refused, small):
    vocab, net = small
    batch = TextBatch.from_sentences(vocab, ["a rose is a rose."])
    refused(WrongTypeError, "vocab must be a Vocabulary, got list", TextBatch.from_sentences,
            ["a"], ["a rose"])
    refused(WrongTypeError, "sentences must all be strings, got int", TextBatch.from_sentences,
            vocab, [1, 2])
    refused(ConfigError, "length must be an integer >= 2, got 2.5", TextBatch.from_sentences,
            vocab, ["a rose is"], length=2.5)
    refused(WrongTypeError, "vocab must be a Vocabulary, got dict", batch.sentences, {})
    refused(WrongTypeError, "model must be a TinyLM, got Linear", TextParticipant,
            torch.nn.Linear(2, 2), vocab)
    refused(WrongTypeError, "vocab must be a Vocabulary, got list", TextParticipant, net,
            list(vocab.itos))
    refused(WrongTypeError, "the participant needs a TextBatch, got Tensor",
            TextParticipant(net, vocab).fedsgd, batch.ids)


def test_require_text_update_names_the_private_batch(refused, small):
    import dataclasses

    vocab, net = small
    batch = TextBatch.from_sentences(vocab, ["a rose is a rose."])
    update = TextParticipant(net, vocab).fedsgd(batch)
    assert require_text_update(update, "attack") is update
    refused(WrongTypeError, "not the private sentences", require_text_update, batch, "attack")
    refused(WrongTypeError, "attack takes a TextUpdate, got SharedUpdate", require_text_update,
            _image_update(), "attack")
    refused(DataError, "the update's model has 5 outputs but its vocabulary 327 tokens",
            require_text_update, dataclasses.replace(update, vocab=default_vocabulary()),
            "attack")
    refused(DataError, "the update's seq_len must be an integer >= 2", require_text_update,
            dataclasses.replace(update, seq_len=1), "attack")
    refused(WrongTypeError, "non-empty tuple of floating-point tensors", require_text_update,
            dataclasses.replace(update, tensors=()), "attack")


def _image_update():
    from dlgtut.fl import Participant, PrivateBatch

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    return Participant(net).fedsgd(PrivateBatch(torch.rand(1, 1, 2, 2), torch.tensor([1])))


def test_the_participant_computes_on_the_models_device(device):
    vocab = default_vocabulary()
    batch = TextBatch.from_sentences(vocab, ["What is his name?"])
    on_cpu = TextParticipant(TinyLM(len(vocab), seed=0), vocab).fedsgd(batch)
    on_device = TextParticipant(TinyLM(len(vocab), seed=0).to(device), vocab).fedsgd(batch)
    for a, b in zip(on_cpu.tensors, on_device.tensors, strict=True):
        assert b.device.type == device.type
        torch.testing.assert_close(b.cpu(), a, rtol=1e-4, atol=1e-6)
    loss = next_token_loss(on_device.model, batch.ids)  # CPU ids, a model on the device
    assert loss.device.type == device.type
