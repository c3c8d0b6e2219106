r"""R-GAP: the input read off the gradient layer by layer, in closed form (Zhu and Blaschko, 2021).

For one example, the gradient of a chain of linear layers and invertible activations pins down
every hidden activation by linear equations, from the classifier down to the pixels:

* The classifier ``z = W a + b`` has weight gradient :math:`g a^\top` and bias gradient
  :math:`g = \partial \ell / \partial z`: the features are :math:`a = G_W^\top g / g^\top g`,
  and the gradient reaching them is :math:`W^\top g`.
* Below an invertible activation :math:`h = \sigma(z)`: :math:`z = \sigma^{-1}(h)` and the
  gradient reaching ``z`` is the one reaching ``h`` times :math:`\sigma'(z)`.
* A convolution ``z = conv(u) + b`` with known ``z`` and known gradient :math:`\delta` at its
  output gives two sets of linear equations in its input ``u``: the forward pass itself, and
  the weight gradient :math:`\sum_p \delta_p\, \mathrm{patch}_p(u)^\top`, one equation per
  weight. Together they determine ``u`` where either alone may not (a stride-2 convolution is
  square but badly conditioned). They are solved as one sparse least-squares problem (LSQR).

Nothing is optimised and no double backpropagation is needed: on the paper's LeNet at 32 x 32
the whole inversion takes a few tenths of a second and, from the float32 gradient a participant
shares, recovers the image to a mean squared error near 1e-9. It needs a batch of one, a model
that is a plain chain (``Conv2d``, ``Linear``, ``Flatten`` and invertible activations: Sigmoid,
Tanh, LeakyReLU) ending in a linear classifier with a bias, and the softmax cross-entropy loss.
:func:`rgap_supported` says whether a model qualifies; :func:`rgap` raises AttackError
otherwise. DLG uses it as its start where it applies (``DLGConfig(init="analytic")``), and then
checks the result against the gradient like any other start.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import AttackError
from ...fl import SharedUpdate, require_update
from ...models import LeNet, layer_chain
from ..result import Reconstruction

__all__ = ["rgap", "rgap_supported", "rgap_images"]

_INVERTIBLE = (nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.Identity)
_LSQR_ITERATIONS = 300  # measured on the paper's LeNet: enough for MSE < 1e-6
_DENSE_NULL = 800  # null-space coefficients solved densely up to this many
_EDGE = 1e-12  # activations are kept this far from a sigmoid's or tanh's asymptotes


def _chain(model: nn.Module) -> list[nn.Module] | None:
    """The model as a flat list of layers, if it is a plain chain R-GAP can invert."""
    if not isinstance(model, (LeNet, nn.Sequential)):
        return None
    layers = layer_chain(model)
    for m in layers:
        if isinstance(m, nn.Conv2d):
            if m.groups != 1 or m.dilation != (1, 1) or m.padding_mode != "zeros" or isinstance(
                    m.padding, str) or m.bias is None:
                return None
        elif not isinstance(m, (nn.Linear, nn.Flatten, *_INVERTIBLE)):
            return None
    if not layers or not isinstance(layers[-1], nn.Linear) or layers[-1].bias is None:
        return None
    return layers


def rgap_supported(update: SharedUpdate) -> bool:
    """Whether :func:`rgap` can invert ``update``: one example, a FedSGD gradient (or one step),
    and a model that is a plain chain ending in a linear classifier with a bias."""
    return (update.batch_size == 1 and (update.kind == "gradient" or update.local_steps == 1)
            and _chain(update.model) is not None)


def _invert_activation(m: nn.Module, h: Tensor, dh: Tensor) -> tuple[Tensor, Tensor]:
    """Pre-activation and the gradient reaching it, from the activation and its gradient."""
    if isinstance(m, nn.Sigmoid):
        h = h.clamp(_EDGE, 1 - _EDGE)
        return torch.log(h / (1 - h)), dh * h * (1 - h)
    if isinstance(m, nn.Tanh):
        h = h.clamp(-1 + _EDGE, 1 - _EDGE)
        return torch.atanh(h), dh * (1 - h * h)
    if isinstance(m, nn.LeakyReLU):
        slope = m.negative_slope
        z = torch.where(h >= 0, h, h / slope)
        return z, torch.where(h >= 0, dh, dh * slope)
    return h, dh  # Identity


def _conv_matrix(conv: nn.Conv2d, in_shape: tuple[int, int, int]):
    """The bias-free convolution as a sparse matrix on the flattened input (scipy CSR)."""
    import scipy.sparse as sp  # imported when needed: 0.2 s that every attack's import paid

    c, h, w = in_shape
    index = torch.arange(1, c * h * w + 1, dtype=torch.float64).reshape(1, c, h, w)
    cols = F.unfold(index, conv.kernel_size, padding=conv.padding, stride=conv.stride)[0]
    cols = cols.long() - 1  # (C k k, L): input position of every patch entry, -1 for padding
    weight = conv.weight.detach().double().reshape(conv.out_channels, -1)  # (O, C k k)
    o, (ck, length) = weight.shape[0], cols.shape
    rows = (torch.arange(o)[:, None, None] * length
            + torch.arange(length)[None, None, :]).expand(o, ck, length)
    keep = (cols >= 0)[None].expand(o, -1, -1)
    return sp.csr_matrix(
        (weight[:, :, None].expand(o, ck, length)[keep].numpy(),
         (rows[keep].numpy(), cols[None].expand(o, -1, -1)[keep].numpy())),
        shape=(o * length, c * h * w))


def _weight_gradient_block(conv: nn.Conv2d, hw: tuple[int, int], delta: Tensor) -> Tensor:
    """The map from one input channel to its slice of the weight gradient, as a dense matrix.

    For the output gradient ``delta``, the weight gradient of input channel ``c`` is
    ``block @ u[c]``: ``(O k k) x (H W)``, one matrix shared by every input channel.
    """
    h, w = hw
    index = torch.arange(1, h * w + 1, dtype=torch.float64).reshape(1, 1, h, w)
    cols = F.unfold(index, conv.kernel_size, padding=conv.padding, stride=conv.stride)[0]
    cols = cols.long() - 1  # (k k, L): the pixel each patch entry reads, -1 for padding
    d = delta.reshape(delta.shape[0], -1).double()  # (O, L)
    block = torch.zeros(d.shape[0], cols.shape[0], h * w, dtype=torch.float64)
    for q in range(cols.shape[0]):
        valid = cols[q] >= 0
        block[:, q].index_add_(1, cols[q][valid], d[:, valid])
    return block.reshape(-1, h * w)


def _conv_input(conv: nn.Conv2d, in_shape, z: Tensor, delta: Tensor, grad_w: Tensor) -> Tensor:
    """The input of a convolution, from its output, its output gradient and its weight gradient.

    The weight gradient fixes each input channel's component in the row space of the shared
    block (one SVD); what it leaves free (its null space, the same for every channel) is fixed
    by the forward equations, a least-squares problem in the null-space coefficients: dense when
    small, LSQR on the sparse convolution otherwise.
    """
    c, h, w = in_shape
    kk = conv.kernel_size[0] * conv.kernel_size[1]
    block = _weight_gradient_block(conv, (h, w), delta)
    g = grad_w.double().reshape(conv.out_channels, c, kk).permute(0, 2, 1).reshape(-1, c)
    u_, s_, vh = torch.linalg.svd(block, full_matrices=True)
    rank = int((s_ > s_[0] * 1e-9).sum()) if s_.numel() and s_[0] > 0 else 0
    row = vh[:rank].T @ ((u_[:, :rank].T @ g) / s_[:rank, None])  # (H W, C)
    null = vh[rank:].T  # (H W, k): shared by every channel
    k = null.shape[1]
    if k == 0:
        return row.T.reshape(in_shape)
    weight = conv.weight.detach().double()
    residual = (z - conv.bias.detach().double()[:, None, None]) - F.conv2d(
        row.T.reshape(1, c, h, w), weight, None, conv.stride, conv.padding)[0]
    if c * k <= _DENSE_NULL:
        basis = torch.zeros(c, k, c, h * w, dtype=torch.float64)
        for j in range(c):
            basis[j, :, j] = null.T
        columns = F.conv2d(basis.reshape(c * k, c, h, w), weight, None, conv.stride,
                           conv.padding).reshape(c * k, -1).T
        # gelsd (SVD), not the default gelsy (pivoted QR): on torch 2.11's CPU build, gelsy gave
        # answers 1e-11 apart for the same inputs in one process, which broke "same seed, same
        # numbers" (measured on a lent H100 machine); gelsd repeats there, and on 3072 x 724 it
        # took 0.17 s against gelsy's 0.28 s on this project's CPU.
        beta = torch.linalg.lstsq(columns, residual.reshape(-1, 1), driver="gelsd").solution
        beta = beta.reshape(c, k)
    else:
        return _stacked_conv_input(conv, in_shape, z, block, g)
    return (row.T + beta @ null.T).reshape(in_shape)


def _stacked_conv_input(conv: nn.Conv2d, in_shape, z: Tensor, block: Tensor, g: Tensor) -> Tensor:
    """The input of a convolution from its forward and weight-gradient equations at once (LSQR).

    Used where the weight gradient leaves too many directions free for a dense solve (the first
    layer: 300 equations per 1024-pixel channel); the forward equations fix the rest, and the
    weight gradient fixes the directions a stride-2 convolution barely sees.
    """
    import scipy.sparse.linalg as spl

    c, h, w = in_shape
    forward = _conv_matrix(conv, in_shape)
    blk = block.numpy()
    r = (z - conv.bias.detach().double()[:, None, None]).reshape(-1).numpy()
    scale = float(np.linalg.norm(r)) / max(float(torch.linalg.norm(g)), 1e-300)
    n_out = forward.shape[0]

    def matvec(x: np.ndarray) -> np.ndarray:
        return np.concatenate([forward @ x, scale * (blk @ x.reshape(c, h * w).T).reshape(-1)])

    def rmatvec(y: np.ndarray) -> np.ndarray:
        back = (blk.T @ y[n_out:].reshape(-1, c)).T.reshape(-1)
        return forward.T @ y[:n_out] + scale * back

    op = spl.LinearOperator((n_out + blk.shape[0] * c, c * h * w), matvec=matvec,
                            rmatvec=rmatvec, dtype=np.float64)
    rhs = np.concatenate([r, scale * g.numpy().reshape(-1)])
    x = spl.lsqr(op, rhs, atol=1e-12, btol=1e-12, iter_lim=_LSQR_ITERATIONS)[0]
    return torch.from_numpy(x).reshape(in_shape)


def rgap_images(update: SharedUpdate) -> Tensor:
    """The ``1 x C x H x W`` input R-GAP reads off ``update`` (float64, not clamped).

    Raises:
        AttackError: the update is not one example's gradient on a supported model, or the
            classifier's bias gradient is zero.
    """
    update = require_update(update, "rgap")
    layers = _chain(update.model)
    if update.batch_size != 1 or layers is None:
        raise AttackError(
            "R-GAP needs one example and a model that is a plain chain of Conv2d, Linear, "
            "Flatten and invertible activations (Sigmoid, Tanh, LeakyReLU) ending in a linear "
            "classifier with a bias")
    tensors = update.gradient()
    # The linear algebra runs on the CPU (scipy's sparse solvers), in float64, on a copy.
    model = copy.deepcopy(update.model).cpu().double()
    layers = _chain(model)
    params = list(model.parameters())
    if len(tensors) != len(params) or any(
            t.shape != p.shape for t, p in zip(tensors, params, strict=True)):
        raise AttackError("the shared update does not match the public model's parameters")
    grad = {id(p): t.detach().cpu().double() for p, t in zip(params, tensors, strict=True)}
    shapes = [tuple(update.input_shape)]
    with torch.no_grad():
        h = torch.zeros(1, *update.input_shape, dtype=params[0].dtype)
        for m in layers[:-1]:
            h = m(h)
            shapes.append(tuple(h.shape[1:]))
    fc = layers[-1]
    g_w, g_b = grad[id(fc.weight)], grad[id(fc.bias)]
    norm = float(g_b @ g_b)
    if not norm > 0 or not math.isfinite(norm):
        raise AttackError("the classifier's bias gradient is zero or not finite: no features")
    h = (g_w.T @ g_b) / norm  # the classifier's input
    dh = fc.weight.detach().double().T @ g_b  # the gradient reaching it
    for i in range(len(layers) - 2, -1, -1):
        m, below = layers[i], shapes[i]
        if isinstance(m, nn.Flatten):
            h, dh = h.reshape(below), dh.reshape(below)
        elif isinstance(m, _INVERTIBLE):
            h, dh = _invert_activation(m, h, dh)
        elif isinstance(m, nn.Linear):
            # z = W u + b and dW = delta u^T: the input is read off the weight gradient.
            delta_sq = float(dh @ dh)
            if not delta_sq > 0:
                raise AttackError("a hidden layer receives no gradient: its input is lost")
            h, dh = (grad[id(m.weight)].T @ dh) / delta_sq, m.weight.detach().double().T @ dh
        else:  # Conv2d
            u = _conv_input(m, below, h, dh, grad[id(m.weight)])
            dh = torch.nn.grad.conv2d_input((1, *below), m.weight.detach().double(), dh[None],
                                            m.stride, m.padding)[0]
            h = u
    return h.reshape(1, *update.input_shape)


def rgap(update: SharedUpdate) -> Reconstruction:
    """Reconstruct one example from its gradient in closed form (R-GAP); see the module docs.

    The label is read off the classifier's bias gradient (its only negative entry). The result
    is clamped to [0, 1]; its ``distance`` is the normalised squared gradient distance of the
    recovered image, so a good reconstruction shows a distance near zero.

    Example:
        >>> from dlgtut.fl import Participant, PrivateBatch
        >>> net = LeNet(in_channels=1, num_classes=10, image_size=16, seed=0)
        >>> secret = PrivateBatch(torch.rand(1, 1, 16, 16), torch.tensor([7]))
        >>> rec = rgap(Participant(net).fedsgd(secret))
        >>> rec.labels.tolist(), float(((rec.images - secret.images) ** 2).mean()) < 1e-6
        ([7], True)
    """
    started = time.perf_counter()
    x = rgap_images(update)
    images = x.float().clamp(0, 1)
    label = int(torch.argmin(update.gradient()[-1].cpu()))
    model = update.model
    params = list(model.parameters())
    dtype, device = params[0].dtype, params[0].device
    with torch.enable_grad():
        logits = model(images.to(device, dtype))
        target = F.one_hot(torch.tensor([label], device=device), logits.shape[-1]).to(dtype)
        loss = torch.mean(torch.sum(-target * F.log_softmax(logits, dim=-1), 1))
        grads = torch.autograd.grad(loss, params)
    shared = update.gradient()
    scale = sum(float((t.double() ** 2).sum()) for t in shared)
    distance = sum(float(((g.double() - t.double()) ** 2).sum())
                   for g, t in zip(grads, shared, strict=True)) / scale
    return Reconstruction(
        images=images,
        labels=torch.tensor([label]),
        status="converged" if distance < 1e-9 else "max_iterations",
        iterations=0,
        seconds=time.perf_counter() - started,
        distance=distance,
        message=f"closed form; gradient distance of the result {distance:.3g}",
    )
