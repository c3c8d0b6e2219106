"""Deep leakage on text: corpus, vocabulary, the tiny language model, its update, the attack."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from dlgtut.attacks.gradient import (
    TextDLGConfig,
    bag_of_words,
    refine_tokens,
    text_dlg,
    token_accuracy,
)
from dlgtut.errors import AttackError, ConfigError, DataError, WrongTypeError
from dlgtut.text import (
    UNK,
    TextBatch,
    TextParticipant,
    TextUpdate,
    TinyLM,
    corpus_sentences,
    default_vocabulary,
    detokenize,
    load_corpus,
    next_token_loss,
    tokenize,
)

VOCAB = default_vocabulary()
FIRST = (
    "it is a truth universally acknowledged, that a single man in possession of a good "
    "fortune, must be in want of a wife."
)


def _update(sentences: list[str], length: int | None = None, seed: int = 0) -> tuple:
    batch = TextBatch.from_sentences(VOCAB, sentences, length=length)
    return batch, TextParticipant(TinyLM(len(VOCAB), seed=seed), VOCAB).fedsgd(batch)


# -- corpus, tokeniser and vocabulary ---------------------------------------------------------
def test_the_corpus_ships_with_the_package_and_splits_into_sentences():
    text = load_corpus()
    assert text.startswith("It is a truth universally acknowledged")
    assert not text.startswith("#")
    sentences = corpus_sentences()
    assert sentences[0] == FIRST
    assert len(sentences) > 50 and all(s[-1] in ".!?" for s in sentences)


def test_every_corpus_sentence_round_trips_through_the_vocabulary():
    for sentence in corpus_sentences():
        ids = VOCAB.encode(sentence)
        assert VOCAB.unk not in ids
        assert VOCAB.decode(ids) == sentence


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(VOCAB.itos[1:]), min_size=1, max_size=30))
def test_tokenize_inverts_detokenize(tokens):
    assert tokenize(detokenize(tokens)) == tokens


def test_unknown_words_become_unk_and_bad_ids_raise():
    ids = VOCAB.encode("Mr. Darcy made no answer.")
    assert ids[1] == VOCAB.unk and VOCAB.itos[VOCAB.unk] == UNK
    assert VOCAB.decode(ids) == "mr. <unk> made no answer."
    with pytest.raises(DataError, match="token ids"):
        VOCAB.decode([len(VOCAB)])


# -- the model and the participant's update ---------------------------------------------------
def test_attention_matches_torch_multihead_attention():
    torch.manual_seed(0)
    net = TinyLM(vocab_size=20, context=8, d_model=16, heads=4, seed=1)
    block = net.blocks[0]
    ref = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(block.qkv.weight)
        ref.in_proj_bias.copy_(block.qkv.bias)
        ref.out_proj.weight.copy_(block.proj.weight)
        ref.out_proj.bias.copy_(block.proj.bias)
    x = torch.randn(3, 7, 16)
    future = torch.ones(7, 7, dtype=torch.bool).triu(1)
    expected, _ = ref(x, x, x, attn_mask=future, need_weights=False)
    torch.testing.assert_close(block.attention(x), expected, rtol=1e-5, atol=1e-6)


def test_the_model_is_causal():
    net = TinyLM(vocab_size=20, context=8, seed=0)
    a, b = torch.tensor([[1, 2, 3, 4]]), torch.tensor([[1, 2, 3, 9]])
    torch.testing.assert_close(net(a)[:, :3], net(b)[:, :3])


def test_shared_gradient_equals_autograd_of_the_next_token_loss():
    batch, update = _update(["What is his name?", "Is he married or single?"], length=5)
    net = TinyLM(len(VOCAB), seed=0)  # the same weights, drawn again
    ids = batch.ids
    logits = net(ids[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), ids[:, 1:].reshape(-1))
    expected = torch.autograd.grad(loss, list(net.parameters()))
    assert update.batch_size == 2 and update.seq_len == 5
    for got, want in zip(update.tensors, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    # By hand for the output bias: the mean over the 2 x 4 positions of softmax - one hot.
    by_hand = (logits.softmax(-1) - F.one_hot(ids[:, 1:], len(VOCAB))).mean(dim=(0, 1))
    torch.testing.assert_close(update.gradient("head.bias"), by_hand.detach(), atol=1e-7, rtol=0)
    torch.testing.assert_close(next_token_loss(net, ids), loss)


def test_the_update_is_a_copy_and_the_model_is_not_trained():
    net = TinyLM(len(VOCAB), seed=0)
    before = [p.detach().clone() for p in net.parameters()]
    update = TextParticipant(net, VOCAB).fedsgd(TextBatch.from_sentences(VOCAB, [FIRST]))
    assert update.model is not net
    for p, q in zip(net.parameters(), before, strict=True):
        assert torch.equal(p, q)


# -- the bag of words -------------------------------------------------------------------------
@pytest.mark.parametrize("sentences", [[FIRST], ["What is his name?", "Is he married or single?"]])
def test_bag_of_words_is_exactly_the_tokens(sentences):
    batch, update = _update(sentences, length=5 if len(sentences) > 1 else None)
    inputs = set(batch.ids[:, :-1].flatten().tolist())
    assert set(bag_of_words(update, labels=False).tolist()) == inputs
    assert set(bag_of_words(update).tolist()) == set(batch.ids.flatten().tolist())


# -- the attack -------------------------------------------------------------------------------
def test_text_dlg_recovers_a_corpus_sentence_exactly():
    batch, update = _update([FIRST])
    rec = text_dlg(update, refine=False, progress=False)  # the continuous search alone
    assert rec.status == "converged" and rec.distance < 1e-10
    assert rec.token_accuracy(batch) == 1.0
    assert rec.token_accuracy(batch, bag=False) == 1.0
    assert rec.text == [FIRST]
    assert set(rec.bag.tolist()) == set(batch.ids.flatten().tolist())
    assert rec.embeddings.shape == (1, batch.ids.shape[1], 32)


def test_free_embeddings_miss_a_token_that_the_discrete_repair_restores():
    batch, update = _update(["I see no occasion for that."])
    plain = text_dlg(update, unknowns="embeddings", refine=False, progress=False)
    # Measured: 'i see no occasion. that.' (6 of 7 tokens), the distance stuck near 0.4.
    assert plain.status == "stalled" and plain.distance > 1e-3
    assert 0.8 <= plain.token_accuracy(batch) < 1.0
    repaired = text_dlg(update, unknowns="embeddings", progress=False)
    assert repaired.status == "converged" and repaired.token_accuracy(batch) == 1.0
    assert "discrete refinement" in repaired.message


def test_a_batch_of_two_needs_the_discrete_repair():
    sentences = [
        "I have heard you mention them with consideration these twenty years at least.",
        "But I hope you will get over it, and live to see many young men of four thousand.",
    ]
    batch, update = _update(sentences, length=14)
    rec = text_dlg(update, iterations=30, progress=False)
    assert rec.status == "converged" and rec.token_accuracy(batch) == 1.0
    assert rec.token_accuracy(batch, bag=False) < 0.9  # the continuous search alone mixes them
    assert sorted(rec.text) == sorted(batch.sentences(VOCAB))


def test_refine_tokens_restores_a_swapped_pair():
    batch, update = _update(["Mr. Bennet replied that he had not."])
    guess = batch.ids.clone()
    guess[0, [2, 3]] = guess[0, [3, 2]]
    ids, distance, evals = refine_tokens(update, guess)
    assert torch.equal(ids, batch.ids) and distance < 1e-10 and evals > 1


def test_divergence_is_reported_not_hidden():
    _, update = _update(["Mr. Bennet made no answer."])
    rec = text_dlg(update, unknowns="embeddings", init_scale=1e200, refine=False, progress=False)
    assert rec.status == "diverged" and "NaN" in rec.message


def test_token_accuracy_pairs_sentences_before_scoring():
    truth = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert token_accuracy(truth.flip(0), truth) == 1.0
    assert token_accuracy(torch.tensor([[4, 5, 0], [1, 2, 3]]), truth) == pytest.approx(5 / 6)
    with pytest.raises(DataError, match="N x T"):
        token_accuracy(torch.tensor([1, 2, 3]), truth)


# -- errors -----------------------------------------------------------------------------------
def test_bad_sentences_raise_data_errors():
    with pytest.raises(DataError, match="at least one"):
        TextBatch.from_sentences(VOCAB, [])
    with pytest.raises(DataError, match="fewer than needed"):
        TextBatch.from_sentences(VOCAB, [""])
    with pytest.raises(DataError, match="fewer than needed"):
        TextBatch.from_sentences(VOCAB, ["Bingley."], length=5)
    with pytest.raises(DataError, match="different lengths"):
        TextBatch.from_sentences(VOCAB, ["What is his name?", "Mr. Bennet made no answer."])
    with pytest.raises(DataError, match="integers"):
        TextBatch(torch.rand(1, 4))
    with pytest.raises(DataError, match="N x T"):
        TextBatch(torch.tensor([1, 2, 3]))
    net = TinyLM(len(VOCAB), context=8, seed=0)
    with pytest.raises(DataError, match="context"):
        TextParticipant(net, VOCAB).fedsgd(TextBatch.from_sentences(VOCAB, [FIRST]))
    with pytest.raises(DataError, match="token ids"):
        TextParticipant(net, VOCAB).fedsgd(TextBatch(torch.tensor([[1, len(VOCAB)]])))


def test_bad_settings_and_updates_raise():
    with pytest.raises(ConfigError, match="unknowns"):
        TextDLGConfig(unknowns="pixels")
    with pytest.raises(ConfigError, match="heads"):
        TinyLM(10, d_model=30, heads=4)
    with pytest.raises(ConfigError, match="vocabulary"):
        TextParticipant(TinyLM(10, seed=0), VOCAB)
    _, update = _update(["What is his name?"])
    zeros = TextUpdate(
        update.model, VOCAB, tuple(torch.zeros_like(t) for t in update.tensors), 1, 5
    )
    with pytest.raises(AttackError, match="all zeros"):
        text_dlg(zeros, progress=False)
    too_long = TextUpdate(update.model, VOCAB, update.tensors, 1, 40)
    with pytest.raises(DataError, match="context"):
        text_dlg(too_long, progress=False)


@pytest.mark.parametrize("kwargs,fragment", [
    ({"iterations": 2.5}, "iterations must be a positive integer, got 2.5"),
    ({"max_iter": True}, "max_iter must be a positive integer, got True"),
    ({"restarts": -1}, "restarts must be a non-negative integer"),
    ({"init_scale": float("inf")}, "init_scale must be a finite number"),
    ({"stop_distance": float("nan")}, "stop_distance must be a finite number"),
    ({"stop_distance": -1.0}, "stop_distance must be non-negative"),
    ({"time_limit": float("inf")}, "time_limit must be a finite number"),
    ({"time_limit": 0}, "time_limit must be positive"),
    ({"refine": "yes"}, "refine must be True or False"),
    ({"seed": 1.5}, "seed must be a non-negative integer"),
    ({"distance": ["l2"]}, "distance must be one of l2, cosine"),
])
def test_text_dlg_config_refuses_bad_settings(refused, kwargs, fragment):
    refused(ConfigError, fragment, TextDLGConfig, **kwargs)


def test_text_attacks_take_the_text_update_not_the_private_batch(refused):
    batch, update = _update(["What is his name?"])
    for attack in (text_dlg, bag_of_words):
        refused(WrongTypeError, "not the private sentences", attack, batch)
        refused(WrongTypeError, "takes a TextUpdate, got dict", attack, {})
    refused(WrongTypeError, "not the private sentences", refine_tokens, batch, batch.ids)
    refused(WrongTypeError, "config must be a TextDLGConfig, got dict", text_dlg, update, {})
    refused(ConfigError, "TextDLGConfig has no setting 'iteration'", text_dlg, update,
            iteration=3)


def test_refine_tokens_refuses_float_ids_instead_of_truncating_them(refused):
    batch, update = _update(["What is his name?"])
    refused(DataError, "tokens must be integers, got dtype torch.float32", refine_tokens, update,
            batch.ids.float() + 0.7)
    refused(DataError, "tokens must lie in [0, 326]", refine_tokens, update, batch.ids + 1000)
    refused(DataError, "bag must be integers", refine_tokens, update, batch.ids, [1.5])
    refused(ConfigError, "max_evals must be a non-negative integer", refine_tokens, update,
            batch.ids, max_evals=2.5)
    refused(ConfigError, "distance must be one of l2, cosine", refine_tokens, update, batch.ids,
            distance="l1")


def test_token_accuracy_refuses_ids_that_are_not_integers(refused):
    ids = torch.tensor([[1, 2, 3]])
    refused(DataError, "pred must be integers, got dtype torch.float32", token_accuracy,
            ids.float(), ids)
    refused(DataError, "truth must have 2 dimensions (N x T)", token_accuracy, ids, ids[0])


def test_restarts_keep_the_best_run(monkeypatch):
    """Two real runs, the second made to look diverged and far: the tokens returned are the
    first run's (the attack ranks its runs with dlgtut.attacks.result.Attempt)."""
    import dataclasses

    from dlgtut.attacks.gradient import text as text_module

    _, update = _update([FIRST], length=8)
    real, kept = text_module._run_once, []

    def tampered(*args, **kwargs):
        run = real(*args, **kwargs)
        if kept:
            return dataclasses.replace(run, status="diverged", distance=1e9)
        kept.append(run.found.nearest(torch.arange(len(VOCAB))).clone())
        return dataclasses.replace(run, status="stalled")

    monkeypatch.setattr(text_module, "_run_once", tampered)
    rec = text_dlg(update, restarts=1, iterations=5, refine=False, progress=False)
    assert rec.restarts == 1 and "run 1 of 2" in rec.message
    assert torch.equal(rec.tokens_any, kept[0].cpu())
