"""Write book/property_inference.ipynb (without outputs) from the cells below.

The notebook is the chapter's source of truth once written; this script records how it was
laid out and is kept so that large edits stay reviewable. Cell ids are fixed, so rewriting the
notebook changes only what changed. Run: .venv/bin/python tools/make_property_chapter.py
"""

from nbtools import COLAB, code, md, write_notebook

cells = [
    md(r"""(chapter-property)=
# Property inference

Membership inference ({ref}`chapter-membership`) asks about one record; deep leakage
({ref}`chapter-dlg`) recovers the records themselves.
*Property inference* asks something in between: does a participant's data have a property,
one that holds for a part of its data and that the model was never meant to learn? The
federation trains a gender classifier on photos, and a participant wants to know whether
another participant's photos show people wearing glasses, or one particular person.
{cite:t}`ganju2018property` read such properties of a training set out of a trained network's
weights. {cite:t}`melis2019exploiting` did it inside collaborative learning: a participant
that receives the global model every round can tell, from the updates of the others, when a
specific person first appears in the photos that train a binary gender classifier.

The property is *unrelated to the main task*, and that is the point. The model is not asked
to detect glasses, and nobody shares anything but updates; the updates carry the property all
the same, because a network computes features of its whole input, not only of what its labels
ask for. This chapter runs the attack of {cite:t}`melis2019exploiting` on real handwritten
digits. The task is to recognise the ten digits; the property is whether a participant writes
with thick strokes. We follow the attack round by round, check it against a property that
means nothing, and measure what limits it: the number of participants, the batch size, and
how much of a batch has the property."""),
    code(COLAB),
    code('''import dataclasses
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from myst_nb import glue

from dlgtut.attacks.property import (
    PropertyAttacker,
    attack_round,
    flatten_update,
    last_layer_columns,
    observe,
    others_update,
)
from dlgtut.attacks.property_data import LabelledPool, intensity_property, split_for_property
from dlgtut.attacks.property_fl import (
    PropertyConfig,
    plot_attack_roc,
    plot_rounds,
    run_property_inference,
)
from dlgtut.data import load_dataset
from dlgtut.diagrams import draw_attack
from dlgtut.fl import Participant
from dlgtut.roc import roc_summary
from dlgtut.server import Server, aggregate
from dlgtut.training import MLP
from dlgtut.viz import image_grid

QUICK = os.environ.get("DLGTUT_QUICK") == "1"  # reduced mode: fewer rounds and draws
torch.manual_seed(0)
torch.set_num_threads(1)  # the models are tiny: threads cost more than they save
draws = dict(train_draws=300, eval_draws=100) if QUICK else dict(train_draws=600, eval_draws=200)


def table(rows, header):
    """Show rows as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    display(Markdown("\\n".join(lines)))


def pct(x):
    """A rate as a percentage with one decimal."""
    return f"{100 * x:.1f} %"


def auc_of(scores_and_truth):
    """The AUC of an attack's (scores, truth)."""
    return roc_summary(*scores_and_truth).auc'''),
    md(r"""## The threat model

The federation trains with FedSGD ({ref}`chapter-fl`): in every round each participant
computes the gradient of its batch on the current global model, the server averages the
gradients and takes a step. The adversary is one of the participants, *honest-but-curious*
and *passive*: it follows the protocol, sends honest updates, and only looks.

- It receives the global model of every round, like everyone. From two successive global
  models, the server's learning rate and its own update it computes the average update of
  everybody else ({ref}`chapter-fl` did this calculation by hand).
- It knows what the protocol makes public: the number of participants, the batch size, the
  learning rate.
- It holds *auxiliary data* of its own, labelled with the property: digits it knows to be
  written with thick or with thin strokes.

It wants to know, round by round, whether the *victim*'s batch had the property. A server, or
a neighbour in decentralised learning, sees more: the victim's update on its own. That is the
*passive single-update* case, the same attack with one update instead of an average. Both are
passive; {cite:t}`melis2019exploiting` also describe an *active* adversary that trains the
shared model on an extra task so that it represents the property better, which this chapter
leaves aside."""),
    code('''fig = draw_attack("property")'''),
    md(r"""## A property the task does not ask about

The digits are scikit-learn's 8 x 8 scans, written by dozens of people. Some wrote with a
heavier hand or a thicker pen than others. We call a digit *thick* when it has more ink (a
higher mean pixel value) than the median digit **of its own class**
(`dlgtut.attacks.property_data.intensity_property`). Because the median is taken within each
class, every digit class is split in two halves: knowing that a digit is thick says nothing
about which digit it is, and the main task has no reason to care."""),
    code('''digits = load_dataset("digits", size=8)
thick = intensity_property(digits.images, digits.labels)
ink = digits.images.mean((1, 2, 3))

# For each digit, the two thinnest and the two thickest examples.
columns = []
for c in range(10):
    members = torch.nonzero(digits.labels == c).flatten()
    order = members[ink[members].argsort()]
    columns.append(order[[0, 1, -2, -1]])
grid = torch.stack(columns, dim=1).flatten()  # rows: thinnest, thin, thick, thickest
fig, ax = plt.subplots(figsize=(8, 3.6))
ax.imshow(image_grid(digits.images[grid], nrow=10), cmap="gray")
ax.set_yticks([5 + 10 * i for i in range(4)], ["thinnest", "thin", "thick", "thickest"])
ax.set_xticks([5 + 10 * c for c in range(10)], [str(c) for c in range(10)])
ax.set_xlabel("digit class")
ax.set_title("The two thinnest (top) and the two thickest digits (bottom) of each class")
fig.tight_layout()

shares = [thick[digits.labels == c].float().mean().item() for c in range(10)]
table([(c, int((digits.labels == c).sum()), pct(s)) for c, s in enumerate(shares)],
      ["digit", "examples", "thick"])
glue("n_digits", len(digits), display=False)
glue("thick_min", pct(min(shares)), display=False)
glue("thick_max", pct(max(shares)), display=False)
glue("ink_ratio", f"{(ink[thick].mean() / ink[~thick].mean()).item():.2f}", display=False)'''),
    md(r"""Between {glue:text}`thick_min` and {glue:text}`thick_max` of every class is thick
(slightly less than half, because ink comes in steps of 1/16 and digits that tie with the
median count as thin); a thick digit has on average {glue:text}`ink_ratio` times the ink of a
thin one.

`split_for_property` deals the {glue:text}`n_digits` digits out: a test set for the main
task, the adversary's auxiliary data, the victim's data, and the data of the other honest
participants. A `LabelledPool` knows the property of each of its examples and draws batches
*with* the property, *without* it, or from the mix. A batch with the property has the same mix
of digit classes as a random batch, only thick: what tells the two apart is the property, not
the classes."""),
    code('''n_participants = 5  # the adversary, the victim and three others
split = split_for_property(digits, thick, n_others=n_participants - 2, aux_size=400,
                           victim_size=500, test_size=197, seed=0,
                           property_name="thick strokes")
table([("the adversary (auxiliary data, property known)", len(split.aux),
        pct(split.aux.has_property.float().mean())),
       ("the victim", len(split.victim), pct(split.victim.has_property.float().mean())),
       *[(f"honest participant {k + 1}", len(p), pct(p.has_property.float().mean()))
         for k, p in enumerate(split.others)],
       ("test set (main task)", len(split.test[1]), "")],
      ["who", "examples", "thick"])
batch_size = 32
glue("n_participants", n_participants, display=False)
glue("n_aux", len(split.aux), display=False)
glue("n_victim", len(split.victim), display=False)
glue("batch_size", batch_size, display=False)'''),
    md(r"""## The attack, step by step

**What the adversary observes.** One FedSGD round, written out with `dlgtut`: every
participant computes its update with `Participant.fedsgd` on a batch of
{glue:text}`batch_size`, the `Server` averages them and steps. The victim's batch has the
property this time. The adversary (participant 0) keeps the model it received and its own
update; after the round, `others_update` turns the new global model into the average update
of the other four. We compare it with what the server actually averaged."""),
    code('''lr = 0.3
net = MLP(64, 10, hidden=(64,), seed=0)  # the global model of this round
server = Server(net, lr=lr)
gen = torch.Generator().manual_seed(0)
batches = [split.aux.batch(split.aux.draw(batch_size, None, generator=gen)),  # the adversary
           split.victim.batch(split.victim.draw(batch_size, True, generator=gen))]  # thick
batches += [p.batch(p.draw(batch_size, None, generator=gen)) for p in split.others]
before = MLP(64, 10, hidden=(64,), seed=0)  # the adversary's copy of the model it received
updates = [Participant(server.model).fedsgd(b) for b in batches]
server.round(updates)

seen = others_update(before, server.model, updates[0], lr=lr,
                     total_examples=batch_size * n_participants)
truth = aggregate(updates[1:])  # what the server averaged from the other four
gap = max(float((a - b).abs().max()) for a, b in zip(seen, truth, strict=True))
observed = flatten_update(seen)
cols = last_layer_columns(before)
print(f"the others' mean update: {observed.numel():,} numbers, of which the output layer's "
      f"{cols.stop - cols.start}; largest difference from the server's: {gap:.1e}")
glue("n_params", f"{observed.numel():,}", display=False)
glue("n_last", cols.stop - cols.start, display=False)
glue("others_gap", f"{gap:.0e}", display=False)'''),
    md(r"""The recovered update matches the server's average to within
{glue:text}`others_gap`, float32 rounding. It holds {glue:text}`n_params` numbers, one per
parameter of the model: a multilayer perceptron with 64 hidden units.

**The adversary's training set.** Now the adversary needs examples of what an average update
looks like when the victim's batch was thick, and when it was thin. It makes them itself, on
the model it received: it draws a thick batch from its auxiliary data, adds three mixed
batches for the three participants it cannot see, and averages their gradients; then the same
with a thin batch. It repeats this {glue:text}`train_draws` times and trains a logistic
regression to tell the two kinds apart. `PropertyAttacker.fit` does all of it. Computing
hundreds of simulated batches would be slow one by one; the attacker instead computes the
gradient of each of its examples once (`per_example_gradients`), and every batch's update is
a mean of those rows, exactly what `Participant.fedsgd` would return.

The attacker does not classify the whole update but its output layer's part (weights and
bias, {glue:text}`n_last` numbers). The gradient of an output weight is the error at that
output times the activation of a hidden unit, and thicker strokes excite the hidden units
more. The whole update works too (`features="all"`), a little less reliably.

**Scoring.** The trained attacker turns the observed update into a score, the log-odds that
the victim's batch was thick."""),
    code('''n_seen = n_participants - 1  # updates in the average the adversary observes
attacker = PropertyAttacker(split.aux, batch_size=batch_size, n_updates=n_seen,
                            draws=draws["train_draws"], seed=0).fit(before)
score = float(attacker.score(observed)[0])
print(f"score of the round above, in which the victim's batch was thick: {score:+.2f}")

# How good is that, in general? Play the round again and again on the same model.
updates_seen, had_property = observe(before, split, n_updates=n_seen,
                                     batch_size=batch_size, draws=draws["eval_draws"],
                                     generator=torch.Generator().manual_seed(1))
first = roc_summary(attacker.score(updates_seen), had_property)
print(f"over {len(had_property)} replays of the round: AUC {first.auc:.3f}")
glue("train_draws", draws["train_draws"], display=False)
glue("first_score", f"{score:+.2f}", display=False)
glue("first_auc", f"{first.auc:.2f}", display=False)
glue("eval_draws", draws["eval_draws"], display=False)'''),
    md(r"""The score of the round above is {glue:text}`first_score` (positive: "thick"). One
round proves little, so `observe` plays the same round {glue:text}`eval_draws` times on the
same model, with fresh batches for everyone and the victim's batch thick in half of them, and
hands the adversary only the averaged updates. The attacker ranks them with an AUC of
{glue:text}`first_auc`, from an average that mixes the victim's batch with three others.

## Round by round

`run_property_inference` puts it together. The federation trains the digit classifier for
{glue:text}`rounds` rounds. The victim's batches are thin at first, thick from round
{glue:text}`window_first` to round {glue:text}`window_last`, and thin again afterwards, like
a participant whose data changes (in {cite:t}`melis2019exploiting`, a person who starts to
appear in the photos). In every round the adversary fits a new attacker on the current global
model and scores what it really observes; to measure the attack in that round we also score
{glue:text}`eval_draws` replays of it, as above, for the adversary (the others' average) and
for a server that sees the victim's single update."""),
    code('''rounds = 8 if QUICK else 30
config = PropertyConfig(rounds=rounds, batch_size=batch_size, lr=lr, seed=0, **draws)
result = run_property_inference(split, config, progress=True)
fig = plot_rounds(result, title="Property inference on digits (thick strokes), "
                  f"{n_participants} participants")

start, stop = config.window()
inside = np.array(result.run_truth)
run = np.array(result.run_scores)
glue("rounds", rounds, display=False)
glue("window_first", start + 1, display=False)
glue("window_last", stop, display=False)
glue("acc_final", pct(result.accuracy[-1]), display=False)
glue("auc_agg", f"{result.roc.auc:.2f}", display=False)
glue("auc_single", f"{result.single_roc.auc:.2f}", display=False)
glue("auc_agg_min", f"{min(result.auc_per_round):.2f}", display=False)
glue("auc_agg_max", f"{max(result.auc_per_round):.2f}", display=False)
glue("auc_single_min", f"{min(result.single_auc_per_round):.2f}", display=False)
glue("run_auc", f"{result.run_auc:.2f}", display=False)
glue("run_pos_inside", f"{int((run[inside] > 0).sum())} of {int(inside.sum())}", display=False)
glue("run_neg_outside", f"{int((run[~inside] < 0).sum())} of {int((~inside).sum())}",
     display=False)
glue("seconds", f"{result.seconds:.0f}", display=False)'''),
    md(r"""The run takes {glue:text}`seconds` s, attacks included. The federation reaches
{glue:text}`acc_final` test accuracy on the digits, and all along the updates give the
property away. The top panel shows
the AUC of every round: between {glue:text}`auc_agg_min` and {glue:text}`auc_agg_max` for the
adversary, who sees only the average of four updates, and never below
{glue:text}`auc_single_min` for a server that sees the victim's update alone. The bottom panel
is the story the adversary actually lives: one observed average per round, one score. The
score is positive in {glue:text}`run_pos_inside` rounds in which the victim's batch was thick,
and negative in {glue:text}`run_neg_outside` of the others; the adversary sees when the
property appears and when it goes away. Ranked against the truth, these
{glue:text}`rounds` scores have an AUC of {glue:text}`run_auc`.

The ROC curves pool the replays of all rounds, on log-log axes as in
{ref}`chapter-membership` {cite:p}`carlini2022membership`: what matters is the rate of true
positives when false alarms are rare."""),
    code('''fig = plot_attack_roc(result, title=f"Thick strokes, {rounds} rounds pooled")
table([(name, f"{r.auc:.3f}", pct(r.tpr_at_1pct_fpr), pct(r.tpr_at_0_1pct_fpr),
        r.positives + r.negatives)
       for name, r in (("a participant: the others' average", result.roc),
                       ("a server: the victim's update", result.single_roc))],
      ["attacker", "AUC", "TPR at 1 % FPR", "TPR at 0.1 % FPR", "updates scored"])
glue("tpr1_agg", pct(result.roc.tpr_at_1pct_fpr), display=False)
glue("tpr1_single", pct(result.single_roc.tpr_at_1pct_fpr), display=False)
glue("tpr01_single", pct(result.single_roc.tpr_at_0_1pct_fpr), display=False)'''),
    md(r"""At a false-positive rate of 1 %, the server recognises {glue:text}`tpr1_single` of
the thick batches from the victim's update alone ({glue:text}`tpr01_single` at 0.1 %). The
participant, who sees an average, still recognises {glue:text}`tpr1_agg` of them at 1 %: it
cannot be sure about one round, but a property that lasts many rounds shows through, as the
bottom panel above shows.

## Is it really the property?

An AUC above 0.5 is not yet evidence. The victim draws its batches again and again from the
same {glue:text}`n_victim` digits, and the attacker trains on batches from the same
{glue:text}`n_aux`: any chance difference between the two halves of a pool shows up in every
batch drawn from it. The honest comparison is therefore with a property that means nothing.
We shuffle the flags at random within each pool (so "thick" now marks a random half) and run
the same attack on the same model, several times."""),
    code('''mid = result.states[rounds // 2]
model = MLP(64, 10, hidden=(64,), seed=0)
model.load_state_dict(mid)
null = {1: [], n_participants - 1: []}
for trial in range(3 if QUICK else 6):
    gen = torch.Generator().manual_seed(100 + trial)

    def shuffled(pool, gen=gen):
        """The pool with its flags permuted at random: a property that means nothing."""
        return LabelledPool(pool.images, pool.labels,
                            pool.has_property[torch.randperm(len(pool), generator=gen)])

    control = dataclasses.replace(split, aux=shuffled(split.aux), victim=shuffled(split.victim))
    for n in null:
        null[n].append(auc_of(attack_round(model, control, n_updates=n, batch_size=batch_size,
                                           seed=trial, **draws)))
real = {n: auc_of(attack_round(model, split, n_updates=n, batch_size=batch_size, seed=0,
                               **draws)) for n in null}
table([(f"{n} update{'s' * (n > 1)}", f"{min(null[n]):.2f} to {max(null[n]):.2f}",
        f"{real[n]:.2f}") for n in null],
      ["the attacker sees", "AUC, random property (range)", "AUC, thick strokes"])
glue("null_rounds", rounds // 2 + 1, display=False)
glue("null_trials", len(null[1]), display=False)
glue("null_single", f"{min(null[1]):.2f} to {max(null[1]):.2f}", display=False)
glue("null_agg", f"{min(null[n_participants - 1]):.2f} to {max(null[n_participants - 1]):.2f}",
     display=False)
glue("real_single", f"{real[1]:.2f}", display=False)
glue("real_agg", f"{real[n_participants - 1]:.2f}", display=False)'''),
    md(r"""On the global model of round {glue:text}`null_rounds`, {glue:text}`null_trials`
random properties give AUCs from {glue:text}`null_single` for a single update and from
{glue:text}`null_agg` for the average: chance is not a line at 0.5 but a band, and a wide one
when batches are large compared to the pool they come from. Thick strokes, with
{glue:text}`real_single` and {glue:text}`real_agg`, lie clearly above it.

## What limits it

**The number of participants.** The adversary sees the average of everybody else's updates.
The more participants, the smaller the victim's share in it, and the more the others' batches
drown it. We keep the federation's global models and replay rounds with more and more
participants in the average (the extra participants draw their batches from the other honest
participants' data)."""),
    code('''mid_name = f"round {rounds // 2 + 1}"
snapshots = {"round 1": 0, mid_name: rounds // 2, f"round {rounds}": rounds - 1}
sizes = [2, 3, 5, 10, 20] if QUICK else [2, 3, 5, 10, 20, 30]
by_size = {}
for name, r in snapshots.items():
    model.load_state_dict(result.states[r])
    by_size[name] = [auc_of(attack_round(model, split, n_updates=k - 1, batch_size=batch_size,
                                         seed=r, **draws)) for k in sizes]

fig, ax = plt.subplots(figsize=(6.5, 4))
for name, aucs in by_size.items():
    ax.plot(sizes, aucs, marker="o", label=f"global model of {name}")
ax.axhline(0.5, color="grey", ls="--", lw=1, label="chance")
ax.set_xscale("log")
ax.minorticks_off()
ax.set_xticks(sizes, [str(k) for k in sizes])
ax.set_ylim(0.4, 1.02)
ax.set_xlabel("participants in the federation (the adversary sees the average of the others)")
ax.set_ylabel("AUC")
ax.set_title("Thick strokes: the more participants, the less the average reveals")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
glue("k_max", sizes[-1], display=False)
glue("auc_k2", f"{by_size[mid_name][0]:.2f}", display=False)
glue("auc_k5", f"{by_size[mid_name][sizes.index(5)]:.2f}", display=False)
glue("auc_k10", f"{by_size[mid_name][sizes.index(10)]:.2f}", display=False)
glue("auc_kmax", f"{by_size[mid_name][-1]:.2f}", display=False)'''),
    md(r"""With two participants the average of the others *is* the victim's update, and the
AUC is {glue:text}`auc_k2` on the model of the middle round. It falls to
{glue:text}`auc_k5` with five participants, {glue:text}`auc_k10` with ten and
{glue:text}`auc_kmax` with {glue:text}`k_max`. Aggregation protects, but slowly, and a
property that lasts many rounds adds up evidence round after round. Secure aggregation
{cite:p}`bonawitz2017practical` hides the individual updates from the server, which brings
the server down to the participant's view; it does nothing against this participant, which
only ever used the average.

**The batch size, and how much of a batch has the property.** So far the victim's batch was
either all thick or all thin. Two more knobs: the batch size (every participant's), and the
fraction of thick digits in the victim's batch when it "has" the property (the rest thin);
the attacker keeps training on all-thick against all-thin batches."""),
    code('''model.load_state_dict(mid)
batch_sizes = [4, 8, 16, 32, 64]
fractions = [1.0, 0.5, 0.25, 0.125]
single, avg = "single update (a server)", f"average of {n_participants - 1} (a participant)"
views = {single: 1, avg: n_participants - 1}
by_batch = {name: [auc_of(attack_round(model, split, n_updates=n, batch_size=b, seed=1, **draws))
                   for b in batch_sizes] for name, n in views.items()}
by_fraction = {name: [auc_of(attack_round(model, split, n_updates=n, batch_size=batch_size,
                                          fraction=f, seed=2, **draws)) for f in fractions]
               for name, n in views.items()}

fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.8), sharey=True)
for (name, aucs), colour in zip(by_batch.items(), ("#1565c0", "#c62828"), strict=True):
    left.plot(batch_sizes, aucs, marker="o", color=colour, label=name)
    right.plot(fractions, by_fraction[name], marker="o", color=colour, label=name)
left.set_xscale("log")
left.minorticks_off()
left.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
left.set_xlabel("batch size (every participant)")
left.set_ylabel("AUC")
left.set_title("Larger batches: a clearer average")
right.set_xscale("log")
right.minorticks_off()
right.set_xticks(fractions, [f"{f:g}" for f in fractions])
right.set_xlabel("share of thick digits in the victim's batch")
right.set_title(f"Batches of {batch_size}: a diluted property")
for ax in (left, right):
    ax.axhline(0.5, color="grey", ls="--", lw=1)
    ax.set_ylim(0.4, 1.02)
    ax.grid(alpha=0.3)
left.legend(fontsize=8, loc="lower right")
fig.tight_layout()
glue("auc_b4_single", f"{by_batch[single][0]:.2f}", display=False)
glue("auc_b64_single", f"{by_batch[single][-1]:.2f}", display=False)
glue("auc_b4_avg", f"{by_batch[avg][0]:.2f}", display=False)
glue("auc_b64_avg", f"{by_batch[avg][-1]:.2f}", display=False)
glue("auc_f_half_single", f"{by_fraction[single][1]:.2f}", display=False)
glue("auc_f_min_single", f"{by_fraction[single][-1]:.2f}", display=False)
glue("auc_f_min_avg", f"{by_fraction[avg][-1]:.2f}", display=False)
glue("thick_in_min", round(fractions[-1] * batch_size), display=False)'''),
    md(r"""Unlike deep leakage, which gets harder with every image added to a batch, this
attack gets *easier* with larger batches when the whole batch has the property: the
single-update AUC rises from {glue:text}`auc_b4_single` with batches of 4 to
{glue:text}`auc_b64_single` with batches of 64, and the average's from
{glue:text}`auc_b4_avg` to {glue:text}`auc_b64_avg`. The update is a mean over the batch, and
a mean of many thick digits is a clearer signal than one, while the differences between
individual digits average out. What the attack cannot survive is dilution: when only half of
the victim's batch is thick the single-update AUC drops to {glue:text}`auc_f_half_single`,
and with {glue:text}`thick_in_min` thick digits in 32 to {glue:text}`auc_f_min_single`
({glue:text}`auc_f_min_avg` for the average). A property held by a small part of one
participant's data, averaged with other participants, hides well; a property of everything a
participant holds, like a writer's hand or a hospital's scanner, does not.

The test suite runs this notebook; these checks make it fail if the key results change."""),
    code('''assert result.roc.auc > 0.75, "the others' average should reveal the property"
assert result.single_roc.auc > 0.9, "a single update should reveal it clearly"
assert result.single_roc.auc > result.roc.auc, "aggregation should hide some of it"
assert min(result.auc_per_round) > 0.6, "every round should leak"
assert result.run_auc > 0.7, "the real rounds' scores should follow the property"
assert result.accuracy[-1] > 0.5, "the federation should learn the digits"
for n in null:
    assert max(null[n]) < real[n], "thick strokes should beat every random property"
assert by_size[mid_name][0] > by_size[mid_name][-1] + 0.2, "more participants should hide more"
assert by_fraction[single][0] > by_fraction[single][-1] + 0.2, "dilution should hide more"'''),
    md(r"""## Summary

- A property that the task never asks about, here whether a digit is written with thick
  strokes, shows in the updates, because the network's features respond to the whole input.
- A passive participant of a FedSGD federation recovers the others' average update from two
  global models. With auxiliary data labelled with the property it simulates such averages
  with and without the property on the current model, trains a classifier, and scores what it
  observes, round by round; it sees when the property appears and goes away.
- A server, or a neighbour, sees each update on its own and infers the property almost
  perfectly from a single update.
- Chance is a band, not a line: batches drawn repeatedly from a finite pool carry its quirks,
  so the attack must be compared with properties that mean nothing.
- Aggregation over many participants and dilution of the property within a batch weaken the
  attack; larger batches strengthen it when the whole batch has the property.

## Exercises

1. Run the attack with `features="all"` (the whole update instead of the output layer's
   part). Which is better early in training, which later? Why might the first layer's gradient
   tell more about ink than the output layer's, and why is it harder to learn from?
2. Repeat the run with the server's learning rate at 0.5 instead of 0.3 and look at the
   rounds near the end. What happens to the scores, and why could a larger learning rate make
   the adversary's life harder?
3. In the "what limits it" section the victim's batch is thick with a fraction $f$ while the
   attacker trains on all-thick batches. Train the attacker on batches with the same fraction
   $f$ (add a `fraction` argument to `PropertyAttacker`). Does it help?
4. Combine rounds: the adversary knows the property lasts several rounds. Average its scores
   over a sliding window of five rounds and compute the AUC of the run again. How many
   participants can the federation have before this attack is back at chance?
5. Run `python -m dlgtut property --dataset faces --out runs/faces`: the task is face or not,
   the property is a bright crop. Only 200 images ship with scikit-image: repeat the control
   of this chapter with shuffled flags. How wide is the band of chance now, and what does that
   say about evaluating attacks on small datasets?
6. Project: the active attack of {cite:t}`melis2019exploiting`. Give the adversary's local
   training a second output that predicts the property on its auxiliary data (multi-task
   learning), so that the shared model learns features of the property. Does the passive
   attack of the other participants' updates get better?"""),
]

write_notebook(cells, "book/property_inference.ipynb")
