"""The device rule's helpers: naming a device, finding a model's, moving tensors there."""

import pytest
import torch
from torch import nn

from dlgtut.device import device_generator, model_device, resolve_device
from dlgtut.errors import ConfigError, WrongTypeError


def test_cpu_and_auto_without_cuda(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")


def test_auto_takes_cuda_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)  # the index actually used
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize("name", ["tpu", "meta", "gpu", "", "cuda:x", 0, None, "cpu:1"])
def test_unknown_names_are_refused_in_one_line(name, refused):
    refused(ConfigError, "device must be auto, cpu, cuda or cuda:N", resolve_device, name)


def test_a_cuda_device_that_is_not_there_is_refused_in_one_line(monkeypatch, refused):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    refused(ConfigError, "this machine has no CUDA device", resolve_device, "cuda")
    refused(ConfigError, "this machine has no CUDA device", resolve_device, "cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    refused(ConfigError, "has 1 CUDA device(s): cuda:0 to cuda:0", resolve_device, "cuda:3")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_is_refused_on_this_machine(refused):
    refused(ConfigError, "no CUDA device", resolve_device, "cuda")


def test_model_device_follows_parameters_then_buffers(refused):
    assert model_device(nn.Linear(2, 1)) == torch.device("cpu")
    assert model_device(nn.Linear(2, 1).to("meta")) == torch.device("meta")
    norm = nn.BatchNorm1d(3, affine=False).to("meta")  # buffers only
    assert model_device(norm) == torch.device("meta")
    assert model_device(nn.ReLU()) == torch.device("cpu")  # nothing to go by
    refused(WrongTypeError, "must be a torch.nn.Module", model_device, "net")


def test_device_generator_on_the_cpu_is_the_seeded_cpu_generator():
    a = torch.randn(5, generator=device_generator(3, "cpu"))
    assert torch.equal(a, torch.randn(5, generator=torch.Generator().manual_seed(3)))


def test_device_generator_on_cuda(cuda):
    gen = device_generator(3, cuda)
    assert gen.device.type == "cuda"
    assert torch.randn(2, generator=gen, device=cuda).device.type == "cuda"
