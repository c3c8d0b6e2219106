"""Write book/deep_leakage.ipynb (without outputs) from the cells below.

The notebook is the chapter's source of truth once written; this script records how it was
laid out and is kept so that large edits stay reviewable. Run: .venv/bin/python tools/make_dlg_chapter.py
"""

from nbtools import COLAB, code, md, write_notebook

cells = [
    md(r"""(chapter-dlg)=
# Deep leakage from gradients

In federated learning a participant never sends its data, only the gradient of its loss on that
data. The gradient of a convolutional network is tens of thousands of numbers that look like
noise, and for years that was taken as a kind of protection. {cite:t}`zhu2019dlg` showed that it
is not: an attacker who knows the model can search for an input whose gradient matches the
shared one, and the search ends at the private training image itself, together with its label.

This chapter runs that attack, *deep leakage from gradients* (DLG), on real photographs, faces
and handwritten digits. It compares the original algorithm with the improvements of later work
and of this project, measures how labels and batches are recovered, and shows when and why the
attack fails."""),
    code(COLAB),
    code('''import inspect
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from myst_nb import glue

from dlgtut.attacks import DLGConfig, dlg, identifiability, infer_labels
from dlgtut.attacks.dlg import gradient_distance
from dlgtut.data import load_dataset
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import mse, psnr, score
from dlgtut.models import LeNet
from dlgtut.viz import image_grid, plot_comparison, plot_progress

QUICK = os.environ.get("DLGTUT_QUICK") == "1"  # reduced mode: fewer images and iterations
torch.manual_seed(0)


def table(rows, header):
    """Show rows as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    display(Markdown("\\n".join(lines)))'''),
    md(r"""## What a participant shares

The honest participant does what every step of distributed training does. It takes a batch of
its private data, runs it through the current model, computes the loss against the labels, and
backpropagates. Then, instead of updating a local model, it sends the gradient to the server,
which averages the gradients of all participants and updates the shared model (FedSGD,
{cite:t}`mcmahan2017communication`).

We use the network of the original paper: a LeNet with three 5 x 5 convolutions of 12 channels,
Sigmoid activations and one linear layer, whose weights are drawn uniformly from
$[-0.5, 0.5]$. The private batch is one 32 x 32 photograph, a crop of scikit-image's cat
Chelsea."""),
    code('''photos = load_dataset("photos", size=32, channels=3)
X = photos.images[[photos.classes.index("chelsea")]]
y = torch.tensor([3])

net = LeNet(in_channels=3, num_classes=100, image_size=32, seed=1234)
update = Participant(net).fedsgd(PrivateBatch(X, y))

names = [name for name, _ in net.named_parameters()]
table([(n, tuple(t.shape), f"{t.numel():,}") for n, t in zip(names, update.tensors)],
      ["parameter", "shape of its gradient", "numbers"])
n_shared = sum(t.numel() for t in update.tensors)
glue("n_shared", f"{n_shared:,}", display=False)
glue("n_pixels", f"{X.numel():,}", display=False)'''),
    md(r"""The update holds {glue:text}`n_shared` numbers for an image of {glue:text}`n_pixels`
pixel values. None of them looks like the photograph. The first layer's gradient, drawn as
twelve small 5 x 5 colour filters, is the closest the update comes to an image:"""),
    code('''g1 = update.tensors[0]  # 12 x 3 x 5 x 5
g1 = (g1 - g1.min()) / (g1.max() - g1.min())
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), gridspec_kw={"width_ratios": [1, 2.4]})
axes[0].imshow(X[0].permute(1, 2, 0))
axes[0].set_title("the private image (never sent)")
axes[1].imshow(image_grid(g1, nrow=6), interpolation="nearest")
axes[1].set_title("the gradient of the first layer (sent)")
for ax in axes:
    ax.axis("off")
fig.tight_layout()'''),
    md(r"""The attacker in this chapter is *honest but curious*: it follows the protocol and
receives what the protocol gives it, namely the update, the public model and public facts such
as the batch size. In centralised federated learning that is the parameter server; in
decentralised learning, where participants exchange updates directly, it is any neighbour (see
{ref}`chapter-fl`). In `dlgtut` this is a type: an attack accepts a `SharedUpdate` and nothing
else, so the private batch cannot reach it by accident.

## The attack

DLG turns training around. The honest participant holds the data and computes a gradient;
the attacker holds the gradient and computes data. It starts from a dummy image $x'$ and a
dummy label $y'$ and changes them until their gradient matches the shared one:

$$
x'^*, y'^* = \arg\min_{x', y'} \left\lVert \nabla W' - \nabla W \right\rVert^2
= \arg\min_{x', y'} \left\lVert \frac{\partial \ell\big(F(x', W), y'\big)}{\partial W}
- \nabla W \right\rVert^2 .
$$

| the honest participant | the attacker |
|---|---|
| 1. takes a private image $x$ and its label $y$ | 1. draws a dummy image $x'$ and a dummy label $y'$ |
| 2. computes the prediction $F(x, W)$ | 2. computes $F(x', W)$ with the same public weights |
| 3. computes the loss and its gradient $\nabla W$ | 3. computes the dummy gradient $\nabla W'$ |
| 4. shares $\nabla W$ | 4. changes $x'$ and $y'$ to bring $\nabla W'$ closer to $\nabla W$, and repeats |

The objective is itself a function of a gradient, so minimising it means differentiating
through the backward pass: *double backpropagation*. The distance is one line of `dlgtut`:"""),
    code('''print(inspect.getsource(gradient_distance).split('"""')[0].rstrip())
print("    ...")
print(inspect.getsource(gradient_distance).split('"""')[2].split("if kind == \\"cosine\\"")[0])'''),
    md(r"""The original code optimises the dummy image and the dummy label (through a softmax)
with L-BFGS, from random normal values, for 300 steps. `dlgtut` reproduces that loop exactly
(`DLGConfig.paper()`, tested bit for bit against a re-implementation of the original script)
and improves on it in four ways, each measured in the benchmarks:

- **the label is read off the gradient** instead of optimised ({cite:t}`zhao2020idlg`; see
  below), so only the image is unknown;
- **the dummy starts mid-grey** instead of at random normal values, far outside the range
  of an image;
- **the distance is normalised** by the squared norm of the shared gradient and computed in
  double precision, so the optimiser's tolerances do not stop it early;
- **L-BFGS keeps a long curvature history** (300 pairs) at little cost, using the compact
  representation of {cite:t}`byrd1994representations`, and a strong Wolfe line search.

The attack stops when the normalised distance falls below $10^{-9}$, and it watches for
divergence: NaN, exploding pixels or an exploding distance end a run with a clear status
instead of a silent garbage image.

## Leaking a photo, a face and a digit

Three real images: the photo above, a face from the Labeled Faces in the Wild crops that
scikit-image ships {cite:p}`huang2007labeled`, and a handwritten digit from scikit-learn's
digits. When the machine is online, a CIFAR-100 image {cite:p}`krizhevsky2009learning` and an
MNIST digit {cite:p}`lecun1998gradient` join them; offline `load_dataset` says so in one line
and falls back. Each gets its own 100-class LeNet, as in the paper, with grey images as one
channel."""),
    code('''faces = load_dataset("faces", size=32)
digits = load_dataset("digits", size=32)
cases = {
    "photo": (photos.images[[photos.classes.index("chelsea")]], torch.tensor([3])),
    "face": (faces.images[:1], faces.labels[:1]),
    "digit": (digits.images[:1], digits.labels[:1]),
}
if not QUICK:
    cifar = load_dataset("cifar100", limit=50)
    mnist = load_dataset("mnist", limit=50)
    if cifar.name == "cifar100":
        cases["CIFAR-100"] = (cifar.images[25:26], cifar.labels[25:26])
    if mnist.name == "mnist":
        cases["MNIST"] = (mnist.images[:1], mnist.labels[:1])

runs = {}
for name, (X_, y_) in cases.items():
    net_ = LeNet(X_.shape[1], 100, 32, seed=1234)
    upd = Participant(net_).fedsgd(PrivateBatch(X_, y_))
    runs[name] = (X_, y_, dlg(upd, snapshot_every=5, progress=False))

rows = []
for name, (X_, y_, rec) in runs.items():
    s = score(rec.images, rec.labels, X_, y_)
    rows.append((name, rec.status, rec.iterations, f"{rec.seconds:.1f}", f"{s.mse:.1e}",
                 f"{s.psnr:.1f}", f"{s.ssim:.3f}", "yes" if s.label_accuracy == 1 else "no"))
table(rows, ["image", "status", "steps", "seconds", "MSE", "PSNR (dB)", "SSIM", "label right"])
steps = [r[2] for r in rows]
glue("dlg_steps_min", min(steps), display=False)
glue("dlg_steps_max", max(steps), display=False)
glue("dlg_psnr_min", f"{min(float(r[5]) for r in rows):.0f}", display=False)
glue("dlg_n_images", len(rows), display=False)'''),
    md(r"""All {glue:text}`dlg_n_images` images come back, with their labels, in
{glue:text}`dlg_steps_min` to {glue:text}`dlg_steps_max` optimiser steps, at a PSNR of at
least {glue:text}`dlg_psnr_min` dB: visually indistinguishable from the originals. The paper's
figure shows the dummy image every few steps:"""),
    code('''for name, (X_, y_, rec) in runs.items():
    fig = plot_progress(rec.history, X_, max_frames=12, title=f"{name}: the dummy image every 5 steps")'''),
    md(r"""## The original algorithm, and how it fails

The original code is more fragile. Started from random normal values, the dummy image lies far
outside the range of an image; L-BFGS without a line search then takes steps that can blow the
pixels up, and once the Sigmoids saturate the gradient no longer says anything. Its users
report exactly that: divergence after some dozens of steps, and "disordered pixel blocks".
Here is the original loop (as `DLGConfig.paper()`) and `dlgtut`'s default on six images with
the same weights, counted as recovered when the image error falls below $10^{-3}$ within 300
steps. The evaluator watches the error from outside the attack; the attack never sees the
image."""),
    code('''photos3 = photos
faces3 = load_dataset("faces", size=32, channels=3)
digits3 = load_dataset("digits", size=32, channels=3)
trial = [("chelsea", photos3.images[photos3.classes.index("chelsea")], photos3.classes.index("chelsea")),
         ("rocket", photos3.images[photos3.classes.index("rocket")], photos3.classes.index("rocket")),
         ("face 2", faces3.images[2], int(faces3.labels[2])),
         ("digit 2", digits3.images[2], int(digits3.labels[2])),
         ("face 0", faces3.images[0], int(faces3.labels[0])),
         ("digit 0", digits3.images[0], int(digits3.labels[0]))]
if QUICK:
    trial = trial[1:3]


def first_recovery(image, config):
    """Run an attack with an outside observer that notes the first step with MSE < 1e-3."""
    net_ = LeNet(seed=1234)
    upd = Participant(net_).fedsgd(PrivateBatch(image[None], torch.tensor([label])))
    seen = {}

    def watch(step, x, distance):
        if "step" not in seen and float(((x.float().clamp(0, 1) - image) ** 2).mean()) < 1e-3:
            seen["step"] = step
            return config.optimizer == "torch-lbfgs"  # the original has no stop rule of its own

    rec = dlg(upd, config, callback=watch)
    return seen.get("step"), rec, upd


paper_cfg = DLGConfig.paper(iterations=60 if QUICK else 300, progress=False)
ours_cfg = DLGConfig(iterations=60 if QUICK else 300, progress=False)
rows, curves = [], {}
for name, image, label in trial:
    paper_step, paper_rec, upd = first_recovery(image, paper_cfg)
    ours_step, ours_rec, _ = first_recovery(image, ours_cfg)
    scale = sum(float((t.double() ** 2).sum()) for t in upd.tensors)  # the shared gradient's norm
    curves[name] = (paper_rec, ours_rec, scale)
    outcome = (f"recovered at step {paper_step}" if paper_step
               else f"not recovered ({paper_rec.status.replace('_', ' ')})")
    rows.append((name, outcome, f"recovered at step {ours_step}" if ours_step
                 else f"not recovered ({ours_rec.status.replace('_', ' ')})"))
table(rows, ["image", "original settings", "dlgtut"])
paper_ok = sum(r[1].startswith("recovered") for r in rows)
ours_ok = sum(r[2].startswith("recovered") for r in rows)
glue("orig_ok", paper_ok, display=False)
glue("ours_ok", ours_ok, display=False)
glue("n_trial", len(rows), display=False)'''),
    md(r"""The original settings recover {glue:text}`orig_ok` of {glue:text}`n_trial` images;
`dlgtut`'s default recovers {glue:text}`ours_ok`, each in a fraction of the steps. A failed
run of the original looks like this: the gradient distance stalls or shoots up while the
dummy image fills with saturated blocks."""),
    code('''name = next((r[0] for r in rows if not r[1].startswith("recovered")), rows[0][0])
paper_rec, ours_rec, scale = curves[name]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), gridspec_kw={"width_ratios": [2.2, 1, 1]})
# The original minimises the plain squared distance; divide by the shared gradient's squared
# norm to put both on the scale dlgtut uses.
axes[0].semilogy(np.arange(1, len(paper_rec.distances) + 1),
                 np.array(paper_rec.distances) / scale, label="original settings")
axes[0].semilogy(np.arange(1, len(ours_rec.distances) + 1), ours_rec.distances, label="dlgtut")
axes[0].set_xlabel("optimiser step")
axes[0].set_ylabel("‖∇W′ − ∇W‖² / ‖∇W‖²")
axes[0].set_title(f"{name}: gradient distance")
axes[0].legend(fontsize=8)
for ax, rec, title in ((axes[1], paper_rec, f"original: {paper_rec.status.replace('_', ' ')}"),
                       (axes[2], ours_rec, f"dlgtut: {ours_rec.status}")):
    ax.imshow(rec.images[0].permute(1, 2, 0).clamp(0, 1))
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()
print(paper_rec.message)'''),
    md(r"""## Labels: optimised, or read off the gradient

DLG optimises a dummy label together with the image, and the label is taken as the largest
entry of its softmax at the end. {cite:t}`zhao2020idlg` noticed that the label need not be
optimised at all. For one example with softmax cross entropy, the gradient of the last layer's
weights has rows

$$
\frac{\partial \ell}{\partial W_i} = (p_i - y_i)\, a ,
$$

where $a$ is the layer's input and $p$ the softmax output. After a Sigmoid (or a ReLU) $a$ is
non-negative, and only the true class has $p_i - y_i < 0$: the row with a negative sum *is*
the label. We measure both on real digits, downsampled to 16 x 16 so that many samples fit in
the chapter's time budget: the analytic rule on many single images, each with its own random
network, and DLG's joint optimisation with the original settings on a smaller number."""),
    code('''digits16 = load_dataset("digits", size=16)
n_analytic = 100 if QUICK else 500
n_joint = 6 if QUICK else 40
gen = torch.Generator().manual_seed(0)
picks = torch.randperm(len(digits16), generator=gen)

right = 0
for k in range(n_analytic):
    i = int(picks[k])
    net_ = LeNet(1, 10, 16, seed=k)
    upd = Participant(net_).fedsgd(PrivateBatch(digits16.images[i:i + 1], digits16.labels[i:i + 1]))
    right += infer_labels(upd).tolist() == digits16.labels[i:i + 1].tolist()
idlg_acc = right / n_analytic

right = 0
joint_cfg = DLGConfig.paper(iterations=20 if QUICK else 50, progress=False)
for k in range(n_joint):
    i = int(picks[k])
    torch.manual_seed(k)
    net_ = LeNet(1, 10, 16, seed=k)
    upd = Participant(net_).fedsgd(PrivateBatch(digits16.images[i:i + 1], digits16.labels[i:i + 1]))
    rec = dlg(upd, joint_cfg)
    right += rec.labels.tolist() == digits16.labels[i:i + 1].tolist()
joint_acc = right / n_joint
table([("DLG: joint optimisation (original settings)", n_joint, f"{joint_acc:.0%}"),
       ("iDLG: sign of the last layer's gradient", n_analytic, f"{idlg_acc:.0%}")],
      ["label from", "samples", "accuracy"])
glue("joint_acc", f"{joint_acc:.0%}", display=False)
glue("idlg_acc", f"{idlg_acc:.0%}", display=False)
glue("n_analytic", n_analytic, display=False)
glue("n_joint", n_joint, display=False)'''),
    md(r"""The analytic rule is right on {glue:text}`idlg_acc` of {glue:text}`n_analytic`
digits, and it costs nothing. Joint optimisation finds the label on {glue:text}`joint_acc` of
{glue:text}`n_joint`; {cite:t}`zhao2020idlg` report 89.9 % on MNIST for DLG against 100 % for
their rule. With the label fixed, the image is the only unknown, which is one reason the
default attack converges so much faster.

For a batch of $N$ examples with distinct labels the rows of the classes present are still
negative, because each carries a $-(1-p)$ term while the others only collect small $p$ terms.
That rule fails when the model, as an untrained one often does, puts much of its probability on
one class for every input and that class is present. `dlgtut` then estimates the label counts
from the last layer's bias gradient $\bar p - n/N$, with $\bar p$ estimated by running the
public model on a mid-grey input (see `dlgtut.attacks.labels`)."""),
    code('''rows = []
for size in (2, 4, 8):
    right = total = 0
    for seed in range(3 if QUICK else 6):
        net_ = LeNet(1, 10, 32, seed=seed)
        for start in range(0, 400, 80 if QUICK else 20):
            Xb, yb, _ = digits.batch(start, size)
            upd = Participant(net_).fedsgd(PrivateBatch(Xb, yb))
            right += infer_labels(upd).tolist() == sorted(yb.tolist())
            total += 1
    rows.append((size, total, f"{right / total:.0%}"))
table(rows, ["batch size", "batches", "all labels right"])
glue("batch_label_acc4", rows[1][2], display=False)'''),
    md(r"""## Batches

A participant rarely shares the gradient of a single image. For a batch the shared gradient is
the average of the examples' gradients, and the attacker optimises a whole dummy batch at once.
The labels above give each dummy slot its class. We measure how many steps the attack needs
for batches of real digits, counting a batch as recovered when every image reaches 25 dB."""),
    code('''sizes = (1, 2) if QUICK else (1, 2, 4, 8)
rows, batch_runs = [], {}
for size in sizes:
    Xb, yb, _ = digits.batch(10, size)
    net_ = LeNet(1, 10, 32, seed=1234)
    upd = Participant(net_).fedsgd(PrivateBatch(Xb, yb))
    seen = {}

    def watch(step, x, distance, Xb=Xb, seen=seen):
        if "step" not in seen and bool((psnr(x.float().clamp(0, 1), Xb[torch.argsort(torch.argsort(yb))]) > 25).all()):
            seen["step"] = step

    rec = dlg(upd, iterations=100 if QUICK else 300, progress=False, callback=watch)
    s = score(rec.images, rec.labels, Xb, yb)
    batch_runs[size] = (Xb, yb, rec, s)
    rows.append((size, seen.get("step", "not reached"), rec.iterations, f"{rec.seconds:.0f}",
                 f"{min(s.per_image['psnr']):.1f}", f"{s.label_accuracy:.0%}"))
table(rows, ["batch size", "steps to 25 dB (all images)", "steps to stop", "seconds",
             "worst PSNR (dB)", "labels right"])
glue("batch_max", sizes[-1], display=False)
glue("batch_steps_max", rows[-1][1], display=False)
glue("batch_steps_1", rows[0][1], display=False)'''),
    md(r"""More examples need more steps: from {glue:text}`batch_steps_1` steps for one digit to
{glue:text}`batch_steps_max` for a batch of {glue:text}`batch_max`, the same trend the paper
reports. The largest batch, side by side with its reconstruction:"""),
    code('''Xb, yb, rec, s = batch_runs[sizes[-1]]
fig = plot_comparison(Xb, rec.images, true_labels=yb, pred_labels=rec.labels, scores=s)'''),
    md(r"""### When a batch cannot be recovered

The seed article for this project remarks that DLG "only recovers one image; beyond a batch of
one it does not work". For colour photographs at 32 x 32 that is what one sees, and the reason
is a count, not the optimiser. The unknowns are the $N \times 3 \times 32 \times 32$ pixel
values. The gradient of the last layer is an average of $N$ outer products, a matrix of rank
$N$: however many entries it has, it carries at most $N(K + F)$ numbers, for $K$ classes and $F$
features. Add every entry of the convolutions and the total is still smaller than the unknowns
once a few colour images share a batch. Many batches then produce the same gradient, and the
attack finds one of them."""),
    code('''rows = []
for n, c, side in ((1, 3, 32), (2, 3, 32), (4, 3, 32), (4, 1, 32), (8, 1, 32), (4, 3, 16)):
    u = Participant(LeNet(c, 100, side, seed=0)).fedsgd(
        PrivateBatch(torch.rand(n, c, side, side), torch.arange(n)))
    count = identifiability(u)
    rows.append((n, f"{c} x {side} x {side}", f"{count.unknowns:,}", f"{count.constraints:,}",
                 "possible" if count.possible else "impossible"))
table(rows, ["batch", "image", "unknowns", "constraints (at most)", "recovery"])'''),
    md(r"""The test is cheap and `dlgtut` runs it on every attack: when the count rules
recovery out, the result's message says so. Here are four colour photos at 32 x 32, where it
does, and the same photos at 16 x 16, where it does not:"""),
    code('''names4 = ["chelsea", "coffee", "rocket", "flower"]
Xc = torch.stack([photos.images[photos.classes.index(n)] for n in names4])
yc = torch.tensor([3, 17, 42, 88])
outcome = {}
for side in (32, 16):
    Xs = Xc if side == 32 else torch.nn.functional.interpolate(Xc, size=side, mode="area")
    net_ = LeNet(3, 100, side, seed=1234)
    rec = dlg(Participant(net_).fedsgd(PrivateBatch(Xs, yc)),
              iterations=(20 if QUICK else 150) if side == 32 else (40 if QUICK else 150),
              progress=False)
    s = score(rec.images, rec.labels, Xs, yc)
    outcome[side] = s
    fig = plot_comparison(Xs, rec.images, true_labels=yc, pred_labels=rec.labels, scores=s,
                          title=f"four photos at {side} x {side}: relative gradient distance "
                                f"{rec.distance:.1e}")
    print(f"{side} x {side}:", rec.message)
glue("psnr_32x4", f"{outcome[32].psnr:.0f}", display=False)
glue("psnr_16x4", f"{outcome[16].psnr:.0f}", display=False)'''),
    md(r"""At 32 x 32 the gradients match to many digits, yet the mean PSNR stays at
{glue:text}`psnr_32x4` dB: the reconstructions are other images with the same gradient. At
16 x 16 it reaches {glue:text}`psnr_16x4` dB. Batches of grey digits at 32 x 32 sit on the
recoverable side of the count, which is why they came back above. {cite:t}`geiping2020inverting`
recover larger batches from larger networks, which have more constraints, by adding an image
prior; a later chapter follows them.

## Why the network must be twice differentiable

The attack differentiates the gradient, so the network's second derivatives steer it. A Sigmoid
has a second derivative everywhere; a ReLU's is zero everywhere except at the kink, so
through ReLUs the dummy gradient is piecewise linear in the image, and the objective's landscape
is made of flat pieces with no curvature to follow. The paper therefore replaced ReLU with
Sigmoid. We run the same attack against the LeNet with each activation."""),
    code('''rows = []
Xd, yd = digits.images[:1], digits.labels[:1]
act_runs = {}
for activation in ("sigmoid", "relu"):
    net_ = LeNet(1, 100, 32, activation=activation, seed=1234)
    rec = dlg(Participant(net_).fedsgd(PrivateBatch(Xd, yd)), iterations=40 if QUICK else 200,
              progress=False)
    s = score(rec.images, rec.labels, Xd, yd)
    act_runs[activation] = rec
    rows.append((activation, rec.status, rec.iterations, f"{rec.distance:.1e}", f"{s.psnr:.1f}"))
table(rows, ["activation", "status", "steps", "final relative distance", "PSNR (dB)"])
glue("psnr_sigmoid", rows[0][4], display=False)
glue("psnr_relu", rows[1][4], display=False)
fig, axes = plt.subplots(1, 3, figsize=(7, 2.6))
for ax, img, title in ((axes[0], Xd[0], "ground truth"),
                       (axes[1], act_runs["sigmoid"].images[0], "Sigmoid LeNet"),
                       (axes[2], act_runs["relu"].images[0], "ReLU LeNet")):
    ax.imshow(img[0], cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()'''),
    md(r"""Against the Sigmoid network the digit comes back at {glue:text}`psnr_sigmoid` dB;
against the ReLU network the same attack reaches only {glue:text}`psnr_relu` dB. ReLU networks
are not safe, though: attacks that use the direction of the gradient rather than its
magnitude, with an image prior, recover images from trained ReLU ResNets
{cite:p}`geiping2020inverting`; {ref}`chapter-beyond` runs that attack.

## Summary

- A shared gradient is a function of the private batch, and for small batches it determines
  the batch: searching for an input with the same gradient recovers the images and labels.
- The label of a single example can be read off the last layer's gradient directly (iDLG);
  for a batch with distinct labels, the classes with negative last-layer rows, or the label
  counts estimated from the bias gradient.
- The original algorithm is fragile: random starts and plain L-BFGS diverge on some images.
  A grey start, an analytic label, a normalised distance and a long L-BFGS history make the
  attack reliable and several times faster (see `benchmarks/`).
- Recovery needs at least as many constraints as unknowns: a few colour images at 32 x 32
  exceed what the LeNet's gradient can pin down, grey digits do not.
- Gradient matching needs curvature: it works against Sigmoid networks and struggles against
  ReLU networks, without an image prior.

## Exercises

1. Run `python -m dlgtut leak --image` on a 32 x 32 crop of your own photo. How many steps
   does it take, and does the label come back?
2. Run the same image with `--paper` and with `--init randn`. Which of the four improvements
   listed in this chapter makes the largest difference on your image?
3. Repeat the label-accuracy experiment with 100 classes instead of 10. How does the batch
   rule behave, and why does the network's confidence matter?
4. Use the identifiability count to predict the largest batch of grey 32 x 32 digits that the
   paper's LeNet can determine. Test your prediction.
5. Replace the Sigmoid by `tanh` (`LeNet(activation="tanh")`). Is the analytic label still
   right? (Hint: what does the rule assume about the last layer's input?)
6. Project: add a total-variation prior to the objective and measure whether it helps on the
   four 32 x 32 photos that DLG cannot separate."""),
]

write_notebook(cells, "book/deep_leakage.ipynb")
