"""Write book/defenses.ipynb (without outputs) from the cells below.

The notebook is the chapter's source of truth once written; this script records how it was
laid out and is kept so that large edits stay reviewable. Cell ids are fixed, so rewriting the
notebook changes only what changed. Run: .venv/bin/python tools/make_defenses_chapter.py
"""

from nbtools import COLAB, code, md, write_notebook

cells = [
    md(r"""(chapter-defenses)=
# Defences

The previous chapters showed that a shared gradient can give away the very images it was
computed from. The obvious answer is to change what is shared: add noise to it, round it,
zero most of it, compute it on more data, or let the server see only a sum. Every one of these
defences has a price, because the update is also what trains the model: whatever hides the
private batch from an attacker hides some of it from the server too. A defence is only worth
having if the attack fails *and* the model still learns.

{cite:t}`zhu2019dlg` tried the first group of defences on their attack and reported that noise
with a variance of at least $10^{-2}$ and pruning of more than about 20 % of the gradient stop
it, while half precision does not. This chapter measures both sides of every defence on the
same data: the attack's quality on the defended update (MSE, PSNR, SSIM, and whether the label
comes back) and the test accuracy of a real federated training run in which every participant
applies the defence to every update. We then check the paper's findings against our numbers."""),
    code(COLAB),
    code('''import os

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display
from myst_nb import glue
from tqdm.auto import tqdm

from dlgtut.attacks import dlg
from dlgtut.data import load_dataset
from dlgtut.defenses import make_defense
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import score
from dlgtut.models import LeNet
from dlgtut.tradeoff import Setting, measure, plot_tradeoff
from dlgtut.viz import image_grid

QUICK = os.environ.get("DLGTUT_QUICK") == "1"  # reduced mode: fewer rounds, shorter grids
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny models: threads only wait for each other on a busy machine


def table(rows, header):
    """Show rows as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    display(Markdown("\\n".join(lines)))'''),
    md(r"""## The threat model

The attacker is the server of {cite:t}`mcmahan2017communication`'s federated learning, honest
but curious: it runs the protocol as written and then runs DLG {cite:p}`zhu2019dlg` on what it
received. It knows the public model and the public hyperparameters (batch size, learning rate,
number of local steps); it does not see the private batch. A defence is applied by the
participant *before* the update leaves its device (noise, rounding, pruning, DP-SGD), by the
way the update is computed (larger batches, several local steps), or by the protocol itself
(secure aggregation {cite:p}`bonawitz2017practical`, after which the server sees only the sum
of $K$ participants' updates). In every case the attack works on exactly what the server
receives, and ground truth enters only when we score the reconstruction.

## The setting

All measurements share one `Setting`: {glue:text}`image_size` x {glue:text}`image_size`
handwritten digits from scikit-learn, a LeNet with Tanh activations (twice differentiable, so
DLG recovers an undefended digit almost exactly), {glue:text}`participants` participants
sharing {glue:text}`train_examples` training digits, and {glue:text}`rounds` rounds of FedSGD
with the defence switched on. The attack is averaged over {glue:text}`attack_images` digits the
run never trains on, with {glue:text}`attack_iterations` DLG steps each (Inverting Gradients
{cite:p}`geiping2020inverting`, ten times as many, for several local steps). These are lighter
than `Setting`'s defaults so that the chapter runs in a couple of minutes; the command
`python -m dlgtut defend` runs any one defence at the full budget."""),
    code('''setting = Setting(rounds=40, attack_images=2, attack_iterations=50, attack_restarts=0)
grids = {
    "gaussian": (1e-4, 1e-3, 1e-2, 1e-1),
    "laplacian": (1e-4, 1e-3, 1e-2, 1e-1),
    "float16": (None,),
    "int8": (None,),
    "prune": (0.01, 0.1, 0.2, 0.3, 0.5, 0.7),
    "batch": (2, 4, 8),
    "local-steps": (2, 4),
    "secure-aggregation": (2, 4, 8),
    "dp-sgd": (0.1, 0.5, 1.0),
}
if QUICK:
    setting = setting.replace(rounds=12, attack_images=1, attack_iterations=40)
    grids.update({"gaussian": (1e-3, 1e-2, 1e-1), "laplacian": (1e-1,), "int8": (None,),
                  "prune": (0.2, 0.3, 0.7), "batch": (4,), "local-steps": (2,),
                  "secure-aggregation": (4,), "dp-sgd": (1.0,)})
for field in ("image_size", "participants", "train_examples", "rounds", "attack_images",
              "attack_iterations"):
    glue(field, getattr(setting, field), display=False)'''),
    md(r"""## The defences, step by step

Each defence is a function of the update. `make_defense` builds the transforms of a single
update; here is what Gaussian noise of variance $10^{-2}$ does to the gradient of one digit,
whose entries are themselves small."""),
    code('''digits = load_dataset("digits", size=setting.image_size)
image, label, _ = digits.subset(range(setting.train_examples, len(digits))).batch(0, 1)
secret = PrivateBatch(image, label)  # the participant's; the attacker never sees it
net = LeNet(1, 10, setting.image_size, "tanh", seed=setting.seed, init="default")
update = Participant(net).fedsgd(secret)
noisy = make_defense("gaussian", 1e-2, seed=0)(update)
rms = torch.cat([t.flatten() for t in update.tensors]).pow(2).mean().sqrt().item()
print(f"gradient RMS {rms:.4f}, noise standard deviation {1e-2 ** 0.5:.2f}")
glue("grad_rms", f"{rms:.3f}", display=False)'''),
    md(r"""The gradient's entries have a root mean square of {glue:text}`grad_rms`, while the
noise has a standard deviation of 0.1: at this variance the update is mostly noise. How much
noise defends therefore depends on the scale of the gradient, which depends on the model, its
initialisation and the loss, and a threshold taken from one paper need not carry over.

`measure(name, value, setting)` runs one defence at one strength on both sides: the attack on
defended updates of held-out digits, and a defended training run. For the defences that are
not transforms of one update it changes how the update is computed: `batch` attacks an update
of several digits (and trains with that batch size), `local-steps` attacks a FedAvg update of
several local steps, `secure-aggregation` attacks the mean of $K$ participants' single-image
updates, and `dp-sgd` computes the update with Opacus {cite:p}`abadi2016deep`, clipping each
example's gradient and adding noise, and reports the run's $\varepsilon$. The next cell
measures every defence over its grid."""),
    code('''baseline = measure("none", setting=setting)
results = {name: [measure(name, v, setting) for v in tqdm(grid, desc=name, leave=False)]
           for name, grid in grids.items()}
assert baseline.psnr > 40 and baseline.label_accuracy == 1.0  # undefended: it all leaks
glue("none_psnr", f"{baseline.psnr:.0f}", display=False)
glue("none_acc", f"{baseline.accuracy:.1%}", display=False)'''),
    md(r"""## Results on real data

Without a defence the attack recovers the digits at {glue:text}`none_psnr` dB, which is the
same image up to rounding, and the training run reaches {glue:text}`none_acc` test accuracy.
Each panel below shows one defence: the attack's PSNR (red, left axis; the dotted line at
12 dB marks where a digit is no longer recognisable) and the defended run's test accuracy
(blue, right axis; the thin line is the undefended run)."""),
    code('''fig, axes = plt.subplots(3, 3, figsize=(14, 10))
for ax, (name, points) in zip(axes.flat, results.items()):
    plot_tradeoff(points, baseline=baseline, ax=ax, title=name)
fig.suptitle("Each defence: attack PSNR (red) and test accuracy (blue) against strength")
fig.tight_layout()'''),
    md(r"""To see what the numbers mean, here is one digit reconstructed by DLG from its
update under weak and strong versions of three defences, with the reconstruction's PSNR."""),
    code('''def reconstruct(defense, value):
    """DLG on the defended update of the digit above; the image and its PSNR."""
    sent = update if defense == "none" else make_defense(defense, value, seed=0)(update)
    rec = dlg(sent, iterations=setting.attack_iterations, progress=False, seed=0, restarts=0)
    return rec.images, score(rec.images, rec.labels, image, label).psnr


cases = [("none", None), ("gaussian", 1e-4), ("gaussian", 1e-3), ("gaussian", 1e-2),
         ("prune", 0.3), ("prune", 0.7), ("float16", None)]
shown = [reconstruct(*case) for case in cases]
fig, axes = plt.subplots(1, len(cases) + 1, figsize=(1.8 * (len(cases) + 1), 2.8),
                         layout="constrained")
axes[0].imshow(image_grid(image), cmap="gray", vmin=0, vmax=1)
axes[0].set_title(f"truth (label {label.item()})", fontsize=9)
for ax, (name, value), (rec, psnr) in zip(axes[1:], cases, shown):
    ax.imshow(image_grid(rec), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{name} {'' if value is None else f'{value:g}'}\\n{psnr:.1f} dB", fontsize=9)
for ax in axes:
    ax.axis("off")
fig.suptitle("One digit (left) and its DLG reconstructions from defended updates")
glue("shown_weak_psnr", f"{shown[2][1]:.1f}", display=False)
glue("shown_noise_psnr", f"{shown[3][1]:.1f}", display=False)'''),
    md(r"""Above about 30 dB the reconstruction is the digit; around 20 dB it is a noisy but
readable copy; near 12 dB ({glue:text}`shown_weak_psnr` dB under noise of variance
$10^{-3}$) the digit's stroke is still there under heavy speckle; at
{glue:text}`shown_noise_psnr` dB, under noise of variance $10^{-2}$, it is a random pattern of
black and white pixels with no digit in it. PSNR alone draws the line at 12 dB a little too
early: a reconstruction just below it can still be read.

### Noise

The paper's central finding holds here. Gaussian noise of variance $10^{-2}$ brings the
attack down to {glue:text}`g2_psnr` dB with an SSIM of {glue:text}`g2_ssim`, and $10^{-1}$ to
{glue:text}`g1_psnr` dB; the defended run reaches {glue:text}`g2_acc` and {glue:text}`g1_acc`
test accuracy, against {glue:text}`none_acc` without noise (in runs this short, differences of
a few points are run-to-run variation, not a gain from noise). Where we differ is below
$10^{-2}$: the smallest variance in our grid that keeps the attack below 12 dB is
{glue:text}`g_defends` for Gaussian and {glue:text}`l_defends` for Laplacian noise, one step
earlier than in the paper, because our gradient is small (its RMS is
{glue:text}`grad_rms`). At $10^{-3}$, though, the SSIM is still {glue:text}`g3_ssim` and the
label comes back, so the digit is only partly hidden; $10^{-2}$ is where nothing of it
survives, as the paper found. Laplacian noise of the same variance behaves like Gaussian
noise. Averaging the updates of {glue:text}`participants` participants over many rounds
cancels much of the noise, so training barely suffers: at this scale noise is a cheap defence.
It is not a guarantee: the attacker can average the updates of a participant over rounds as
well, and nothing here bounds what leaks.

### Rounding

Half precision leaves the attack at {glue:text}`f16_psnr` dB, as in the paper: rounding to
three significant digits changes the gradient far less than the attack can tolerate. 8-bit
integers, with one scale per tensor, perturb it more and the attack reaches
{glue:text}`int8_psnr` dB, still a clear digit. Neither costs accuracy, and neither defends.

### Pruning

Here our numbers differ from the paper. Zeroing 20 % of the entries leaves the attack at
{glue:text}`p20_psnr` dB and 30 % at {glue:text}`p30_psnr` dB, and even zeroing 70 % leaves
{glue:text}`p70_psnr` dB, a readable digit, at a cost of {glue:text}`p70_cost` points of test
accuracy. The pruned entries are the smallest
ones, which carry the least information, and our Tanh LeNet's gradient of one digit is heavily
over-determined, so the remaining entries still pin the image down. On the paper's own setting
(a Sigmoid LeNet with the paper's initialisation and a 32 x 32 photo, whose gradient entries
are larger and fewer of which matter) the same pruning brings the attack close to the paper's
threshold, as exercise 3 asks you to check: the threshold belongs to a model, not to
pruning.

### Larger batches, several local steps, secure aggregation

A batch of {glue:text}`b_size` digits still leaks at {glue:text}`b8_psnr` dB, and the mean
of {glue:text}`sa_k` participants' updates under secure aggregation at
{glue:text}`sa8_psnr` dB: on 16 x 16 digits the LeNet has far more parameters than a batch has
pixels, and DLG recovers every digit of the batch. Secure
aggregation of $K$ single-image updates is, for the attack, the same problem as a batch of $K$,
which is why the two curves look alike. It also costs nothing in accuracy, because the mean is
all the server needed. These defences work when the batch is large compared with what the
model can determine, which the deep leakage chapter counted; small models and small images
are where they fail. Several local steps do more: with {glue:text}`ls_steps` local steps
Inverting Gradients, which unrolls the steps, reaches {glue:text}`ls_psnr` dB on average
and gets {glue:text}`ls_labels` of the labels right: some digits come back, others do not.

### DP-SGD

DP-SGD is the only defence here with a guarantee. With noise multiplier
{glue:text}`dp_sigma` and clipping at {glue:text}`dp_clip`, the attack falls to
{glue:text}`dp_psnr` dB and the run is $({glue:text}`dp_eps`, 10^{-5})$-differentially
private, but its accuracy drops to {glue:text}`dp_acc`: clipping every example's gradient and
adding noise to a batch of 32 is costly at this scale, where noise on the averaged update was
nearly free. Most of the cost is the clipping: at noise multiplier {glue:text}`dp_low_sigma`
the accuracy is {glue:text}`dp_low_acc`, about the same. That smallest multiplier also stops
the attack ({glue:text}`dp_low_psnr` dB), although its $\varepsilon$ of
{glue:text}`dp_low_eps` promises nothing: what stops DLG is the noise on the update (a
standard deviation of multiplier times clipping bound per entry), not the accounting. The
guarantee is what the extra cost buys."""),
    code('''def at(name, value):
    """The measured point of a defence at one strength."""
    return next(p for p in results[name] if p.value == value)


def first_defending(name):
    """The smallest strength in the grid that keeps the attack below 12 dB."""
    hits = [p.value for p in results[name] if p.psnr < 12]
    return f"{min(hits):g}" if hits else "none in the grid"


dp = max(results["dp-sgd"], key=lambda p: p.value)
dp_low = min(results["dp-sgd"], key=lambda p: p.value)
local = max(results["local-steps"], key=lambda p: p.value)
largest = {n: max(results[n], key=lambda p: p.value) for n in ("batch", "secure-aggregation")}
assert at("gaussian", 1e-1).psnr < 12  # strong noise stops the attack
assert results["float16"][0].psnr > 40  # half precision does not
assert dp.epsilon is not None and 0 < dp.epsilon < float("inf") and dp.psnr < 12
for key, point in [("g2", at("gaussian", 1e-2)), ("g1", at("gaussian", 1e-1))]:
    glue(f"{key}_psnr", f"{point.psnr:.1f}", display=False)
    glue(f"{key}_acc", f"{point.accuracy:.1%}", display=False)
glue("g_defends", first_defending("gaussian"), display=False)
glue("l_defends", first_defending("laplacian"), display=False)
glue("f16_psnr", f"{results['float16'][0].psnr:.0f}", display=False)
glue("int8_psnr", f"{results['int8'][0].psnr:.0f}", display=False)
glue("p20_psnr", f"{at('prune', 0.2).psnr:.0f}", display=False)
glue("p30_psnr", f"{at('prune', 0.3).psnr:.0f}", display=False)
glue("b8_psnr", f"{largest['batch'].psnr:.0f}", display=False)
glue("sa8_psnr", f"{largest['secure-aggregation'].psnr:.0f}", display=False)
glue("ls_steps", local.value, display=False)
glue("b_size", largest["batch"].value, display=False)
glue("sa_k", largest["secure-aggregation"].value, display=False)
glue("ls_psnr", f"{local.psnr:.0f}", display=False)
glue("dp_sigma", f"{dp.value:g}", display=False)
glue("dp_clip", f"{setting.clip:g}", display=False)
glue("dp_psnr", f"{dp.psnr:.1f}", display=False)
glue("dp_eps", f"{dp.epsilon:.1f}", display=False)
glue("dp_acc", f"{dp.accuracy:.1%}", display=False)
glue("dp_low_sigma", f"{dp_low.value:g}", display=False)
glue("dp_low_acc", f"{dp_low.accuracy:.1%}", display=False)
glue("dp_low_psnr", f"{dp_low.psnr:.1f}", display=False)
glue("dp_low_eps", f"{dp_low.epsilon:.0f}", display=False)
glue("ls_labels", f"{local.label_accuracy:.0%}", display=False)
glue("p70_psnr", f"{at('prune', 0.7).psnr:.0f}", display=False)
glue("p70_cost", f"{100 * (baseline.accuracy - at('prune', 0.7).accuracy):.1f}", display=False)
glue("g2_ssim", f"{at('gaussian', 1e-2).ssim:.2f}", display=False)
glue("g3_ssim", f"{at('gaussian', 1e-3).ssim:.2f}", display=False)'''),
    md(r"""## Summary table

One row per defence and strength: the attack's image MSE, PSNR and SSIM, the fraction of
labels it recovered, and the defended run's test accuracy ($\varepsilon$ for DP-SGD)."""),
    code('''rows = []
for p in [baseline] + [p for points in results.values() for p in points]:
    rows.append((p.defense, "-" if p.value is None else f"{p.value:g}", f"{p.mse:.4f}",
                 f"{p.psnr:.1f}", f"{p.ssim:.2f}", f"{p.label_accuracy:.0%}",
                 f"{p.accuracy:.1%}", "-" if p.epsilon is None else f"{p.epsilon:.1f}"))
table(rows, ["defence", "strength", "MSE", "PSNR (dB)", "SSIM", "labels", "test accuracy",
             "epsilon"])'''),
    md(r"""## What limits them

Every number in this chapter comes from one attack, DLG with a fixed budget, on one model.
A defence that stops this attack may not stop a better one: an attacker who averages a
participant's noisy updates over rounds, uses a prior for digits, or takes the label from the
last layer {cite:p}`zhao2020idlg` gets further. Only DP-SGD bounds *every* attack, and its
$\varepsilon$ is only meaningful when it is small; the heuristic defences come with a measured
number, not a proof. Thresholds do not transfer either: the noise that defends depends on the
gradient's scale, and the pruning fraction that defends depends on how over-determined the
model is: the paper's 20 % defends its model, and 70 % does not defend ours. Secure aggregation
protects against the server only; it assumes enough honest participants in each sum, and a
malicious server can defeat it by making all but one participant's update vanish
{cite:p}`pasquini2022eluding,fowl2022robbing`. Finally, our training runs are short and small;
on harder tasks the accuracy cost of noise and clipping is larger.

## Summary

- Noise on the update hides the digit completely from a variance of $10^{-2}$, as the paper
  found, and pushes the PSNR below 12 dB already at {glue:text}`g_defends`; it costs little
  accuracy because the server averages it away.
- Half precision and 8-bit integers do not defend; they cost nothing either.
- Pruning does not defend our model even at 70 % ({glue:text}`p70_psnr` dB); the paper's
  20 % threshold belongs to its model.
- Larger batches and secure aggregation do not defend small models on small images, where the
  update determines the whole batch; several local steps make the attack harder.
- DP-SGD stops the attack with a guarantee, $\varepsilon$ = {glue:text}`dp_eps`, and costs the
  most accuracy.

## Exercises

1. Run `python -m dlgtut defend --defense prune` at the full budget (`Setting`'s defaults).
   Does more attack effort move the pruning threshold?
2. Add noise of variance $10^{-3}$ and let the attacker average the same participant's
   update over 10 rounds in which the model does not change. How much does the PSNR recover?
3. Measure the gradient RMS of the paper's Sigmoid LeNet (`init="paper"`) on a 32 x 32 photo
   and of ours. Predict from the ratio which noise variance defends each, then check; repeat
   the pruning sweep on that model and compare its threshold with the paper's 20 %.
4. Combine two heuristic defences (pruning 30 % and int8). Is the combination better than
   either alone?
5. Fix the target $\varepsilon$ at 8 and compare the test accuracy of DP-SGD with 40 and 100
   rounds. Why does a longer run need more noise per step?"""),
]

if __name__ == "__main__":
    write_notebook(cells, "book/defenses.ipynb")
