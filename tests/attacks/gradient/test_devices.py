"""The gradient attacks run on the device of the model they are given (CUDA when there is one).

On a machine without CUDA these tests skip; the CPU runs of the same attacks are the rest of
this folder.
"""

import torch

from dlgtut.attacks import dlg, inverting_gradients
from dlgtut.attacks.gradient import rgap, text_dlg
from dlgtut.data import load_dataset
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import score
from dlgtut.models import LeNet
from dlgtut.text import TextBatch, TextParticipant, TinyLM, default_vocabulary


def _update(device, activation="sigmoid"):
    digits = load_dataset("digits", size=16)
    batch = PrivateBatch(digits.images[3:4], digits.labels[3:4])
    net = LeNet(1, 10, 16, activation, seed=0).to(device)
    return batch, Participant(net).fedsgd(batch)


def test_dlg_and_its_closed_form_start_on_cuda(cuda):
    batch, update = _update(cuda)
    rec = dlg(update, progress=False)
    assert rec.images.device.type == "cpu" and rec.status == "converged", rec.message
    assert score(rec.images, rec.labels, batch.images, batch.labels).psnr > 40
    grey = dlg(update, init="grey", progress=False)
    assert score(grey.images, grey.labels, batch.images, batch.labels).psnr > 30
    closed = rgap(update)
    assert float(((closed.images - batch.images) ** 2).mean()) < 1e-6


def test_inverting_gradients_on_cuda(cuda):
    batch, update = _update(cuda, "relu")
    rec = inverting_gradients(update, iterations=300, trials=1, progress=False)
    assert rec.images.device.type == "cpu" and rec.labels.tolist() == batch.labels.tolist()
    assert score(rec.images, rec.labels, batch.images, batch.labels).ssim > 0.5


def test_text_dlg_on_cuda(cuda):
    vocab = default_vocabulary()
    batch = TextBatch.from_sentences(vocab, ["Mr. Bennet made no answer."])
    update = TextParticipant(TinyLM(len(vocab), seed=0).to(cuda), vocab).fedsgd(batch)
    rec = text_dlg(update, progress=False)
    assert rec.tokens.device.type == "cpu" and rec.text == ["mr. bennet made no answer."]
    assert torch.equal(rec.tokens, batch.ids)
