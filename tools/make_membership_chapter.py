"""Write book/membership_inference.ipynb (without outputs) from the cells below.

The notebook is the chapter's source of truth once written; this script records how it was
laid out and is kept so that large edits stay reviewable. Cell ids are fixed, so rewriting the
notebook changes only what changed. Run: .venv/bin/python tools/make_membership_chapter.py
"""

from nbtools import COLAB, code, md, write_notebook

cells = [
    md(r"""(chapter-membership)=
# Membership inference

Sometimes the fact that a record was used is the secret. A model trained on the patients of a
cancer clinic reveals that a person has cancer if it reveals that the person's record was in
its training set; a keyboard model trained on a user's messages reveals that a sentence was
typed on that phone. *Membership inference* asks exactly this question: given a model and a
record, was the record part of the training data?

It is also the yardstick of privacy in machine learning. An attack that cannot even tell
whether a record was used cannot reconstruct it either, and differential privacy, the formal
guarantee behind private training, is a bound on how well any membership attack can do. This
chapter runs the three attacks that shaped the field, the loss threshold of
{cite:t}`yeom2018privacy`, the shadow models of {cite:t}`shokri2017membership`, and the
likelihood-ratio attack (LiRA) of {cite:t}`carlini2022membership`, on real handwritten digits;
measures them the way the field now does, by the true-positive rate at a low false-positive
rate; shows how their power follows overfitting; and then asks the same question of what
federated learning shares: the global models of every round, and a single participant's
update."""),
    code(COLAB),
    code('''import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from myst_nb import glue
from scipy.stats import norm

from dlgtut.attacks.membership import (
    Recipe,
    example_loss,
    lira_attack,
    lira_scores,
    lira_statistics,
    logit_confidence,
    loss_attack,
    plot_score_histogram,
    shadow_benchmark,
    shokri_attack,
    train_shadows,
    train_target,
)
from dlgtut.attacks.membership_fl import (
    confidence_gain,
    global_model_confidences,
    gradient_alignment,
    update_loss_change,
)
from dlgtut.data import load_dataset
from dlgtut.diagrams import draw_attack
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.roc import plot_roc, roc_summary
from dlgtut.server import accuracy, federated_training, split_among
from dlgtut.training import MLP

QUICK = os.environ.get("DLGTUT_QUICK") == "1"  # reduced mode: fewer shadow models and rounds
torch.manual_seed(0)
torch.set_num_threads(1)  # tiny models: threads only wait for each other on a busy machine


def table(rows, header):
    """Show rows as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    display(Markdown("\\n".join(lines)))


def pct(x):
    """A rate as a percentage with one decimal."""
    return f"{100 * x:.1f} %"'''),
    md(r"""## The threat model

The attacker holds a *candidate* record $(x, y)$ and wants to know whether the target model
was trained on it. In the setting of {cite:t}`carlini2022membership`, which we follow, the
attacker

- can query the target: it sends a candidate and sees the model's output (here its logits);
- knows how the target was trained (architecture, optimiser, epochs, the size of the training
  set), but not on which records;
- has data from the same distribution, including the candidates themselves, on which it can
  train models of its own (*shadow models*).

It does not see the training set, and nothing it computes uses the answer. In `dlgtut` the
answer, the target's `members`, lives in a `TargetRun` next to the logits the attacker may
query, and the attacks' signatures have no place for it: ground truth enters only in
`roc_summary`.

In federated learning the same question has more to work with. Every participant receives the
global model of every round, not one final model, and the server (or, in decentralised
learning, a neighbour) receives each participant's update, which is computed from that
participant's batch and nothing else {cite:p}`melis2019exploiting,nasr2019comprehensive`."""),
    code('''fig = draw_attack("membership")'''),
    md(r"""## An overfit target

The candidates are {glue:text}`n_candidates` handwritten digits from scikit-learn, drawn at
random. The target, an MLP with one hidden layer of {glue:text}`hidden` units, is trained with
Adam for {glue:text}`epochs` epochs on a random half of them, the *members*; the other half
are the *non-members*. `train_target` draws the half and trains; it also records the target's
logits after some earlier epochs, which we will use to follow the attacks through training
(with seeded shuffling, the model after $e$ of 100 epochs is the model a 100-epoch recipe
trained for $e$ epochs would give)."""),
    code('''digits = load_dataset("digits", size=8)
n_members = 200
order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
candidates = digits.subset(order[: 2 * n_members])
labels = candidates.labels.numpy()

recipe = Recipe(hidden=(256,), epochs=100, lr=1e-3, batch_size=64)
checkpoints = (1, 2, 5, 10, 20, 50, 100)
target = train_target(candidates, recipe, seed=0, record_epochs=checkpoints)
logits = target.logits[recipe.epochs]  # what the attacker's queries return
members = target.members  # ground truth, for the metrics only
train_acc, test_acc = target.accuracy(labels)
table([("members (training set)", n_members, pct(train_acc)),
       ("non-members", len(candidates) - n_members, pct(test_acc))],
      ["candidates", "count", "accuracy of the target"])
glue("n_candidates", len(candidates), display=False)
glue("n_members", n_members, display=False)
glue("checkpoints", ", ".join(str(e) for e in checkpoints), display=False)
glue("hidden", recipe.hidden[0], display=False)
glue("epochs", recipe.epochs, display=False)
glue("train_acc", pct(train_acc), display=False)
glue("test_acc", pct(test_acc), display=False)
glue("gap", pct(train_acc - test_acc), display=False)'''),
    md(r"""The target classifies all of its members right ({glue:text}`train_acc`) and
{glue:text}`test_acc` of the non-members: a generalisation gap of {glue:text}`gap`. That gap
is what the first attack exploits.

## The loss threshold

{cite:t}`yeom2018privacy` observe that a model fits its training examples better than
others, so a member's loss is lower. Their attack calls a candidate a member when the target's
loss on it is below a threshold, for instance the average training loss, and they prove that
the advantage of such attacks is tied to the generalisation gap. `loss_attack` returns minus
the loss as the score (higher: more likely a member); the ROC curve then sweeps every
threshold."""),
    code('''losses = example_loss(logits, labels)
scores = {"loss threshold": loss_attack(logits, labels)}
fig = plot_score_histogram(losses, members, log=True, xlabel="the target's loss",
                           title="Loss of the target on each candidate")
yeom = losses < losses[members].mean()  # Yeom's threshold: the mean training loss
summary = {"loss threshold": roc_summary(scores["loss threshold"], members)}
glue("loss_auc", f"{summary['loss threshold'].auc:.2f}", display=False)
glue("loss_tpr1", pct(summary["loss threshold"].tpr_at_1pct_fpr), display=False)
glue("yeom_tpr", pct(yeom[members].mean()), display=False)
glue("yeom_fpr", pct(yeom[~members].mean()), display=False)'''),
    md(r"""Members' losses sit lower, but most non-members are digits the model classifies
right with high confidence too, and the two histograms overlap. With Yeom's threshold, the
mean training loss, the attack flags {glue:text}`yeom_tpr` of the members and
{glue:text}`yeom_fpr` of the non-members. Over all thresholds its AUC is
{glue:text}`loss_auc`.

That number hides what matters. {cite:t}`carlini2022membership` point out that an attack which
is right on average, by accusing half the population of being members, is useless against any
individual. What counts is whether it can pick out *some* members with confidence: the
true-positive rate at a false-positive rate of 1 % or 0.1 %. At 1 % false positives the loss
threshold finds {glue:text}`loss_tpr1` of the members, where guessing finds 1 %. The
members with the lowest loss are the easy digits, and easy non-members have losses just as
low.

## Shadow models

{cite:t}`shokri2017membership` learn the difference instead of assuming it. The attacker
trains *shadow models* the way the target was trained, on data whose membership it knows, and
then trains an *attack classifier* on the shadows' outputs: prediction vector in, member or
not out, one classifier per class. Applied to the target's outputs, it gives the score.

`train_shadows` trains {glue:text}`n_shadows` shadow models, each on a random half of the
candidates, such that every candidate is a member of exactly half of them; `shokri_attack`
trains one gradient-boosting classifier per digit on their softmax outputs."""),
    code('''n_shadows = 16 if QUICK else 64
shadows = train_shadows(candidates, recipe, n_shadows, seed=1, record_epochs=checkpoints)
print(f"{n_shadows} shadow models trained in {shadows.seconds:.1f} s")
scores["shadow models"] = shokri_attack(logits, labels, shadows)
summary["shadow models"] = roc_summary(scores["shadow models"], members)
glue("n_shadows", n_shadows, display=False)
glue("shokri_auc", f"{summary['shadow models'].auc:.2f}", display=False)
glue("shokri_tpr1", pct(summary["shadow models"].tpr_at_1pct_fpr), display=False)'''),
    md(r"""The attack classifier reaches an AUC of {glue:text}`shokri_auc` and a TPR of
{glue:text}`shokri_tpr1` at 1 % FPR. It learns, for each class, which prediction vectors
members produce; but it still applies one rule to every candidate of a class, and some digits
are simply harder than others.

## The likelihood-ratio attack

{cite:t}`carlini2022membership` make the test per candidate. For one candidate, compare the
models trained *with* it (IN) and the models trained *without* it (OUT): if the target's output
on the candidate looks like the IN models' outputs, it is probably a member. LiRA makes this a
likelihood-ratio test in three steps:

1. Measure the model's confidence in the right label by its *logit-scaled* probability,
   $\phi = \log \frac{p_y}{1 - p_y}$. Probabilities pile up near 1, where they cannot be told
   apart; $\phi$ spreads them over the whole real line, and over shadow models it is close to
   Gaussian. (`logit_confidence` computes it as $z_y - \log\sum_{k \ne y} e^{z_k}$ from the
   logits $z$, which stays exact where $p_y$ rounds to 1.)
2. Fit a Gaussian to the IN shadows' $\phi$ and one to the OUT shadows' $\phi$ of the candidate
   (`lira_statistics`). With few shadows, one variance shared by all candidates is steadier
   than each candidate's own.
3. Score the target's $\phi$ by the log likelihood ratio
   $\log \mathcal N(\phi; \mu_{in}, \sigma_{in}^2) - \log \mathcal N(\phi; \mu_{out},
   \sigma_{out}^2)$ (*online*), or, when the attacker cannot train models on the candidate,
   by how far $\phi$ lies above the OUT Gaussian alone, a one-sided test (*offline*).

Here are the shadows' $\phi$ for three candidates, with the target's:"""),
    code('''phi_shadows = logit_confidence(shadows.at(None), labels)  # n_shadows x candidates
phi_target = logit_confidence(logits, labels)
stats = lira_statistics(phi_shadows, shadows.keep)
separation = (stats.mu_in - stats.mu_out) / stats.sd_out
llr = lira_scores(phi_target, stats)
apart = separation > 2  # IN and OUT far apart: the test can decide
picks = {"a member": int(np.argmax(np.where(members & apart, llr, -np.inf))),
         "a non-member": int(np.argmin(np.where(~members & apart, llr, np.inf))),
         "an easy member": int(np.argmin(np.where(members, np.abs(separation), np.inf)))}
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
for ax, (title, n) in zip(axes, picks.items()):
    keep = shadows.keep[:, n]
    grid = np.linspace(min(phi_shadows[:, n].min(), phi_target[n]) - 2,
                       max(phi_shadows[:, n].max(), phi_target[n]) + 2, 200)
    for side, mask, mu, sd, colour in (("IN", keep, stats.mu_in, stats.sd_in, "#c62828"),
                                       ("OUT", ~keep, stats.mu_out, stats.sd_out, "#1565c0")):
        ax.hist(phi_shadows[mask, n], bins=12, density=True, alpha=0.35, color=colour)
        ax.plot(grid, norm.pdf(grid, mu[n], sd[n]), color=colour, label=f"{side} shadows")
    ax.axvline(phi_target[n], color="black", ls="--", label="target")
    ax.set_title(f"{title} (digit {labels[n]})")
    ax.set_xlabel(r"$\\phi = \\log\\, p_y / (1 - p_y)$")
    ax.set_yticks([])
axes[0].set_ylabel("density over shadow models")
axes[0].legend(fontsize=8)
fig.tight_layout()'''),
    md(r"""For the first candidate, training on it lifts $\phi$ far above where the OUT models
leave it, and the target's $\phi$ lies on the IN side: a confident "member". The second is a
non-member whose IN and OUT Gaussians are also far apart, and the target's $\phi$ lies on the
OUT side. For the third, an easy digit, the models are about as confident
whether or not they saw it, the Gaussians overlap, and no test can tell. A global threshold
treats all three alike; LiRA judges each against its own reference."""),
    code('''for variant in ("online", "offline"):
    name = f"LiRA {variant}"
    scores[name] = lira_attack(logits, labels, shadows, variant=variant)
    summary[name] = roc_summary(scores[name], members)
fig = plot_roc(summary, title=f"{len(candidates)} candidates, one target")
table([(name, f"{r.auc:.3f}", pct(r.tpr_at_1pct_fpr), pct(r.balanced_accuracy))
       for name, r in summary.items()],
      ["attack", "AUC", "TPR at 1 % FPR", "best balanced accuracy"])
for key, name in (("online", "LiRA online"), ("offline", "LiRA offline")):
    glue(f"lira_{key}_auc", f"{summary[name].auc:.2f}", display=False)
    glue(f"lira_{key}_tpr1", pct(summary[name].tpr_at_1pct_fpr), display=False)'''),
    md(r"""On the log-log ROC curve the difference is where it matters, at the left. Online
LiRA reaches an AUC of {glue:text}`lira_online_auc` and finds {glue:text}`lira_online_tpr1` of
the members at 1 % FPR, against {glue:text}`loss_tpr1` for the loss threshold; the offline
variant, which never trains on the candidate, reaches {glue:text}`lira_offline_auc` and
{glue:text}`lira_offline_tpr1`.

One target with {glue:text}`n_members` non-members cannot measure a false-positive rate of
0.1 %: a single false positive is already {glue:text}`one_fp`, and the curve's left end is a
few lucky candidates. {cite:t}`carlini2022membership` therefore evaluate on many targets. Our shadow
models are such targets: `shadow_benchmark` lets each of them play the target once, attacked
with the others, and pools the scores."""),
    code('''pooled = {
    "loss threshold": roc_summary(*shadow_benchmark(shadows, labels, attack="loss")),
    "LiRA online": roc_summary(*shadow_benchmark(shadows, labels, variant="online")),
    "LiRA offline": roc_summary(*shadow_benchmark(shadows, labels, variant="offline")),
}
fig = plot_roc(pooled, title=f"{n_shadows} targets, pooled")
table([(name, f"{r.auc:.3f}", pct(r.tpr_at_0_1pct_fpr), pct(r.tpr_at_1pct_fpr))
       for name, r in pooled.items()],
      ["attack", "AUC", "TPR at 0.1 % FPR", "TPR at 1 % FPR"])
glue("pooled_negatives", f"{pooled['LiRA online'].negatives:,}", display=False)
glue("one_fp", pct(1 / summary["LiRA online"].negatives), display=False)
for key, name in (("loss", "loss threshold"), ("online", "LiRA online"),
                  ("offline", "LiRA offline")):
    glue(f"pooled_{key}_auc", f"{pooled[name].auc:.2f}", display=False)
    glue(f"pooled_{key}_tpr1", pct(pooled[name].tpr_at_1pct_fpr), display=False)
    glue(f"pooled_{key}_tpr01", pct(pooled[name].tpr_at_0_1pct_fpr), display=False)'''),
    md(r"""With {glue:text}`pooled_negatives` non-members the left of the curve is measured.
At 0.1 % FPR online LiRA identifies {glue:text}`pooled_online_tpr01` of the members, the
offline variant {glue:text}`pooled_offline_tpr01` and the loss threshold
{glue:text}`pooled_loss_tpr01`; at 1 % FPR, {glue:text}`pooled_online_tpr1`,
{glue:text}`pooled_offline_tpr1` and {glue:text}`pooled_loss_tpr1`. The loss threshold's AUC of
{glue:text}`pooled_loss_auc` is not zero information, but none of it is about individuals.

The test suite runs this notebook; these checks make it fail if the key results change."""),
    code('''assert train_acc == 1.0 and train_acc - test_acc >= 0.03, "the target should overfit"
assert summary["loss threshold"].auc > 0.55
assert summary["shadow models"].auc > 0.6
assert summary["LiRA online"].auc > 0.65 and summary["LiRA offline"].auc > 0.65
assert pooled["LiRA online"].tpr_at_1pct_fpr > 0.03, "LiRA should beat chance at 1 % FPR"
assert pooled["LiRA online"].tpr_at_1pct_fpr > 3 * pooled["loss threshold"].tpr_at_1pct_fpr'''),
    md(r"""## Leakage follows overfitting

Membership leaks because the model fits its members more than the data in general. Two knobs
turn that up: training longer, and training on less data. The models were recorded after
{glue:text}`checkpoints` epochs, so we can replay the attacks on every one of them (pooled over
the targets as above)."""),
    code('''curves = {"loss threshold": [], "LiRA online": []}
fits, separation = [], []
for e in checkpoints:
    z = shadows.at(e)
    right = z.argmax(-1) == labels
    fits.append((right[shadows.keep].mean(), right[~shadows.keep].mean()))
    st = lira_statistics(logit_confidence(z, labels), shadows.keep)
    shift = (st.mu_in - st.mu_out) / st.sd_out  # per candidate, in standard deviations
    separation.append(((shift > 1).mean(), (shift > 2).mean()))
    curves["loss threshold"].append(
        roc_summary(*shadow_benchmark(shadows, labels, attack="loss", epoch=e)))
    curves["LiRA online"].append(roc_summary(*shadow_benchmark(shadows, labels, epoch=e)))
fits, separation = np.array(fits), np.array(separation)

fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
for k, name in enumerate(("members (train)", "non-members (test)")):
    axes[0, 0].plot(checkpoints, 100 * fits[:, k], marker="o", label=name)
axes[0, 0].set_ylabel("accuracy (%)")
axes[0, 0].set_title("The models: accuracy")
for k, (sds, colour) in enumerate(((1, "#ab47bc"), (2, "#4a148c"))):
    axes[0, 1].plot(checkpoints, 100 * separation[:, k], marker="o", color=colour,
                    label=f"by more than {sds} standard deviation{'s' * (sds > 1)}")
axes[0, 1].set_ylabel("candidates (%)")
axes[0, 1].set_title(r"The models: training on a digit raises its $\\phi$")
for name, colour in (("loss threshold", "#ef6c00"), ("LiRA online", "#1565c0")):
    axes[1, 0].plot(checkpoints, [r.auc for r in curves[name]], marker="o", color=colour,
                    label=name)
    axes[1, 1].plot(checkpoints, [100 * r.tpr_at_1pct_fpr for r in curves[name]], marker="o",
                    color=colour, label=name)
axes[1, 0].axhline(0.5, color="grey", ls=":", lw=1, label="chance")
axes[1, 0].set_ylabel("AUC")
axes[1, 0].set_title("The attacks: AUC")
axes[1, 1].axhline(1, color="grey", ls=":", lw=1, label="chance")
axes[1, 1].set_ylabel("TPR at 1 % FPR (%)")
axes[1, 1].set_title("The attacks: TPR at 1 % FPR")
for ax in axes.flat:
    ax.set_xscale("log")
    ax.set_xlabel("training epochs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.suptitle(f"Following the attacks through training ({n_shadows} models, pooled)")
fig.tight_layout()
early, mid = checkpoints.index(5), checkpoints.index(20)
glue("gap_5", pct(fits[early, 0] - fits[early, 1]), display=False)
glue("gap_20", pct(fits[mid, 0] - fits[mid, 1]), display=False)
glue("gap_100", pct(fits[-1, 0] - fits[-1, 1]), display=False)
for e, i in ((20, mid), (100, -1)):
    glue(f"separation_{e}", pct(separation[i, 1]), display=False)
for e, i in ((5, early), (20, mid), (100, -1)):
    glue(f"lira_auc_{e}", f"{curves['LiRA online'][i].auc:.2f}", display=False)
    glue(f"lira_tpr_{e}", pct(curves["LiRA online"][i].tpr_at_1pct_fpr), display=False)
    glue(f"loss_auc_{e}", f"{curves['loss threshold'][i].auc:.2f}", display=False)'''),
    md(r"""After 5 epochs the models are still learning, and members and non-members are
already classified differently: an accuracy gap of {glue:text}`gap_5`. LiRA reaches an AUC of
{glue:text}`lira_auc_5` and {glue:text}`lira_tpr_5` at 1 % FPR. The accuracy gap is
{glue:text}`gap_20` after 20 epochs and {glue:text}`gap_100` after 100, while LiRA grows from
{glue:text}`lira_auc_20` to {glue:text}`lira_auc_100` in AUC and from {glue:text}`lira_tpr_20`
to {glue:text}`lira_tpr_100` at 1 % FPR. The accuracy gap is a coarse measure of overfitting:
the extra epochs hardly change which digits the models get right, they make each model more
confident on exactly the digits it was trained on. That is what LiRA measures. The share of
candidates whose IN Gaussian lies more than two standard deviations above their OUT Gaussian
rises from {glue:text}`separation_20` after 20 epochs to {glue:text}`separation_100` after
100, and these are the members LiRA can pick out at a low FPR. The loss threshold barely moves
(AUC {glue:text}`loss_auc_5` after 5 epochs, {glue:text}`loss_auc_100` after 100), because one
threshold for all candidates cannot tell an easy non-member from a fitted member.

The second knob is the size of the training set. For each size we train a few models and let
each play the target against the others."""),
    code('''sizes = (25, 100, 400) if QUICK else (25, 50, 100, 200, 400)
n_models = 6 if QUICK else 10
by_size = []
for size in sizes:
    pool = digits.subset(order[: 2 * size])
    y_pool = pool.labels.numpy()
    models = train_shadows(pool, recipe, n_models, seed=10 + size)
    right = models.at(None).argmax(-1) == y_pool
    gap = right[models.keep].mean() - right[~models.keep].mean()
    by_size.append((size, gap, roc_summary(*shadow_benchmark(models, y_pool, attack="loss")),
                    roc_summary(*shadow_benchmark(models, y_pool))))

fig, ax = plt.subplots(figsize=(5.5, 3.6))
for k, (name, colour) in enumerate((("loss threshold", "#ef6c00"), ("LiRA online", "#1565c0"))):
    ax.plot([100 * g for _, g, *_ in by_size], [row[2 + k].auc for row in by_size],
            marker="o", color=colour, label=name)
for size, gap, loss_r, _ in by_size:
    ax.annotate(f"{size}", (100 * gap, loss_r.auc), textcoords="offset points",
                xytext=(4, -12), fontsize=8)
ax.axhline(0.5, color="grey", ls=":", lw=1, label="chance")
ax.set_xlabel("generalisation gap: train minus test accuracy (percentage points)")
ax.set_ylabel("AUC")
ax.set_title("Smaller training sets: larger gap, more leakage\\n(labels: training-set size)")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
table([(size, pct(gap), f"{lr_.auc:.2f}", f"{li.auc:.2f}", pct(li.tpr_at_1pct_fpr))
       for size, gap, lr_, li in by_size],
      ["training-set size", "gap", "AUC, loss", "AUC, LiRA online", "TPR at 1 % FPR, LiRA"])
glue("size_small", sizes[0], display=False)
glue("size_large", sizes[-1], display=False)
glue("gap_small", pct(by_size[0][1]), display=False)
glue("gap_large", pct(by_size[-1][1]), display=False)
glue("loss_auc_small", f"{by_size[0][2].auc:.2f}", display=False)
glue("loss_auc_large", f"{by_size[-1][2].auc:.2f}", display=False)
glue("lira_auc_small", f"{by_size[0][3].auc:.2f}", display=False)
glue("lira_auc_large", f"{by_size[-1][3].auc:.2f}", display=False)'''),
    md(r"""Trained on {glue:text}`size_small` digits the models have a gap of
{glue:text}`gap_small` and the loss threshold reaches an AUC of {glue:text}`loss_auc_small`
(LiRA {glue:text}`lira_auc_small`); trained on {glue:text}`size_large`, the gap shrinks to
{glue:text}`gap_large` and the AUCs to {glue:text}`loss_auc_large` and
{glue:text}`lira_auc_large`. This is the link that {cite:t}`yeom2018privacy` prove for the
threshold attack: its advantage grows with the generalisation gap. LiRA stays above it at
every size, because it also exploits members whose fit does not show in the accuracy."""),
    code('''assert curves["LiRA online"][-1].auc > curves["LiRA online"][early].auc + 0.05, \\
    "LiRA should gain with training epochs"
assert by_size[0][1] > by_size[-1][1], "a smaller training set should overfit more"
assert by_size[0][2].auc > by_size[-1][2].auc and by_size[0][3].auc > by_size[-1][3].auc, \\
    "both attacks should be stronger on the smaller training set"
assert all(li.auc > lo.auc for _, _, lo, li in by_size), "LiRA should lead at every size"'''),
    md(r"""## Membership inference in federated learning

### A participant and the global models

A participant in federated learning receives the global model of every round. Suppose it is
curious about the others' data: it holds candidate records and wants to know which of them the
other participants trained on. Every round fits the members a little more, so the global
models' confidence in a member rises round after round, while for a non-member it rises only
as far as the model generalises. An earlier global model is a free reference for how easy the
candidate is, which is what the loss threshold lacked: the score `confidence_gain` is the rise
of $\phi$ from a reference round to the last, in the spirit of the difficulty calibration of
{cite:t}`watson2022importance`.

We train an MLP with FedAvg, four participants holding {glue:text}`fl_per_participant` digits
each, for {glue:text}`fl_rounds` rounds. Participant 1 is the attacker; its candidates are the
other three participants' {glue:text}`fl_members` digits and as many digits that nobody
trained on."""),
    code('''fl_rounds = 60 if QUICK else 100
n_parts, per_part = 4, 25
pool_x, pool_y = digits.images[order[400:]], digits.labels[order[400:]]  # unseen so far
parts = split_among(pool_x[: n_parts * per_part], pool_y[: n_parts * per_part], n_parts, seed=0)
outsiders = slice(n_parts * per_part, 2 * n_parts * per_part - per_part)
net = MLP(64, 10, hidden=(256,), seed=0)
log = federated_training(net, parts, (pool_x[outsiders], pool_y[outsiders]), rounds=fl_rounds,
                         algorithm="fedavg", lr=0.1, batch_size=5, local_steps=5, seed=0,
                         record=True)
cand_x = torch.cat([x for x, _ in parts[1:]] + [pool_x[outsiders]])
cand_y = torch.cat([y for _, y in parts[1:]] + [pool_y[outsiders]])
fl_members = np.r_[np.ones(3 * per_part, bool), np.zeros(3 * per_part, bool)]
phis = global_model_confidences(net, log.states, cand_x, cand_y)  # rounds x candidates
reference = fl_rounds // 2
fl_summary = {
    "last global model: phi": roc_summary(phis[-1], fl_members),
    f"gain since round {reference}": roc_summary(confidence_gain(phis, start=reference),
                                                 fl_members),
}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for mask, name, colour in ((fl_members, "members", "#c62828"),
                           (~fl_members, "non-members", "#1565c0")):
    q = np.percentile(phis[:, mask], [25, 50, 75], axis=1)
    axes[0].plot(q[1], color=colour, label=f"{name}: median")
    axes[0].fill_between(range(len(phis)), q[0], q[2], color=colour, alpha=0.2,
                         label=f"{name}: middle half")
axes[0].axvline(reference, color="grey", ls=":", lw=1)
axes[0].set_xlabel("round")
axes[0].set_ylabel(r"$\\phi$ under the global model")
axes[0].set_title("What a participant sees")
axes[0].legend(fontsize=8)
plot_roc(fl_summary, ax=axes[1], title="Membership from the global models")
fig.tight_layout()
train_fl = accuracy(log.model, cand_x[fl_members], cand_y[fl_members])
glue("fl_per_participant", per_part, display=False)
glue("fl_rounds", fl_rounds, display=False)
glue("fl_members", 3 * per_part, display=False)
glue("fl_train", pct(train_fl), display=False)
glue("fl_test", pct(log.accuracy[-1]), display=False)
glue("fl_reference", reference, display=False)
glue("fl_last_auc", f"{fl_summary['last global model: phi'].auc:.2f}", display=False)
glue("fl_gain_auc", f"{fl_summary[f'gain since round {reference}'].auc:.2f}", display=False)'''),
    md(r"""The final global model classifies {glue:text}`fl_train` of the other participants'
digits right and {glue:text}`fl_test` of the outsiders. The members' confidence pulls away from
the outsiders' round after round. The last global model's confidence alone separates them with
an AUC of {glue:text}`fl_last_auc`; the rise of the confidence since round
{glue:text}`fl_reference`, which only a participant who kept the earlier models can compute,
gives {glue:text}`fl_gain_auc`. With {glue:text}`fl_members` outsiders the curve says nothing
reliable below an FPR of a few percent. With more participants each member's share of the
average update shrinks, and so, we expect, does the signal (exercise 5 measures it).

### The server and one update

The server sees more: each participant's own update, round by round. A FedSGD update is the
average of the gradients of the examples in the batch, so each member's gradient is part of
it. `gradient_alignment` scores a candidate by the cosine between its own gradient, at the
model the update was computed on, and the update; `update_loss_change` by how much applying
the update lowers the candidate's loss. We attack FedSGD updates of batches of different
sizes, computed on the trained global model, each against as many digits that were not in
the batch."""),
    code('''batch_sizes = (1, 4, 16, 64)
fresh_x, fresh_y = pool_x[2 * n_parts * per_part :], pool_y[2 * n_parts * per_part :]
gen = torch.Generator().manual_seed(1)
server_rows, server_auc = [], {}
for b in batch_sizes:
    n_updates = max(3, (48 if QUICK else 128) // b)
    found = {"gradient alignment": [], "loss change": []}
    truth = []
    for _ in range(n_updates):
        idx = torch.randperm(len(fresh_y), generator=gen)[: 2 * b]
        xs, ys = fresh_x[idx], fresh_y[idx]
        update = Participant(log.model).fedsgd(PrivateBatch(xs[:b], ys[:b]))  # on the device
        found["gradient alignment"].append(gradient_alignment(update, xs, ys))  # the server
        found["loss change"].append(update_loss_change(update, xs, ys, lr=0.1))
        truth.append(np.r_[np.ones(b, bool), np.zeros(b, bool)])
    truth = np.concatenate(truth)
    res = {k: roc_summary(np.concatenate(v), truth) for k, v in found.items()}
    server_auc[b] = res
    server_rows.append((b, n_updates, len(truth), f"{res['gradient alignment'].auc:.2f}",
                        f"{res['loss change'].auc:.2f}"))
table(server_rows, ["batch size", "updates", "candidates", "AUC, gradient alignment",
                    "AUC, loss change"])
glue("server_auc_1", f"{server_auc[1]['gradient alignment'].auc:.2f}", display=False)
glue("server_auc_4", f"{server_auc[4]['gradient alignment'].auc:.2f}", display=False)
glue("server_auc_64", f"{server_auc[64]['gradient alignment'].auc:.2f}", display=False)'''),
    md(r"""A batch of one gives itself away completely (AUC {glue:text}`server_auc_1`): the
update *is* the member's gradient. The signal dilutes as the batch grows, from
{glue:text}`server_auc_4` at four examples to {glue:text}`server_auc_64` at 64, but it does
not vanish, and it needs no shadow models at all: the update itself is the reference. In
{ref}`chapter-dlg` the same update gave the whole image back; here it only has to answer yes or
no, which is why membership survives batch sizes at which reconstruction has long failed.
{cite:t}`nasr2019comprehensive` build stronger white-box attacks on the same gradients, and
{cite:t}`melis2019exploiting` show that for text models an update lists the very words in the
batch, through the non-zero rows of the embedding gradient."""),
    code('''assert fl_summary[f"gain since round {reference}"].auc > 0.6, \\
    "the global models should reveal the other participants' data"
assert server_auc[1]["gradient alignment"].auc > 0.95, "a batch of one should give itself away"
assert server_auc[1]["gradient alignment"].auc > server_auc[64]["gradient alignment"].auc
assert all(server_auc[b]["gradient alignment"].auc > 0.6 for b in (1, 4, 16))'''),
    md(r"""## What limits the attacks

- **Generalisation.** Every attack here lives on the difference between members and other
  data. A model that generalises well leaks less on average, and regularisation (weight decay,
  early stopping, more data) narrows the gap. It does not close it for everyone: LiRA kept
  finding members long after the accuracies had settled, and the records that leak most are
  the unusual ones, the ones a privacy guarantee is meant for.
- **Knowledge and cost.** Shadow-model attacks assume the attacker can train models like the
  target, on data like the target's. LiRA online trains models *on* each candidate; with a
  large target that is the dominant cost (here {glue:text}`n_shadows` small MLPs; for a
  CIFAR-10 ResNet, Carlini et al. train hundreds of models). The offline variant needs no
  model trained on the candidate and loses little here.
- **Measurement.** A TPR at 0.1 % FPR needs thousands of non-members; one small target cannot
  give it, which is why we pooled over many. Reporting AUC or accuracy alone hides that the
  loss threshold, with an AUC well above 0.5, identifies almost nobody with confidence.
- **Federated learning** adds signals, the sequence of global models and, for the server, every
  participant's update, and it dilutes them: an average over many participants and large
  batches carries less of each example. Secure aggregation {cite:p}`bonawitz2017practical`
  hides individual updates from an honest-but-curious server, but not the global models from
  the participants.
- **Differential privacy** is the defence with a guarantee: DP-SGD {cite:p}`abadi2016deep`
  clips and noises each example's gradient so that, for a privacy budget $\varepsilon$, no
  attack's TPR can exceed $e^\varepsilon$ times its FPR (plus $\delta$). That bound is exactly
  a statement about the left end of the log-log ROC curve.

## Summary

- Membership inference asks whether a record was in the training set. Report it as the field
  does: the ROC curve on log-log axes, AUC, and above all the TPR at 0.1 % and 1 % FPR.
- The loss threshold {cite:p}`yeom2018privacy` needs nothing but the target and works on
  average, with an advantage that follows the generalisation gap; at low FPR it is near
  chance.
- Shadow models {cite:p}`shokri2017membership` learn what members' outputs look like; LiRA
  {cite:p}`carlini2022membership` tests each candidate against Gaussians of its own confidence
  under models trained with and without it, and identifies members at low FPR.
- Leakage grows with training epochs and with smaller training sets, and LiRA keeps gaining
  after the accuracies have settled.
- In federated learning, a participant infers the others' members from the rise of the global
  models' confidence over the rounds, and the server infers a batch's members from one update
  by gradient alignment, strongest for small batches.

## Exercises

1. Run `python -m dlgtut membership --attack lira --out out/` and then with
   `--weight-decay 1e-3` and with `--epochs 20`. How do the AUC, the TPR at 1 % FPR and the
   train/test gap in `metrics.json` move?
2. LiRA with per-example variances (`variance="per-example"`) needs more shadow models than
   with a global variance. Plot the pooled TPR at 1 % FPR of both against the number of shadow
   models (4, 8, 16, 32, 64). Where do they cross?
3. Run the chapter's attacks on the faces (`load_dataset("faces", size=25)`, 200 crops, two
   classes). With only two classes, which attack suffers most, and why?
4. The offline variant uses a one-sided test. Replace it by the two-sided
   $-\log \mathcal N(\phi; \mu_{out}, \sigma^2_{out})$ and compare the ROC curves. Which
   candidates does the two-sided test wrongly accuse?
5. Repeat the federated experiment with 2, 4 and 8 participants holding 100 digits in total.
   How does the AUC of the confidence gain change, and what does that say about large
   federations?
6. Project: the update of a FedSGD batch is a linear combination of its members' gradients.
   Given 2B candidates that include the B members, solve for the combination by least squares
   and use the coefficients as scores. How large can the batch grow before this attack fails,
   and how does that compare with the parameter count of the model?"""),
]

write_notebook(cells, "book/membership_inference.ipynb")
