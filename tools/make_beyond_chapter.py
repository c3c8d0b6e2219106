"""Write book/beyond_dlg.ipynb (without outputs) from the cells below.

The notebook is the chapter's source of truth once written; this script records how it was
laid out. Cell ids are fixed, so rewriting the notebook changes only what changed.
Run: .venv/bin/python tools/make_beyond_chapter.py
"""

from nbtools import COLAB, code, md, write_notebook

cells = [
    md(r"""(chapter-beyond)=
# Beyond DLG

The deep leakage chapter recovered images exactly, but under kind conditions: the paper's
LeNet with Sigmoid activations and large random weights, untrained, one image or a few with
distinct labels, and a single gradient. Real federated learning is less kind. Networks use
ReLU, they are trained (the attack happens in round 500, not round 1), participants take
several local steps before sharing, and batches hold more than a handful of examples. And
images are not the only data: language models are trained federatedly on phones' keyboards.

This chapter takes each of those steps with the stronger attack that followed DLG, Inverting
Gradients {cite:p}`geiping2020inverting`, and with DLG on text. For each we measure where the
attack still works and where it breaks."""),
    code(COLAB),
    code('''import dataclasses
import os

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display
from myst_nb import glue

from dlgtut.attacks import DLGConfig, IGConfig, dlg, infer_labels, inverting_gradients
from dlgtut.attacks.text_dlg import sentence_assignment, text_dlg, token_accuracy
from dlgtut.data import load_dataset
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import score
from dlgtut.models import LeNet, ResNet
from dlgtut.text import TextBatch, TextParticipant, TinyLM, corpus_sentences, default_vocabulary
from dlgtut.training import train_classifier
from dlgtut.viz import image_grid, plot_progress
from dlgtut.viz_text import plot_sentences

QUICK = os.environ.get("DLGTUT_QUICK") == "1"  # reduced mode: fewer images and iterations
torch.set_num_threads(1)  # small models: threads only wait for each other


def table(rows, header):
    """Show rows as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    display(Markdown("\\n".join(lines)))'''),
    md(r"""## The threat model

The attacker is the honest-but-curious server of the previous chapters. It holds the public
model of the round and the public facts of the protocol: the batch size, and for FedAvg the
number of local steps $K$ and the local learning rate. It receives one participant's update and
never sees the private batch; the ground truth enters only when we score what it recovered.
Everything here is also what any neighbour sees in decentralised learning, where updates are
exchanged between peers.

## Inverting Gradients, step by step

DLG minimises the squared distance between the dummy gradient and the shared one with L-BFGS.
{cite:t}`geiping2020inverting` observed that the *direction* of a gradient carries the
information about the input, while its magnitude mostly says how wrong the prediction was.
They match the direction instead, over all layers at once, and add a total-variation prior
that favours natural images:

$$
x^\ast = \arg\min_{x \in [0,1]^n}\; 1 - \frac{\langle \nabla_W \ell(x, y), g\rangle}
{\lVert \nabla_W \ell(x, y)\rVert\,\lVert g\rVert} + \alpha\,\mathrm{TV}(x).
$$

The label $y$ is read off the gradient first, as iDLG does {cite:p}`zhao2020idlg`. The
optimiser is Adam on the *sign* of the image gradient, which is robust to the objective's badly
scaled gradients; the pixels are clamped to $[0, 1]$ after every step, the step size is divided
by ten at 3/8, 5/8 and 7/8 of the run, and several random starts are ranked by the gradient
distance they reach. In `dlgtut` this is `inverting_gradients(update, IGConfig(...))`.

We work on real handwritten digits (scikit-learn's, 16 x 16) and three networks: the paper's
LeNet (Sigmoid, weights drawn from $U(-0.5, 0.5)$), the same LeNet with ReLU and PyTorch's
default initialisation, and a small ResNet (eight layers, ReLU, strided, no batch norm). Each
is attacked untrained and after a short training run on 1,200 digits; the attacked digits are
held out from training."""),
    code('''digits = load_dataset("digits", size=16)
train_x, train_y = digits.images[:1200], digits.labels[:1200]
test_x, test_y = digits.images[1200:], digits.labels[1200:]


def make(name):
    """A fresh, untrained network (seeded)."""
    if name == "LeNet, Sigmoid":
        return LeNet(1, 10, 16, "sigmoid", seed=0)
    if name == "LeNet, ReLU":
        return LeNet(1, 10, 16, "relu", seed=0, init="default")
    return ResNet(8, 1, 10, width=8, activation="relu", strides=True, seed=0)


recipe = {"LeNet, Sigmoid": (5, 1e-3), "LeNet, ReLU": (5, 1e-3), "ResNet-8, ReLU": (10, 1e-2)}
networks, accuracy = {}, {}
for name, (epochs, lr) in recipe.items():
    networks[(name, "untrained")] = make(name)
    net = make(name)
    train_classifier(net, train_x, train_y, epochs=epochs, lr=lr, seed=0)
    networks[(name, "trained")] = net
    with torch.no_grad():
        accuracy[name] = (net(test_x).argmax(1) == test_y).float().mean().item()
table([(name, epochs, f"{accuracy[name]:.1%}") for name, (epochs, _) in recipe.items()],
      ["network", "epochs", "test accuracy after training"])
glue("acc_relu", f"{accuracy['LeNet, ReLU']:.0%}", display=False)
glue("acc_sigmoid", f"{accuracy['LeNet, Sigmoid']:.0%}", display=False)
glue("acc_resnet", f"{accuracy['ResNet-8, ReLU']:.0%}", display=False)'''),
    md(r"""One digit, the trained ReLU LeNet, both attacks. The figure shows Inverting
Gradients' dummy image at every hundredth step: from uniform noise, the signed steps first
find a rough, speckled digit, which settles into a clean one once the step size drops (at 3/8
of the run)."""),
    code('''IG = IGConfig(iterations=600 if QUICK else 1000, trials=1, progress=False)
DLG = DLGConfig(iterations=50 if QUICK else 300, time_limit=4 if QUICK else 10, progress=False)
one = PrivateBatch(test_x[100:101], test_y[100:101])  # held out from training
update = Participant(networks[("LeNet, ReLU", "trained")]).fedsgd(one)
print("label read off the gradient:", infer_labels(update).tolist(), "true:", one.labels.tolist())
ig_one = inverting_gradients(update, IG)
dlg_one = dlg(update, DLG)
s_ig, s_dlg = (score(r.images, r.labels, one.images, one.labels) for r in (ig_one, dlg_one))
fig = plot_progress(ig_one.history, one.images, max_frames=11, ncols=12,
                    title="Inverting Gradients on a trained ReLU LeNet")
glue("one_ig_psnr", f"{s_ig.psnr:.1f}", display=False)
glue("one_dlg_psnr", f"{s_dlg.psnr:.1f}", display=False)
glue("one_dlg_status", dlg_one.status.replace("_", " "), display=False)'''),
    md(r"""Inverting Gradients reaches {glue:text}`one_ig_psnr` dB on this digit; DLG, on the
same update, ends {glue:text}`one_dlg_status` at {glue:text}`one_dlg_psnr` dB.

## DLG and Inverting Gradients on six networks

Now every network, untrained and trained, with the same held-out digits for both attacks.
DLG runs with its defaults (L-BFGS on the squared distance, analytic labels, restarts), at most
ten seconds per digit; Inverting Gradients with one trial of {glue:text}`ig_iterations` steps
(the paper used 24,000 on a GPU)."""),
    code('''picks = [100, 200] if not QUICK else [100]
rows, shown = [], {}
results = {}
for (name, state), net in networks.items():
    per = {"DLG": [], "IG": []}
    for i in picks:
        batch = PrivateBatch(test_x[i : i + 1], test_y[i : i + 1])
        sent = Participant(net).fedsgd(batch)
        for attack in ("DLG", "IG"):
            rec = dlg(sent, DLG) if attack == "DLG" else inverting_gradients(sent, IG)
            per[attack].append(score(rec.images, rec.labels, batch.images, batch.labels))
            if i == picks[0]:
                shown[(name, state, attack)] = rec.images
    results[(name, state)] = per
    mean = {a: (sum(s.psnr for s in v) / len(v), sum(s.ssim for s in v) / len(v))
            for a, v in per.items()}
    rows.append((name, state, f"{mean['DLG'][0]:.1f} / {mean['DLG'][1]:.2f}",
                 f"{mean['IG'][0]:.1f} / {mean['IG'][1]:.2f}"))
table(rows, ["network", "state", "DLG: PSNR (dB) / SSIM", "IG: PSNR (dB) / SSIM"])
glue("ig_iterations", IG.iterations, display=False)


def mean_psnr(name, state, attack):
    return sum(s.psnr for s in results[(name, state)][attack]) / len(picks)


for key, (name, state) in {"sig_u": ("LeNet, Sigmoid", "untrained"),
                           "sig_t": ("LeNet, Sigmoid", "trained"),
                           "relu_u": ("LeNet, ReLU", "untrained"),
                           "relu_t": ("LeNet, ReLU", "trained"),
                           "res_u": ("ResNet-8, ReLU", "untrained"),
                           "res_t": ("ResNet-8, ReLU", "trained")}.items():
    for attack in ("DLG", "IG"):
        glue(f"{key}_{attack.lower()}", f"{mean_psnr(name, state, attack):.1f}", display=False)
# Geiping et al.'s claim, on our data: on the ReLU networks, trained or not, IG wins.
for state in ("untrained", "trained"):
    assert mean_psnr("LeNet, ReLU", state, "IG") > mean_psnr("LeNet, ReLU", state, "DLG") + 3
assert mean_psnr("LeNet, Sigmoid", "untrained", "DLG") > 40  # the paper's setting: exact'''),
    code('''fig, axes = plt.subplots(3, 6, figsize=(10, 5.4), layout="constrained")
truth = test_x[picks[0] : picks[0] + 1]
for col, (name, state) in enumerate(networks):
    for row, (label, image) in enumerate([("truth", truth),
                                          ("DLG", shown[(name, state, "DLG")]),
                                          ("IG", shown[(name, state, "IG")])]):
        ax = axes[row, col]
        ax.imshow(image_grid(image), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        if row == 0:
            ax.set_title(f"{name}\\n{state}", fontsize=8)
        if col == 0:
            ax.set_ylabel(label)
_ = fig.suptitle("One held-out digit recovered by DLG and by Inverting Gradients")'''),
    md(r"""Three regimes appear.

- **The paper's Sigmoid LeNet**: DLG is exact ({glue:text}`sig_u_dlg` dB untrained,
  {glue:text}`sig_t_dlg` dB after training to {glue:text}`acc_sigmoid` accuracy), and
  Inverting Gradients is worse ({glue:text}`sig_u_ig` and {glue:text}`sig_t_ig` dB). Its TV
  prior and signed steps trade exactness for robustness; where the objective is smooth and the
  system of equations is over-determined, L-BFGS on the plain distance finds the exact answer.
- **ReLU LeNet**: DLG stalls ({glue:text}`relu_u_dlg` dB untrained, {glue:text}`relu_t_dlg`
  dB trained to {glue:text}`acc_relu`), because a ReLU network's gradient is piecewise linear
  in the input and the second derivatives L-BFGS relies on vanish almost everywhere. Inverting
  Gradients recovers the digit ({glue:text}`relu_u_ig` and {glue:text}`relu_t_ig` dB). This is
  the paper's claim, and it holds on trained networks, which is where a real attacker works.
- **ResNet-8**: neither attack recovers the digit within our budget ({glue:text}`res_u_dlg`
  / {glue:text}`res_u_ig` dB untrained, {glue:text}`res_t_dlg` / {glue:text}`res_t_ig` dB
  trained to {glue:text}`acc_resnet`). The ResNet has global average pooling before its
  classifier, so much of the spatial layout is averaged away, and the loss surface is harder;
  Geiping et al. recover recognisable ImageNet images from ResNets, but with 24,000 steps, eight
  trials and a GPU.

## Batches

A batch's gradient is the mean of its examples' gradients, and the attack must pull the mean
apart. Labels come first. With distinct labels the classes present have negative rows in the
classifier's weight gradient; with repeated labels (a batch larger than the number of classes
must repeat) `infer_labels` rounds the counts estimated from the bias gradient to whole
numbers (`infer_labels` in the {doc}`api`). The table below reads the labels
of consecutive digits, first on an untrained ReLU LeNet, then on the trained one."""),
    code('''def label_hits(net, size, starts):
    """Fraction of the label multiset recovered over batches of consecutive digits."""
    hit = 0
    for s in starts:
        y = test_y[s : s + size]
        sent = Participant(net).fedsgd(PrivateBatch(test_x[s : s + size], y))
        found = infer_labels(sent, repeated=True).tolist()
        hit += sum(min(found.count(c), y.tolist().count(c)) for c in set(found))
    return hit / (size * len(starts))


starts = range(0, 540, 60 if not QUICK else 180)
sizes = (4, 8, 16, 32)
label_rows = [(state, *[f"{label_hits(networks[('LeNet, ReLU', state)], n, starts):.0%}"
                        for n in sizes]) for state in ("untrained", "trained")]
table(label_rows, ["ReLU LeNet", *[f"batch {n}" for n in sizes]])
glue("labels_trained_8", label_rows[1][2], display=False)
glue("labels_untrained_32", label_rows[0][4], display=False)'''),
    md(r"""On the untrained network the counts are right at every size
({glue:text}`labels_untrained_32` at 32, with many repeats). On the trained network the rule
falls to {glue:text}`labels_trained_8` at 8: once each example's own class has most of the probability,
its signal in the gradient is small next to the other examples', and the grey-image estimate of
the mean prediction that the counts need is poor for a confident network. Trained networks are
harder for label recovery too.

Now the images, on the untrained networks where the labels are right: Inverting Gradients on
the ReLU LeNet and DLG on the paper's Sigmoid LeNet, for batches of 1 to 10 distinct digits and
then 16 consecutive digits with repeated labels."""),
    code('''batch_sizes = (1, 2, 4, 8, 10, 16) if not QUICK else (4, 16)
relu, sigmoid = networks[("LeNet, ReLU", "untrained")], networks[("LeNet, Sigmoid", "untrained")]
batch_rows, batch_psnr, batch_show = [], {"IG": [], "DLG": []}, {}
for n in batch_sizes:
    x, y, _ = digits.subset(range(1200, len(digits))).batch(300, n, distinct_labels=n <= 10)
    batch = PrivateBatch(x, y)
    ig = inverting_gradients(Participant(relu).fedsgd(batch), IG)
    dl = dlg(Participant(sigmoid).fedsgd(batch), DLG.replace(time_limit=30))
    s_ig, s_dl = (score(r.images, r.labels, x, y) for r in (ig, dl))
    batch_psnr["IG"].append(s_ig.psnr)
    batch_psnr["DLG"].append(s_dl.psnr)
    batch_show[n] = (x, ig.images[s_ig.assignment], dl.images[s_dl.assignment])
    batch_rows.append((n, "distinct" if n <= 10 else "repeated",
                       f"{s_ig.psnr:.1f} / {s_ig.ssim:.2f} / {s_ig.label_accuracy:.0%}",
                       f"{s_dl.psnr:.1f} / {s_dl.ssim:.2f} / {s_dl.label_accuracy:.0%}"))
table(batch_rows, ["batch", "labels", "IG, ReLU LeNet: PSNR / SSIM / labels",
                   "DLG, Sigmoid LeNet: PSNR / SSIM / labels"])
big = max(batch_sizes)
glue("batch_big", big, display=False)
glue("sigmoid_params", f"{sum(p.numel() for p in sigmoid.parameters()):,}", display=False)
glue("batch_big_pixels", f"{big * 16 * 16:,}", display=False)
glue("batch_big_ig", f"{batch_psnr['IG'][-1]:.1f}", display=False)
glue("batch_big_dlg", f"{batch_psnr['DLG'][-1]:.1f}", display=False)
if not QUICK:
    glue("batch_8_ig", f"{batch_psnr['IG'][batch_sizes.index(8)]:.1f}", display=False)
    glue("batch_1_ig", f"{batch_psnr['IG'][0]:.1f}", display=False)
else:
    glue("batch_8_ig", "-", display=False)
    glue("batch_1_ig", "-", display=False)'''),
    code('''x, ig_img, dl_img = batch_show[big]
fig, axes = plt.subplots(3, 1, figsize=(10, 2.6), layout="constrained")
rows = [("truth", x), ("IG, ReLU", ig_img), ("DLG, Sigmoid", dl_img)]
for ax, (label, images) in zip(axes, rows):
    ax.imshow(image_grid(images, nrow=len(images)), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_ylabel(label, rotation=0, ha="right", va="center")
_ = fig.suptitle(f"A batch of {big} digits with repeated labels, each matched to its truth")'''),
    md(r"""On the ReLU LeNet, Inverting Gradients degrades with the batch: from
{glue:text}`batch_1_ig` dB for one digit to {glue:text}`batch_8_ig` dB for eight, and
{glue:text}`batch_big_ig` dB for {glue:text}`batch_big` digits, where it shows the strokes of
some digits and blurred mixtures in others. Single batches vary by several dB (compare the
table's neighbouring sizes): which digits share a batch matters as much as how many there
are. DLG on the Sigmoid LeNet still recovers
{glue:text}`batch_big` digits at {glue:text}`batch_big_dlg` dB: the gradient of this LeNet
has {glue:text}`sigmoid_params` entries for the batch's {glue:text}`batch_big_pixels` unknown
pixels, so the equations still determine the batch, and L-BFGS solves them. Where it breaks
is where the parameters run out (the deep leakage chapter counted them) or
where the optimisation cannot follow, as on ReLU; our IG budget of
{glue:text}`ig_iterations` steps is also far below the paper's.

## FedAvg: several local steps

In FedAvg a participant takes $K$ SGD steps on its data before sharing the weight change
$\Delta W = W_K - W_0$. The change is not a gradient. An attacker that treats
$-\Delta W / (K\,\eta)$ as one ("naive" below) matches the wrong thing; Inverting Gradients
instead *unrolls* the $K$ steps on the dummy batch, with the public learning rate $\eta$, and
matches the resulting weight change. The cost grows with $K$: each attack step differentiates through $K$ training steps."""),
    code('''steps = (1, 2, 4, 8) if not QUICK else (1, 4)
IG_K = IG.replace(iterations=150 if QUICK else 500)
x, y, _ = digits.subset(range(1200, len(digits))).batch(500, 2)
pair = PrivateBatch(x, y)
k_rows, k_psnr = [], {"unrolled": [], "naive": []}
for k in steps:
    sent = Participant(relu).fedavg(pair, local_steps=k, lr=0.1)
    unrolled = inverting_gradients(sent, IG_K)
    naive = inverting_gradients(dataclasses.replace(sent, local_steps=1), IG_K)
    s_u, s_n = (score(r.images, r.labels, x, y) for r in (unrolled, naive))
    k_psnr["unrolled"].append(s_u.psnr)
    k_psnr["naive"].append(s_n.psnr)
    k_rows.append((k, f"{s_u.psnr:.1f} / {s_u.ssim:.2f}", f"{s_n.psnr:.1f} / {s_n.ssim:.2f}",
                   f"{unrolled.seconds:.1f}"))
table(k_rows, ["local steps K", "unrolled: PSNR / SSIM", "naive: PSNR / SSIM", "seconds"])
fig, ax = plt.subplots(figsize=(5, 3.2))
for key, style in (("unrolled", "o-"), ("naive", "s--")):
    ax.plot(steps, k_psnr[key], style, label=key)
ax.set_xscale("log", base=2)
ax.set_xticks(steps, [str(k) for k in steps])
ax.axhline(12, color="grey", lw=0.8, ls=":")
ax.set_xlabel("local steps K")
ax.set_ylabel("PSNR (dB)")
ax.set_title("Two digits from a FedAvg update (ReLU LeNet, lr 0.1)")
ax.legend()
fig.tight_layout()
glue("k_max", steps[-1], display=False)
glue("k_unrolled", f"{k_psnr['unrolled'][-1]:.1f}", display=False)
glue("k_naive", f"{k_psnr['naive'][-1]:.1f}", display=False)
assert k_psnr["unrolled"][-1] > k_psnr["naive"][-1]  # unrolling is what makes FedAvg leak'''),
    md(r"""With one step both are the same attack. With {glue:text}`k_max` local steps the
naive attacker gets {glue:text}`k_naive` dB, while unrolling keeps {glue:text}`k_unrolled` dB:
several local steps on the same small batch do not hide it, they only make the attack more
expensive. FedAvg helps more when the local steps run over many different minibatches, which
mixes more examples into one update (the Defences chapter measures it).

## Text

Language models are trained federatedly too, and their inputs are words. The model here is a
tiny GPT-style transformer (`TinyLM`: two blocks, 32-wide) over a word vocabulary of
{glue:text}`vocab_size` tokens built from the first chapter of *Pride and Prejudice*, which
ships with `dlgtut`. The participant computes the next-token gradient of its sentences. The
attacker optimises one distribution over the vocabulary per position; the dummy input
embeddings are the mixtures of token embeddings these distributions give, and since a language
model's targets are its inputs shifted by one, the dummy labels are the same distributions one
position later. After the continuous search, each position is mapped to the nearest token among
the *bag of words* that the embedding gradient gives away (its non-zero rows are exactly the
tokens that went in), and a short discrete search repairs what is left
(`text_dlg` in the {doc}`api`).

First, single sentences of the corpus, attacked one at a time:"""),
    code('''vocab = default_vocabulary()
lm = TinyLM(len(vocab), seed=0)
glue("vocab_size", len(vocab), display=False)
sentences = corpus_sentences(min_tokens=5, max_tokens=33)[: 4 if QUICK else 12]
text_rows, exact, correct, total = [], 0, 0, 0
for s in sentences:
    batch = TextBatch.from_sentences(vocab, [s])
    rec = text_dlg(TextParticipant(lm, vocab).fedsgd(batch), progress=False)
    acc = token_accuracy(rec.tokens, batch)
    exact += rec.text[0] == batch.sentences(vocab)[0]
    correct += acc * batch.ids.numel()
    total += batch.ids.numel()
    text_rows.append((batch.sentences(vocab)[0], rec.text[0], f"{acc:.0%}"))
table(text_rows, ["private sentence", "recovered", "tokens right"])
glue("text_exact", f"{exact} of {len(sentences)}", display=False)
glue("text_acc", f"{correct / total:.1%}", display=False)
assert exact >= len(sentences) - 1'''),
    md(r"""{glue:text}`text_exact` sentences come back word for word (token accuracy
{glue:text}`text_acc`). A batch mixes sentences, and the order of sentences in a batch leaves no
trace in its gradient, so recovered sentences are paired with the true ones before scoring.
Here are batches of two and four sentences (cut to a common length), recovered without and
with the discrete repair:"""),
    code('''pool = corpus_sentences(min_tokens=12, max_tokens=40)
batch_rows_text, figures = [], {}
for size in (2, 4):
    chosen = pool[3 : 3 + size]
    batch = TextBatch.from_sentences(vocab, chosen, length=12)
    sent = TextParticipant(lm, vocab).fedsgd(batch)
    plain = text_dlg(sent, refine=False, progress=False)
    repaired = text_dlg(sent, progress=False)
    batch_rows_text.append((size, f"{token_accuracy(plain.tokens, batch):.0%}",
                            f"{token_accuracy(repaired.tokens, batch):.0%}"))
    figures[size] = (batch, plain)
table(batch_rows_text, ["sentences", "token accuracy, continuous search only",
                        "with the discrete repair"])
batch, plain = figures[4]
fig = plot_sentences(batch.ids, plain.tokens[sentence_assignment(plain.tokens, batch)], vocab)
fig.suptitle("Four sentences, continuous search only (wrong tokens in red)", y=1.02)
glue("text4_plain", batch_rows_text[1][1], display=False)
glue("text4_repaired", batch_rows_text[1][2], display=False)'''),
    md(r"""With four sentences the continuous search alone gets {glue:text}`text4_plain` of
the tokens in place: the words are right (the bag of words gives them away), but some land in
the wrong sentence or position. The discrete repair, which tries swaps and substitutions among
the bag's words and keeps those that bring the gradient distance down, reaches
{glue:text}`text4_repaired`. The same attack runs from the command line:
`python -m dlgtut leak --text --index 2 --batch-size 2 --out out/text`.

## What limits these attacks

- **Optimisation, not information, is often the limit.** On ReLU networks DLG fails where
  Inverting Gradients succeeds from the same gradient; on the ResNet both fail within our
  budget, although much of the information is there. Budgets matter: the published results use
  tens of thousands of steps on a GPU.
- **Trained networks hide labels.** The label rules that make image recovery tractable get
  weaker as the network becomes confident; a wrong label then misguides the image search.
- **Batches**: the per-example signal shrinks as examples are added. Whether a batch can be
  recovered depends on how many parameters the model has per pixel of the batch.
- **FedAvg** makes the attack more expensive (it must unroll the local steps), not impossible.
- **Text** leaks even more easily than images on a small model: the embedding gradient names
  the words, and only their order must be found.

## Summary

- Inverting Gradients (cosine distance, TV prior, signed Adam, box constraint) beats DLG on
  ReLU networks, trained or not; DLG remains exact on the paper's Sigmoid LeNet.
- Label recovery extends to batches and, through the bias gradient's counts, to repeated
  labels; it weakens on trained networks.
- Several local steps do not protect a small batch if the attacker unrolls them.
- On a language model, the words of a sentence can be read off the gradient without any
  optimisation, and their order recovered by gradient matching.

## Exercises

1. Give Inverting Gradients more steps and trials on the ResNet (`IGConfig(iterations=4000,
   trials=4)`). Does the PSNR rise, and does the cosine distance it reaches keep falling?
2. Set `tv_weight=0` in `IGConfig` and redo the six-network table. Where does the prior help,
   and where does it cost?
3. Attack a batch of 8 on the *trained* ReLU LeNet, once with the labels `infer_labels` gives
   and once with the true labels passed as `inverting_gradients(update, labels=...)`. How much
   of the loss is due to the labels?
4. In the FedAvg experiment, let the participant split its batch into minibatches
   (`Participant.fedavg(..., minibatch_size=1)`). Does unrolling still work?
5. Run `python -m dlgtut leak --text "..."` on a sentence of your own. What happens to words
   outside the vocabulary, and what does that say about a real model with a large vocabulary?"""),
]

write_notebook(cells, "book/beyond_dlg.ipynb")
