"""The original DLG script's loop as a stand-alone program, for whole-process timing.

What mit-han-lab/dlg's ``main.py`` does, on one image file: the same imports (torch,
torchvision, PIL, matplotlib), the LeNet with every weight drawn from U(-0.5, 0.5) after
``torch.manual_seed(1234)`` (in the upstream order: model built, seed, weights drawn), a random
normal dummy image and label, ``torch.optim.LBFGS`` at its defaults, up to 300 steps. Unlike the
original it stops as soon as an outside observer, looking every 10 steps as the original
records its history, sees the image within MSE 1e-3: that flatters it. It prints the steps,
the seconds of the loop and whether it succeeded, as one JSON line.

    .venv/bin/python benchmarks/original_main.py IMAGE.png --label 3 [--device cuda]

On ``--device cuda`` it runs there as the original does when it finds CUDA, except that the
weights are drawn on the CPU and then moved (the original draws them on the GPU): the same model
as dlgtut's, so both attack the same gradient.

It is dlgtut.attacks.gradient.original.original_dlg without dlgtut's imports (which would slow
the original's start-up); dlg_speed.py checks that both give the same numbers.
"""

import argparse
import json
import time

import matplotlib  # noqa: F401 (the original imports it; its cost is part of the wait)
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms


class LeNet(nn.Module):
    def __init__(self, channels=3, hidden=768, num_classes=100):
        super().__init__()
        act = nn.Sigmoid
        self.body = nn.Sequential(
            nn.Conv2d(channels, 12, kernel_size=5, padding=5 // 2, stride=2), act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=2), act(),
            nn.Conv2d(12, 12, kernel_size=5, padding=5 // 2, stride=1), act(),
        )
        self.fc = nn.Sequential(nn.Linear(hidden, num_classes))

    def forward(self, x):
        out = self.body(x)
        return self.fc(out.view(out.size(0), -1))


def weights_init(m):
    if hasattr(m, "weight"):
        m.weight.data.uniform_(-0.5, 0.5)
    if hasattr(m, "bias"):
        m.bias.data.uniform_(-0.5, 0.5)


def cross_entropy_for_onehot(pred, target):
    return torch.mean(torch.sum(-target * F.log_softmax(pred, dim=-1), 1))


def run(path: str, label: int, iterations: int = 300, threshold: float = 1e-3,
        device: str = "cpu") -> dict:
    gt_data = transforms.ToTensor()(Image.open(path).convert("RGB")).unsqueeze(0).to(device)
    gt_label = torch.tensor([label]).to(device)
    gt_onehot_label = F.one_hot(gt_label, 100).float()
    net = LeNet()
    torch.manual_seed(1234)
    net.apply(weights_init)
    net.to(device)
    pred = net(gt_data)
    y = cross_entropy_for_onehot(pred, gt_onehot_label)
    original_dy_dx = [g.detach().clone() for g in torch.autograd.grad(y, net.parameters())]
    dummy_data = torch.randn(gt_data.size()).to(device).requires_grad_(True)
    dummy_label = torch.randn(gt_onehot_label.size()).to(device).requires_grad_(True)
    optimizer = torch.optim.LBFGS([dummy_data, dummy_label])
    started = time.perf_counter()
    for iters in range(iterations):
        def closure():
            optimizer.zero_grad()
            dummy_pred = net(dummy_data)
            dummy_loss = cross_entropy_for_onehot(dummy_pred, F.softmax(dummy_label, dim=-1))
            dummy_dy_dx = torch.autograd.grad(dummy_loss, net.parameters(), create_graph=True)
            grad_diff = 0
            for gx, gy in zip(dummy_dy_dx, original_dy_dx, strict=True):
                grad_diff += ((gx - gy) ** 2).sum()
            grad_diff.backward()
            return grad_diff

        optimizer.step(closure)
        if (iters + 1) % 10 == 0:  # the original records its history every 10 steps
            mse = float(((dummy_data.detach().clamp(0, 1) - gt_data) ** 2).mean())
            if np.isfinite(mse) and mse < threshold:
                return {"success": True, "steps": iters + 1,
                        "seconds": time.perf_counter() - started, "mse": mse}
    mse = float(((dummy_data.detach().clamp(0, 1) - gt_data) ** 2).mean())
    return {"success": False, "steps": iterations, "seconds": time.perf_counter() - started,
            "mse": mse}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--label", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    print(json.dumps(run(args.image, args.label, device=args.device)))
