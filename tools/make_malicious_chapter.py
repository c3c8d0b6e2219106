"""Write book/malicious_server.ipynb (without outputs) from the cells below.

The notebook is the chapter's source of truth once written; this script records how it was
laid out and is kept so that large edits stay reviewable. Cell ids are fixed, so rewriting the
notebook changes only what changed. Run: .venv/bin/python tools/make_malicious_chapter.py
"""

from nbtools import COLAB, code, md, write_notebook

cells = [
    md(r"""(chapter-malicious-server)=
# When the server lies

Every gradient attack so far assumed an *honest-but-curious* server: it runs the protocol as
written and only looks at what it receives. Against that server, the defences chapter found
secure aggregation {cite:p}`bonawitz2017practical` one of the strongest answers: once the server
sees only the sum of many participants' updates, an optimisation attack such as DLG has to
untangle a batch as large as all of their batches together.

But in federated learning the server does more than look. It *chooses the model* that every
participant trains in the next round, and participants run whatever they receive. A server
that is willing to lie about the model can build one whose gradient is not a puzzle at all.
{cite:t}`fowl2022robbing` put a small block in front of an ordinary network whose rows sort
images into bins by their brightness; every bin that catches exactly one image returns it,
exactly, by one division. No optimisation, any batch size, and, because the read-out is linear,
the same through secure aggregation. {cite:t}`boenisch2023curious` reached the same end with
*trap weights*: random rows that only few images can activate.

This chapter builds both attacks on real photos and digits, measures how much of a batch comes
back as the batch grows, as the server buys more rows, and as more participants are aggregated,
and then asks what a participant can do: check the model it receives, or add noise to what it
sends."""),
    code(COLAB),
    code('''import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from myst_nb import glue
from tqdm.auto import tqdm

from dlgtut.attacks.malicious import (
    architecture_changes,
    audit_update,
    imprint_attack,
    imprint_model,
    parallel_rows,
    trap_attack,
    trap_model,
)
from dlgtut.data import load_dataset
from dlgtut.defenses import gaussian_noise, secure_aggregate
from dlgtut.diagrams import draw_attack
from dlgtut.dp import dp_epsilon, dp_sgd_update
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import EXACT_PSNR_DB, fraction_exact, score_images
from dlgtut.models import LeNet
from dlgtut.viz import plot_breach, plot_breach_grid

QUICK = os.environ.get("DLGTUT_QUICK") == "1"  # reduced mode: shorter sweeps
torch.manual_seed(0)
torch.set_num_threads(1)  # small models: threads only wait for each other on a busy machine


def table(rows, header):
    """Show rows as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    display(Markdown("\\n".join(lines)))


def pct(x):
    """A fraction as a percentage without decimals."""
    return f"{100 * x:.0f} %"'''),
    md(r"""## The threat model

The server is now *malicious*: it sends the participants a model of its own making, an
ordinary classifier with a small block in front, and keeps to itself how it built that block.
The participants are still honest: they train whatever model they receive on their private
batch and send the update, exactly as the protocol says. Secure aggregation may hide their
individual updates, so that the server sees only their sum. The server gets no private data
other than through the update.

In `dlgtut` this is a type. `imprint_model` and `trap_model` return a frozen dataclass whose
`model` is all a participant receives; its other fields (the bin thresholds, the statistic)
never leave the server. The attacks, `imprint_attack` and `trap_attack`, take the
`SharedUpdate` (or the aggregate from `secure_aggregate`) together with that dataclass, never
the private batch."""),
    code('''fig = draw_attack("malicious")'''),
    md(r"""## One row, one image

Put a fully connected layer with a bias in front of the network and look at one of its rows,
$h_i = \mathrm{ReLU}(W_i \cdot x + b_i)$. For an image $x$ that activates the row, the chain rule
gives the gradients of the loss $L$ with respect to the row's weights and bias as

$$
\nabla_{W_i} L = \frac{\partial L}{\partial h_i}\, x, \qquad
\nabla_{b_i} L = \frac{\partial L}{\partial h_i} ,
$$

so their ratio is the image itself, whatever the rest of the network does. Here is one 32 x 32
colour photo going through a block with a single row that every image activates. The
private images are tiles of real photographs (the `patches` dataset: nine colour photos cut
into 270 tiles); the server's *public* data are tiles the participants do not hold."""),
    code('''photos = load_dataset("patches", size=32)   # 270 real 32 x 32 colour photo tiles
digits = load_dataset("digits", size=32)    # 1797 real handwritten digits
X, y = photos.images[:64], photos.labels[:64]  # a participant's private batch
public = photos.images[64:]                   # the server's public data: other tiles
net = LeNet(3, len(photos.classes), 32, seed=1234)  # the ordinary model everyone expects

one = imprint_model(net, public, bins=1)      # a block with a single row
update = Participant(one.model).fedsgd(PrivateBatch(X[:1], y[:1]))
d_weight, d_bias = update.tensors[0][0], update.tensors[1][0]  # the block's row comes first
reading = (d_weight / d_bias).reshape(3, 32, 32)
error = (reading - X[0]).abs().max().item()
glue("one_error", f"{error:.0e}", display=False)
glue("one_scale", f"{d_bias.abs().item():.1e}", display=False)

fig, axes = plt.subplots(1, 3, figsize=(8, 3), layout="constrained")
panels = [(X[0], "private image"),
          ((d_weight / d_weight.abs().max()).reshape(3, 32, 32).abs(),
           "|weight gradient|\\n(scaled)"),
          (reading.clamp(0, 1), f"weight / bias gradient\\nmax error {error:.0e}")]
for ax, (img, title) in zip(axes, panels):
    ax.imshow(img.permute(1, 2, 0))
    ax.set_title(title, fontsize=10)
    ax.axis("off")
_ = fig.suptitle("One row of the block: its gradient is the image times one number")'''),
    md(r"""The weight gradient is the image, scaled by a number (here about
{glue:text}`one_scale`) that the bias gradient gives away; dividing one by the other returns
the image to within {glue:text}`one_error` per pixel, the rounding of 32-bit floats. With a
batch, the row's gradients are *sums* over every image that activates it, and the ratio is a
weighted blend of them. The whole attack is therefore about one question: how to make as many
rows as possible be activated by exactly one image."""),
    md(r"""## Robbing the Fed: an imprint that bins the batch

{cite:t}`fowl2022robbing` give every row the same measurement, the image's average
brightness $s(x)$, and its own threshold $t_i$: row $i$ fires for every image brighter than
$t_i$. Two neighbouring rows then differ by exactly the images whose brightness lies between
their thresholds, a *bin*, and because the block adds its rows back onto the image with equal
weights, an image sends the same $\partial L / \partial h$ into every row it fires. So

$$
\frac{\nabla_{W_i} L - \nabla_{W_{i+1}} L}{\nabla_{b_i} L - \nabla_{b_{i+1}} L}
= \frac{\sum_{x \in \text{bin } i} g(x)\, x}{\sum_{x \in \text{bin } i} g(x)} ,
$$

which is the image itself when the bin holds one. The server places the thresholds at the
quantiles of the brightness of its public data, so that each bin is equally likely. The block
adds at most $10^{-3}$ to any pixel, so the ordinary network behind it still sees the image and
still trains. Here are the thresholds of a 16-bin block against the brightness of the public
tiles and of the private batch."""),
    code('''small = imprint_model(net, public, bins=16)
fig, ax = plt.subplots(figsize=(9, 3), layout="constrained")
ax.hist(small.statistic_of(public).numpy(), bins=60, color="#90a4ae", label="public tiles")
for t in small.boundaries[1:].numpy():
    ax.axvline(t, color="#c62828", lw=0.8)
ax.plot(small.statistic_of(X).numpy(), np.zeros(len(X)) - 0.3, "|", color="black", ms=12,
        label="the private batch")
ax.set_xlabel("average brightness s(x)")
ax.set_ylabel("public tiles")
ax.set_title("16 bins at quantiles of the public brightness (red: thresholds)")
_ = ax.legend(loc="upper right")'''),
    md(r"""With four bins per image the server expects about 78 % of the images to be alone in
their bin, since an image is alone with probability $(1 - 1/k)^{N-1} \approx e^{-N/k}$ for $k$
equally likely bins and $N$ images. The participant computes its ordinary FedSGD update on the
malicious model; the server reads."""),
    code('''lure = imprint_model(net, public, bins=4 * len(X))   # what the server sends, and keeps
update = Participant(lure.model).fedsgd(PrivateBatch(X, y))  # all the participant sends
breach = imprint_attack(update, lure)                  # the server sees only `update`
scores = score_images(breach.images, X)                # ground truth enters only here
occupancy = lure.occupancy(X)
print(breach)
print(breach.message)
glue("b64_bins", lure.rows, display=False)
glue("b64_exact", round(fraction_exact(scores) * len(X)), display=False)
glue("b64_frac", pct(fraction_exact(scores)), display=False)
glue("b64_hits", breach.hits, display=False)
glue("b64_blend", int((occupancy > 1).sum()), display=False)
glue("b64_ms", f"{1000 * breach.seconds:.0f}", display=False)
glue("b64_expected", pct((1 - 1 / lure.rows) ** (len(X) - 1)), display=False)
assert round(fraction_exact(scores) * len(X)) == int((occupancy == 1).sum())
assert fraction_exact(scores) >= 0.5  # the issue's target: half of a batch of 64
fig = plot_breach_grid(X, breach.images, scores)'''),
    md(r"""{glue:text}`b64_exact` of the 64 photos come back above 40 dB
({glue:text}`b64_frac`), in {glue:text}`b64_ms` ms of arithmetic. They are not approximations:
their error is the rounding of floats, and the PSNR of 100 dB is the ceiling of our metric.
The update hit {glue:text}`b64_hits` of the {glue:text}`b64_bins` bins; the other images
shared a bin ({glue:text}`b64_blend` bins caught two or more), and what came back from those is
a blend of them, sometimes with colours from a negative weight (the grey cells are slots for
which nothing was left). The count is exactly the number of images alone in their bin, below the
{glue:text}`b64_expected` that equally likely bins would give: the private tiles'
brightness is not spread like the public tiles'."""),
    code('''fig = plot_breach(scores.per_image["psnr"], occupancy,
                  title="Batch of 64 photo tiles, 256-bin imprint")'''),
    md(r"""## Batch size and the number of bins

The read-out costs nothing more for a larger batch; what decides the harvest is how many bins
the server buys per image. The next cell sweeps both on the digits (each point the mean over
batches taken from different parts of the dataset), with a random projection
instead of the brightness as the statistic: the digits' brightness takes few distinct values
(an 8 x 8 digit has 17 grey levels), and two images of the same brightness can never be
separated by any number of brightness bins, as the comparison at the end of the cell shows."""),
    code('''def imprint_fraction(data, n, bins, statistic="brightness", start=0):
    """Fraction of n images from `start` recovered above 40 dB by an imprint of `bins` bins."""
    images, labels, taken = data.batch(start, n, distinct_labels=False)
    public = data.images[[i for i in range(len(data)) if i not in set(taken)]]
    model = LeNet(images.shape[1], len(data.classes), 32, seed=1234)
    server = imprint_model(model, public, bins=bins, statistic=statistic)
    update = Participant(server.model).fedsgd(PrivateBatch(images, labels))
    return fraction_exact(score_images(imprint_attack(update, server).images, images))


sizes = (8, 16, 32, 64, 128, 256) if not QUICK else (16, 64, 256)
per_image = (1, 2, 4, 8) if not QUICK else (1, 4)
starts = (0, 600, 1200) if not QUICK else (0,)  # batches averaged over: other digits each time
sweep = {r: [np.mean([imprint_fraction(digits, n, r * n, "random", s) for s in starts])
             for n in tqdm(sizes, desc=f"{r}/image")] for r in per_image}
ties = {s: imprint_fraction(digits, 256, 1024, s) for s in ("brightness", "random")}

fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
for r, fractions in sweep.items():
    line, = ax.plot(sizes, fractions, "o-", label=f"{r} bin(s) per image")
    ax.axhline(np.exp(-1 / r), color=line.get_color(), ls=":", lw=1)
ax.set_xscale("log", base=2)
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.set_ylim(0, 1)
ax.set_xlabel("images in the update (batch size)")
ax.set_ylabel(f"fraction recovered above {EXACT_PSNR_DB:.0f} dB")
ax.set_title(f"Imprint on digits (random projection), mean of {len(starts)} batch(es): "
             "dotted, exp(-1/r)")
ax.legend()
glue("size_min", min(sizes), display=False)
glue("size_max", max(sizes), display=False)
glue("bins4_min", pct(min(sweep[4])), display=False)
glue("bins4_max", pct(max(sweep[4])), display=False)
glue("bins1_mean", pct(np.mean(sweep[1])), display=False)
glue("top_rate", per_image[-1], display=False)
glue("top_mean", pct(np.mean(sweep[per_image[-1]])), display=False)
glue("tie_bright", pct(ties["brightness"]), display=False)
glue("tie_random", pct(ties["random"]), display=False)'''),
    md(r"""At four bins per image the server gets {glue:text}`bins4_min` to
{glue:text}`bins4_max` of every batch, from {glue:text}`size_min` images to
{glue:text}`size_max`, close to the $e^{-1/4} = 78\,\%$
of equally likely bins; one bin per image gives {glue:text}`bins1_mean` on average and
{glue:text}`top_rate` per image {glue:text}`top_mean`. The batch size, which decided everything
for DLG, hardly matters here: a bigger batch only needs a bigger block, and a block of 1024
rows over 32 x 32 images is a few million parameters, which no one would notice in a modern
network. The statistic matters more: on the batch of 256 digits, brightness bins recover
{glue:text}`tie_bright` against {glue:text}`tie_random` for the random projection, because the
digits' brightness has ties."""),
    md(r"""## Against secure aggregation

Under secure aggregation the server receives only the mean of the $K$ participants' updates.
For DLG that was a batch $K$ times as large, and hopeless. For the imprint it changes nothing
but the count: the mean of the bins' gradients is still, bin by bin, a sum over the images in
it, whoever they belong to. The server, which knows $K$ and the batch size, buys four bins per
image of the whole round. Each of $K$ participants holds 8 digits."""),
    code('''def aggregate_round(data, k, batch, bins, statistic="random", start=0):
    """k participants with `batch` consecutive images each; the imprint on their mean."""
    images, labels, taken = data.batch(start, k * batch, distinct_labels=False)
    public = data.images[[i for i in range(len(data)) if i not in set(taken)]]
    model = LeNet(images.shape[1], len(data.classes), 32, seed=1234)
    server = imprint_model(model, public, bins=bins, statistic=statistic)
    updates = [Participant(server.model).fedsgd(
        PrivateBatch(images[j * batch:(j + 1) * batch], labels[j * batch:(j + 1) * batch]))
        for j in range(k)]
    mean = secure_aggregate(updates)            # all the server sees
    scores = score_images(imprint_attack(mean, server).images, images)
    exact = np.array(scores.per_image["psnr"]) > EXACT_PSNR_DB
    return exact.reshape(k, batch)              # which images of which participant came back


counts = (2, 4, 8, 16, 32) if not QUICK else (2, 8, 32)
scaled = {k: aggregate_round(digits, k, 8, 4 * 8 * k) for k in tqdm(counts, desc="K")}
fixed = {k: aggregate_round(digits, k, 8, 256) for k in tqdm(counts, desc="K, 256 bins")}

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
axes[0].plot(counts, [scaled[k].mean() for k in counts], "o-", label="4 bins per image")
axes[0].plot(counts, [fixed[k].mean() for k in counts], "s--", label="256 bins")
axes[0].set_xscale("log", base=2)
axes[0].set_xticks(counts, [str(k) for k in counts])
axes[0].set_ylim(0, 1)
axes[0].set_xlabel("participants K (8 digits each)")
axes[0].set_ylabel(f"fraction of all images above {EXACT_PSNR_DB:.0f} dB")
axes[0].set_title("The imprint through secure aggregation")
axes[0].legend()
k8 = scaled[8]
axes[1].bar(np.arange(1, 9), k8.sum(1), color="#2e7d32")
axes[1].set_ylim(0, 8)
axes[1].set_xlabel("participant")
axes[1].set_ylabel("of its 8 digits, recovered exactly")
axes[1].set_title("K = 8: every participant gives images away")
largest = max(counts)
glue("sa_k8", pct(k8.mean()), display=False)
glue("sa_k8_min", int(k8.sum(1).min()), display=False)
glue("sa_kmax", largest, display=False)
glue("sa_kmax_frac", pct(scaled[largest].mean()), display=False)
glue("sa_kmax_images", 8 * largest, display=False)
glue("sa_kmax_bins", 32 * largest, display=False)
glue("sa_kmax_people", int((scaled[largest].sum(1) > 0).sum()), display=False)
glue("sa_fixed_kmax", pct(fixed[largest].mean()), display=False)

photo_round = aggregate_round(photos, 8, 8, 256, statistic="brightness")
assert k8.mean() >= 0.25 and photo_round.mean() >= 0.25  # the target: a quarter of 8 x 8
glue("sa_photos", pct(photo_round.mean()), display=False)'''),
    md(r"""With eight participants the server reads {glue:text}`sa_k8` of all 64 digits off
their aggregate, and every participant loses at least {glue:text}`sa_k8_min` of its 8; on
photo tiles, 8 participants of 8 give {glue:text}`sa_photos`. With {glue:text}`sa_kmax`
participants ({glue:text}`sa_kmax_images` digits) and {glue:text}`sa_kmax_bins` bins it is
still {glue:text}`sa_kmax_frac`, and {glue:text}`sa_kmax_people` of the {glue:text}`sa_kmax`
participants lose images. A server that does not scale its block,
256 bins whatever $K$, falls to {glue:text}`sa_fixed_kmax` at $K$ = {glue:text}`sa_kmax`: what
secure aggregation takes from this attacker is the bins it must pay for, nothing more. The
server does not learn whose image is whose, but it has the images. {cite:t}`fowl2022robbing`
and {cite:t}`pasquini2022eluding` describe further ways round secure aggregation, such as
sending every participant but one a model whose update is zero."""),
    md(r"""## Trap weights: a second way in

{cite:t}`boenisch2023curious` use no statistic and no bins. Each row of their block gives half
of the pixels negative weights and the other half positive weights of the same sizes, at
random, so that a row is a random contrast pattern; here the server also sets each row's bias
so that it fires for one public image in $N$, $N$ being the number of images it expects. A row
that exactly one image springs gives that image back; the other rows give blends. The block's
readout gives every row its own random weights, so a blend differs from row to row, while an
image that springs several rows alone comes back identically from each: readings that two rows
agree on are *confirmed*. The attacker also drops readings that would have sprung a row nobody
sprang, and keeps one reading per image."""),
    code('''trap = trap_model(net, public, rows=1024, images=len(X))
trap_update = Participant(trap.model).fedsgd(PrivateBatch(X, y))
trap_breach = trap_attack(trap_update, trap)
trap_scores = score_images(trap_breach.images, X)
psnr = torch.tensor(trap_scores.per_image["psnr"])
slot_truth = torch.empty(len(X), dtype=torch.long)
slot_truth[torch.tensor(trap_scores.assignment)] = torch.arange(len(X))
confirmed = trap_breach.confirmed.nonzero().flatten()
print(trap_breach)
glue("trap_rows", trap.rows, display=False)
glue("trap_frac", pct(fraction_exact(trap_scores)), display=False)
glue("trap_exact", round(fraction_exact(trap_scores) * len(X)), display=False)
glue("trap_confirmed", len(confirmed), display=False)
glue("trap_conf_exact", int((psnr[slot_truth[confirmed]] > EXACT_PSNR_DB).sum()), display=False)
glue("trap_ms", f"{1000 * trap_breach.seconds:.0f}", display=False)
fig = plot_breach_grid(X, trap_breach.images, trap_scores,
                       title="Trap weights, 1024 rows: the same 64 photo tiles")'''),
    md(r"""With {glue:text}`trap_rows` trap rows the server gets {glue:text}`trap_exact` of the 64
tiles ({glue:text}`trap_frac`) in {glue:text}`trap_ms` ms. {glue:text}`trap_confirmed` of its
readings were confirmed by two rows or more, and {glue:text}`trap_conf_exact` of those are
exact: the attacker knows which of its images to trust. The price of doing without a
statistic is rows: the next cell gives both attacks the same number of rows for the batch of
64."""),
    code('''budgets = (128, 256, 512, 1024, 2048, 4096) if not QUICK else (256, 1024)
curves = {"imprint (bins)": [], "trap weights (rows)": []}
for rows in tqdm(budgets, desc="rows"):
    server = imprint_model(net, public, bins=rows)
    got = imprint_attack(Participant(server.model).fedsgd(PrivateBatch(X, y)), server)
    curves["imprint (bins)"].append(fraction_exact(score_images(got.images, X)))
    server = trap_model(net, public, rows=rows, images=len(X))
    got = trap_attack(Participant(server.model).fedsgd(PrivateBatch(X, y)), server)
    curves["trap weights (rows)"].append(fraction_exact(score_images(got.images, X)))

fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
for name, fractions in curves.items():
    ax.plot(budgets, fractions, "o-", label=name)
ax.set_xscale("log", base=2)
ax.set_xticks(budgets, [str(b) for b in budgets])
ax.set_ylim(0, 1)
ax.set_xlabel("rows of the malicious block")
ax.set_ylabel(f"fraction above {EXACT_PSNR_DB:.0f} dB")
ax.set_title("64 photo tiles: what each row buys")
ax.legend()
glue("rows_imprint_top", pct(curves["imprint (bins)"][-1]), display=False)
glue("rows_trap_top", pct(curves["trap weights (rows)"][-1]), display=False)
glue("rows_top", budgets[-1], display=False)'''),
    md(r"""At {glue:text}`rows_top` rows the imprint gets {glue:text}`rows_imprint_top` of the
tiles and the traps {glue:text}`rows_trap_top`. Binning by a statistic uses rows more
efficiently, because every image lands in exactly one bin; a trap row catches a random set of
images, and many of them catch none or several. On the other hand the traps need nothing to
match: no statistic whose public distribution must resemble the private one, and no ordering
of rows that gives the block away, as the next section shows."""),
    md(r"""## What a participant can check

The participant receives the model before it trains, and can look at it. `dlgtut` implements
three checks, from the cheapest to the most thorough:

* **the architecture**: compare the parameters with the architecture the federation agreed on.
  An inserted block shows at once, but a server can instead rewrite a layer the architecture
  already has (the first fully connected layer of many models has room for a thousand rows);
* **parallel rows**: an imprint's rows all measure the same direction, with different biases.
  Random trap rows are never parallel;
* **an audit of its own update**: before sending, run the closed-form read-out on the update,
  row by row and, for parallel rows, neighbour by neighbour, and compare what comes out with
  the private batch. If an image comes back above 40 dB, the update gives it away, whatever the
  server intended. This uses the private batch, which is allowed: the participant checks
  itself."""),
    code('''batch = PrivateBatch(X, y)
rows = []
for name, model in (("the agreed LeNet", net), ("imprint, 256 bins", lure.model),
                    ("trap weights, 1024 rows", trap.model)):
    start = time.perf_counter()
    audit = audit_update(Participant(model).fedsgd(batch), batch)
    seconds = time.perf_counter() - start
    changes = architecture_changes(model, net)
    rows.append((name, "changed" if changes else "as agreed",
                 "yes" if parallel_rows(model) else "no",
                 f"{int(audit.leaked.sum())} of {len(X)}", f"{seconds:.2f}"))
table(rows, ["model received", "architecture", "parallel rows", "audit: images given away",
             "audit seconds"])
assert rows[0][3] == f"0 of {len(X)}" and not rows[1][3].startswith("0 ")
glue("audit_imprint", rows[1][3], display=False)
glue("audit_trap", rows[2][3], display=False)
print(architecture_changes(lure.model, net)[-1])'''),
    md(r"""The honest model passes everything. Both malicious models fail the architecture check,
which is only as good as the agreement behind it; only the imprint fails the parallel-row
check; and the audit catches both, {glue:text}`audit_imprint` and {glue:text}`audit_trap` of the
images, about what each attack takes. The audit is cheap, but it is not complete: it reads
fully connected layers that see whole images, so a block written as a convolution, or one that
reads the image after an invertible first layer, needs an audit of its own. A participant that
refuses also tells the server something. Still, every attack in this chapter dies against the
checks, and a real deployment should run them: the model a participant receives is input
from an untrusted party."""),
    md(r"""## Noise on the update

A participant can also make what it sends useless to the read-out without looking at the
model. Plain Gaussian noise of a fixed variance does not do it against this server, because
the server chooses how large its block's gradients are: dividing the block's rows by a number
and multiplying its readout by the same number leaves the model's function unchanged and makes
the block's gradients that many times larger (`imprint_model(..., scale=...)`). Here is the
same noise on the updates of three imprints that differ only in that scale, with the fraction
of the 64 tiles that come back above 40 dB, and above 20 dB (blurred but recognisable)."""),
    code('''variances = (1e-12, 1e-10, 1e-8, 1e-6) if not QUICK else (1e-12, 1e-8)
scales = (1.0, 1e3, 1e6) if not QUICK else (1.0, 1e6)
noise_rows, noise = [], {}
for scale in scales:
    server = imprint_model(net, public, bins=256, scale=scale)
    assert torch.allclose(server.model(X), lure.model(X), atol=1e-5)  # the same function
    clean = Participant(server.model).fedsgd(batch)
    for v in variances:
        got = score_images(imprint_attack(gaussian_noise(clean, v, seed=0), server).images, X)
        noise[scale, v] = fraction_exact(got)
        noise_rows.append((f"{scale:g}", f"{v:g}", pct(noise[scale, v]),
                           pct(fraction_exact(got, 20))))
table(noise_rows, ["block scale", "noise variance", "above 40 dB", "above 20 dB"])
glue("noise_small", pct(noise[1.0, 1e-8]), display=False)
glue("noise_big", pct(noise[max(scales), 1e-8]), display=False)
glue("noise_scale", f"{max(scales):.0e}", display=False)'''),
    md(r"""Noise of variance $10^{-8}$ leaves nothing of the plain imprint
({glue:text}`noise_small` above 40 dB) and {glue:text}`noise_big` when the server scales its
block by {glue:text}`noise_scale`: whatever noise a participant picks, the server can pick a
larger scale, and the participant cannot tell from the model's outputs.

Differential privacy does not have this weakness. DP-SGD {cite:p}`abadi2016deep` clips every
example's gradient to norm $C$ before adding noise of standard deviation $\sigma C$, so no choice
of the server can make an image's contribution larger than $C$. Two things follow. Clipping
alone, $\sigma = 0$, does not help at all: it multiplies each image's gradient by a number,
which the ratio cancels. And the noise is measured against $C$, which the image's gradient
shares among all the rows it fires (about half of them in this imprint), so little noise
is enough. Here DP-SGD (Opacus) computes the participant's update of the 64 tiles on the
256-bin imprint, at scale 1 and at the largest scale above (which lets the block take most of
each image's clipped norm), with $C = 1$."""),
    code('''sigmas = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0) if not QUICK else (0.0, 1e-3)
servers = {scale: imprint_model(net, public, bins=256, scale=scale) for scale in (1.0, max(scales))}
dp_rows, dp = [], {}
for sigma in tqdm(sigmas, desc="sigma"):
    for scale, server in servers.items():
        noisy = dp_sgd_update(server.model, batch, noise_multiplier=sigma, max_grad_norm=1.0,
                              seed=0)
        got = score_images(imprint_attack(noisy, server).images, X)
        dp[sigma, scale] = (fraction_exact(got), fraction_exact(got, 20))
    epsilon = dp_epsilon(sigma, 1.0, 1, 1e-5)  # one step on the whole batch
    dp_rows.append((f"{sigma:g}", "none" if not np.isfinite(epsilon) else f"{epsilon:.3g}",
                    *(f"{pct(dp[sigma, s][0])} / {pct(dp[sigma, s][1])}" for s in servers)))
table(dp_rows, ["noise multiplier", "epsilon of this round (delta 1e-5)",
                "scale 1: above 40 / 20 dB", f"scale {max(scales):.0e}: above 40 / 20 dB"])
stopped = [s for s in sigmas if all(dp[s, scale][0] == 0 for scale in servers)]
glue("dp_clip_only", pct(dp[0.0, 1.0][0]), display=False)
glue("dp_first", f"{min(stopped):g}" if stopped else "none in the grid", display=False)
glue("dp_first_eps", f"{dp_epsilon(min(stopped), 1.0, 1, 1e-5):.2g}" if stopped else "-",
     display=False)
glue("dp_eps_one", f"{dp_epsilon(1.0, 1.0, 1, 1e-5):.1f}", display=False)
assert dp[0.0, 1.0][0] > 0.5 and stopped  # clipping alone leaks; some noise stops it'''),
    md(r"""With clipping only, {glue:text}`dp_clip_only` of the images still come back exactly,
as many as without DP. From a noise multiplier of {glue:text}`dp_first` on, nothing comes back
exactly at either scale, although the $\varepsilon$ of such a round, {glue:text}`dp_first_eps`,
promises nothing: what stops the read-out is that each row carries so little of each clipped
image that a little noise drowns it, not the privacy accounting. The guarantee starts where
$\varepsilon$ is small: a multiplier of 1 gives $\varepsilon$ = {glue:text}`dp_eps_one` for
this one round, and costs accuracy, as the defences chapter measured. Two caveats. A server
aware of DP would build a block in which an image fires one row instead of half of them (the
"sparse" imprint of {cite:t}`fowl2022robbing`), which tolerates more noise (exercise 1);
against such a server only a small $\varepsilon$ protects. And this defence is the
participant's own: it does not depend on the server being honest about anything."""),
    md(r"""## Summary

- A server that chooses the model can read private images off an update in closed form:
  the weight gradient of a row that one image activates, divided by its bias gradient, is that
  image, exact to float rounding.
- Robbing the Fed's imprint bins images by brightness at quantiles of public data: with 256
  bins, {glue:text}`b64_exact` of a batch of 64 photo tiles come back above 40 dB in
  {glue:text}`b64_ms` ms; four bins per image recover {glue:text}`bins4_min` to
  {glue:text}`bins4_max` of batches from {glue:text}`size_min` to {glue:text}`size_max` digits.
- Secure aggregation does not stop it: {glue:text}`sa_k8` of 8 participants' 64 digits come
  back from their mean, and {glue:text}`sa_kmax_frac` of {glue:text}`sa_kmax` participants'
  when the server scales its block.
- Trap weights get {glue:text}`trap_frac` of the same photos with {glue:text}`trap_rows` random
  rows, without any statistic, and tell the attacker which readings to trust.
- A participant can check what it receives: the architecture, parallel rows, and an audit of
  its own update, which catches both attacks here; none of the checks is complete.
- Noise of a fixed size loses to a server that scales its block; DP-SGD's clipping bounds what
  any block can get, and a noise multiplier of {glue:text}`dp_first` already stops exact
  recovery here, long before its $\varepsilon$ means anything.

## Exercises

1. Build the *sparse* imprint of {cite:t}`fowl2022robbing`: each row fires only inside its
   own bin (a hard-tanh of the shifted statistic instead of a ReLU), so an image touches one
   row. Repeat the DP-SGD table. How much more noise does it take to stop the read-out?
2. Give the participants non-IID data: batches of 64 tiles all cut from two photos. What
   happens to the bins, and to the fraction recovered, when the public brightness no longer
   matches the private one?
3. Hide an imprint in an existing layer instead of inserting one: take a model whose first
   layer is `nn.Linear(3072, 512)` and overwrite 256 of its rows. Which of the three checks
   still catches it?
4. Run `python -m dlgtut leak --attack imprint --dataset digits --batch-size 256` and again
   with `--statistic random`. Explain the difference with the number of distinct bins the
   command reports.
5. The audit compares the readings with the private batch at 40 dB. Lower the threshold to
   20 dB and run it on an honest model whose first layer is fully connected, with a batch of
   1 and of 64. What does it say about honest models?"""),
]

if __name__ == "__main__":
    write_notebook(cells, "book/malicious_server.ipynb")
