"""The gradient attacks run on the device of the model they are given (CUDA when there is one).

On a machine without CUDA these tests skip; the CPU runs of the same attacks are the rest of
this folder.
"""

import torch

from dlgtut.attacks import dlg, inverting_gradients
from dlgtut.attacks.gradient import rgap, text_dlg
from dlgtut.attacks.gradient.original import original_dlg
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



def test_the_original_loop_on_cuda_attacks_the_cpus_model(cuda):
    """The benchmark's reference on the GPU: the weights are drawn on the CPU and moved, so both
    devices attack the same model and the same gradient; the history comes back on the CPU.
    (Their trajectories part at once: L-BFGS's first step, from a start with a gradient
    distance near 900, turns float32 rounding into a different path; measured on an H200.)"""
    image = load_dataset("photos", size=32, channels=3).images[0]
    runs = {d: original_dlg(image, 3, iterations=1, device=d) for d in ("cpu", cuda)}
    on_cpu, on_gpu = runs["cpu"], runs[cuda]
    assert on_gpu.dummy_data.device.type == "cuda" and on_gpu.history[0].device.type == "cpu"
    grads = []
    for run, device in ((on_cpu, "cpu"), (on_gpu, cuda)):
        for a, b in zip(on_cpu.net.parameters(), run.net.parameters(), strict=True):
            assert torch.equal(a, b.cpu())  # the same model: drawn on the CPU, then moved
        x = image[None].to(device)
        loss = torch.nn.functional.cross_entropy(run.net(x), torch.tensor([3], device=device))
        grads.append([g.cpu() for g in torch.autograd.grad(loss, list(run.net.parameters()))])
    for a, b in zip(*grads, strict=True):  # the same gradient, to float32 kernel rounding
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
