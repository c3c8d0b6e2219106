"""Write book/federated_learning.ipynb (without outputs) from the cells below.

The notebook is the chapter's source of truth once written; this script records how it was
laid out and is kept so that large edits stay reviewable. Cell ids are fixed, so rewriting the
notebook changes only what changed. Run: .venv/bin/python tools/make_fl_chapter.py
"""

from nbtools import COLAB, code, md, write_notebook

cells = [
    md(r"""(chapter-fl)=
# Federated learning and its threat models

A hospital cannot send its patients' scans to a company that trains a diagnostic model, and a
phone keyboard should not upload everything its owner types. *Federated learning* trains one
model on such data without collecting it {cite:p}`mcmahan2017communication`. The data stays
where it was created; a server sends the current model to the participants, each participant
computes an update on its own data, and only the updates travel back, to be averaged into the
next model.

Keeping the data in place is not the same as keeping it private. The updates are computed
from the data, and everyone who receives them (the server, or in decentralised learning the
neighbours) can try to read the data back out of them. This chapter builds the setting that the
rest of the book attacks. We train a model on real handwritten digits split among ten
participants, with both classic algorithms, FedSGD and FedAvg; we look at exactly what the
server and a neighbour receive; we separate honest-but-curious attackers from malicious ones;
and we map the four families of attacks that later chapters run."""),
    code(COLAB),
    code('''import os

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display
from myst_nb import glue

from dlgtut.data import load_dataset
from dlgtut.diagrams import draw_attack, draw_federation
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.models import LeNet
from dlgtut.server import (
    accuracy,
    aggregate,
    apply_update,
    decentralised_round,
    federated_training,
    ring,
    split_among,
)

QUICK = os.environ.get("DLGTUT_QUICK") == "1"  # reduced mode: fewer rounds
torch.manual_seed(0)


def table(rows, header):
    """Show rows as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    display(Markdown("\\n".join(lines)))


def pct(x):
    """An accuracy as a percentage with one decimal."""
    return f"{100 * x:.1f} %"'''),
    md(r"""## Data that stays where it is

Our participants hold scikit-learn's handwritten digits: 8 x 8 grey images of the digits 0
to 9, written by different people. We keep a test set aside, which no participant owns and
which we use only to measure the global model, and deal the rest out to ten participants in
two ways (`dlgtut.server.split_among`):

- **IID**: shuffled and cut into equal parts, so that every participant holds a bit of every
  class, as if the data had been assigned at random;
- **non-IID**: the "pathological" split of {cite:t}`mcmahan2017communication`. The examples
  are sorted by label, cut into twenty shards, and every participant gets two shards at
  random, so that it holds mostly one or two digits. Real federations look more like this: a
  phone's photos, a hospital's patients, a writer's handwriting are not a random sample of
  everyone's."""),
    code('''digits = load_dataset("digits", size=8)
order = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))
train, test = order[:1400], order[1400:]
X_train, y_train = digits.images[train], digits.labels[train]
X_test, y_test = digits.images[test], digits.labels[test]

n_participants = 10
parts_iid = split_among(X_train, y_train, n_participants, iid=True, seed=0)
parts_non_iid = split_among(X_train, y_train, n_participants, iid=False, seed=0)


def holdings(y):
    """A participant's labels, most frequent first: "3 x 70, 8 x 52"."""
    counts = torch.bincount(y, minlength=10)
    return ", ".join(f"{int(c)} x {int(counts[c])}" for c in counts.argsort(descending=True)
                     if counts[c] > 0)


table([(k + 1, len(yi), len(set(yi.tolist())), len(yn), holdings(yn))
       for k, ((_, yi), (_, yn)) in enumerate(zip(parts_iid, parts_non_iid))],
      ["participant", "IID: examples", "IID: classes", "non-IID: examples",
       "non-IID: digit x examples"])
top_two = sum(int(torch.bincount(y, minlength=10).sort(descending=True).values[:2].sum())
              for _, y in parts_non_iid) / len(X_train)
glue("n_digits", len(digits), display=False)
glue("n_train", len(X_train), display=False)
glue("n_test", len(X_test), display=False)
glue("n_participants", n_participants, display=False)
glue("per_participant", len(parts_iid[0][1]), display=False)
glue("non_iid_top_two", pct(top_two), display=False)'''),
    md(r"""Of the {glue:text}`n_digits` images, {glue:text}`n_train` are dealt out and
{glue:text}`n_test` are kept for testing. In the non-IID split, on average {glue:text}`non_iid_top_two`
of a participant's examples belong to its two most frequent digits.

## FedSGD and FedAvg

{cite:t}`mcmahan2017communication` describe two algorithms. Both run in *rounds*. In round $t$
the server holds the global weights $W_t$ and sends them to the participants; participant $k$
draws a batch of $n_k$ examples from its data and sends back an update.

- **FedSGD**: the update is the gradient of the batch loss, $g_k = \nabla \ell_k(W_t)$, exactly
  what one step of ordinary distributed training computes. The server averages the gradients,
  weighted by batch size, and takes one step with learning rate $\eta$:
  $W_{t+1} = W_t - \eta \sum_k \frac{n_k}{n} g_k$ with $n = \sum_k n_k$.
- **FedAvg**: each participant first takes $K$ steps of SGD on its own data, starting from
  $W_t$, and sends the change in its weights, $\Delta W_k = W_k^{(K)} - W_t$. The server adds
  the weighted average: $W_{t+1} = W_t + \sum_k \frac{n_k}{n} \Delta W_k$. With $K = 1$ this
  is FedSGD's step; with more local steps each round does more work on the participants and
  needs fewer rounds of communication.

In `dlgtut` a participant is a `Participant`: its `fedsgd` and `fedavg` methods take a
`PrivateBatch` and return a `SharedUpdate`, the only thing that leaves the device. The server
side is `dlgtut.server`: `aggregate` computes the weighted average and `apply_update` changes
the global model. One round of FedSGD, written out:"""),
    code('''net = LeNet(in_channels=1, num_classes=10, image_size=8, activation="relu", seed=0)
lr, batch_size = 0.2, 32
gen = torch.Generator().manual_seed(0)
print(f"before the round: test accuracy {pct(accuracy(net, X_test, y_test))}")

updates = []
for X_k, y_k in parts_iid:  # on each participant's device
    idx = torch.randperm(len(X_k), generator=gen)[:batch_size]
    updates.append(Participant(net).fedsgd(PrivateBatch(X_k[idx], y_k[idx])))

g = aggregate(updates)  # on the server: the batch-size-weighted mean of the gradients
apply_update(net, g, "gradient", lr=lr)
print(f"after one round:  test accuracy {pct(accuracy(net, X_test, y_test))}")'''),
    md(r"""The model is the LeNet that {ref}`chapter-dlg` attacks, three convolutions and a
linear layer, here for 8 x 8 grey inputs and ten classes, with ReLU activations (the Sigmoid version
with the paper's initialisation trains far more slowly, and this section is about training).
`federated_training` runs many rounds of exactly the loop above, with seeded draws, and
measures the global model on the test set after every round. We train four times from the same
initial weights, with the same learning rate, batch size and number of rounds: FedSGD and FedAvg
with {glue:text}`local_steps` local steps, on the IID and on the non-IID split. A FedAvg
participant draws {glue:text}`local_steps` batches of {glue:text}`batch_size` examples, more
than the {glue:text}`per_participant` it holds, so it takes all of them: each of its rounds is
about one pass over its local data, one *epoch* in the terms of
{cite:t}`mcmahan2017communication`."""),
    code('''rounds = 25 if QUICK else 50
local_steps = 5
initial = LeNet(in_channels=1, num_classes=10, image_size=8, activation="relu", seed=0)
common = dict(rounds=rounds, lr=lr, batch_size=batch_size, seed=0)
test_set = (X_test, y_test)
runs = {
    "FedSGD, IID": federated_training(initial, parts_iid, test_set, algorithm="fedsgd", **common),
    "FedAvg, IID": federated_training(initial, parts_iid, test_set, algorithm="fedavg",
                                      local_steps=local_steps, record=True, **common),
    "FedSGD, non-IID": federated_training(initial, parts_non_iid, test_set, algorithm="fedsgd",
                                          **common),
    "FedAvg, non-IID": federated_training(initial, parts_non_iid, test_set, algorithm="fedavg",
                                          local_steps=local_steps, **common),
}

fig, ax = plt.subplots(figsize=(8, 4.2))
for name, log in runs.items():
    ax.plot(range(log.rounds + 1), [100 * a for a in log.accuracy], marker=".", lw=1.5,
            color="#1565c0" if "FedAvg" in name else "#ef6c00",
            ls="-" if "non-IID" not in name else "--", label=name)
ax.axhline(10, color="grey", ls=":", lw=1, label="chance (10 classes)")
ax.set_xlabel("communication round")
ax.set_ylabel("test accuracy of the global model (%)")
ax.set_title(f"Federated training on handwritten digits: {n_participants} participants, "
             f"{len(X_test)} test images")
ax.set_ylim(0, 100)
ax.grid(alpha=0.3)
ax.legend(loc="lower right")
fig.tight_layout()


def first_round(log, target):
    """The first round at which the test accuracy reached target, for the table."""
    r = log.rounds_to(target)
    return r if r is not None else f"> {log.rounds}"


table([(name, local_steps if "FedAvg" in name else 1, pct(log.accuracy[-1]),
        first_round(log, 0.8), first_round(log, 0.9), f"{log.seconds:.1f}")
       for name, log in runs.items()],
      ["setting", "SGD steps per participant and round", f"accuracy after {rounds} rounds",
       "first round at 80 %", "first round at 90 %", "seconds"])
for key, name in (("sgd_iid", "FedSGD, IID"), ("avg_iid", "FedAvg, IID"),
                  ("sgd_non", "FedSGD, non-IID"), ("avg_non", "FedAvg, non-IID")):
    glue(f"acc_{key}", pct(runs[name].accuracy[-1]), display=False)
    glue(f"r80_{key}", runs[name].rounds_to(0.8), display=False)
glue("rounds", rounds, display=False)
glue("local_steps", local_steps, display=False)
glue("lr", lr, display=False)
glue("batch_size", batch_size, display=False)'''),
    md(r"""On the IID split FedAvg reaches 80 % test accuracy after {glue:text}`r80_avg_iid`
rounds and FedSGD after {glue:text}`r80_sgd_iid`; after {glue:text}`rounds` rounds they stand at
{glue:text}`acc_avg_iid` and {glue:text}`acc_sgd_iid`. That is the trade FedAvg makes: each of
its rounds costs the participants {glue:text}`local_steps` times the computation and the same
communication, and communication, not computation, is what is scarce on phones.

The non-IID split shows the price. FedSGD hardly notices: its aggregate is still the gradient
of a batch drawn from every participant, and so from every class, and after
{glue:text}`rounds` rounds it stands at {glue:text}`acc_sgd_non` (against
{glue:text}`acc_sgd_iid` on the IID split). FedAvg's local steps, in contrast, pull each
participant's weights towards its own one or two digits before they are averaged: it needs
{glue:text}`r80_avg_non` rounds instead of {glue:text}`r80_avg_iid` to reach 80 %.

The test suite runs this notebook; these checks make it fail if the key results change."""),
    code('''avg_iid, sgd_iid = runs["FedAvg, IID"], runs["FedSGD, IID"]
avg_non = runs["FedAvg, non-IID"]
assert avg_iid.accuracy[0] < 0.2, "the initial model should be at chance"
assert avg_iid.accuracy[-1] > 0.9, "FedAvg should exceed 90 % on IID digits"
assert sgd_iid.accuracy[-1] > 0.8, "FedSGD should exceed 80 % on IID digits"
assert None not in (avg_iid.rounds_to(0.8), sgd_iid.rounds_to(0.8), avg_non.rounds_to(0.8))
assert avg_iid.rounds_to(0.8) < sgd_iid.rounds_to(0.8), "FedAvg should need fewer rounds"
assert avg_iid.rounds_to(0.8) < avg_non.rounds_to(0.8), "non-IID data should slow FedAvg"'''),
    md(r"""## What is shared, and who sees it

In *centralised* federated learning every update goes to one parameter server. An
honest-but-curious server (marked in red) follows the protocol to the letter and is still in
the best position of anyone: it receives each participant's update, separately, in every
round."""),
    code('''fig = draw_federation("centralised", attacker="server", n_participants=4)'''),
    md(r"""The FedAvg run above kept the server's log (`record=True`). Here is what the server
holds after the first round from participant 1 alone: one tensor per parameter of the model,
the same shapes as the weights."""),
    code('''log = runs["FedAvg, IID"]
u = log.received[0][0]  # round 1, participant 1
names = [name for name, _ in u.model.named_parameters()]
table([(name, " x ".join(str(s) for s in t.shape), f"{t.numel():,}", f"{4 * t.numel():,}")
       for name, t in zip(names, u.tensors)],
      ["parameter", "shape of the update", "numbers", "bytes (float32)"])
table([("kind", u.kind), ("batch_size", u.batch_size), ("local_steps", u.local_steps),
       ("lr", u.lr), ("input_shape", u.input_shape), ("num_classes", u.num_classes),
       ("model", f"the {type(u.model).__name__} the update was computed on")],
      ["field of the SharedUpdate", "value"])
per_update = sum(t.numel() for t in u.tensors)
n_received = sum(len(r) for r in log.received)
glue("per_update", f"{per_update:,}", display=False)
glue("per_update_kb", f"{4 * per_update / 1024:.0f}", display=False)
glue("n_received", f"{n_received:,}", display=False)
glue("log_mb", f"{4 * per_update * n_received / 1024**2:.1f}", display=False)'''),
    md(r"""Each update is {glue:text}`per_update` numbers ({glue:text}`per_update_kb` KB),
and over the {glue:text}`rounds` rounds the server received {glue:text}`n_received` of them,
{glue:text}`log_mb` MB in all. Together with the update comes everything needed to make sense
of it: the model it was computed on and the public facts of the round (how many examples, how
many local steps, which learning rate). For a FedSGD update of a small batch that is exactly
the input of the attack in {ref}`chapter-dlg`.

A participant sees much less: only the global model of every round. That is still a lot.
Two successive global models differ by the average update (times $-\eta$ for FedSGD), so a
participant that subtracts its own contribution holds the average update of everyone else. We
check that against the server's log:"""),
    code('''r = 1
received = log.received[r - 1]
step = [log.states[r][name] - log.states[r - 1][name] for name in names]  # W_{t+1} - W_t
mine = received[0]  # participant 1 knows its own update
n_all = sum(v.batch_size for v in received)
others = [(n_all * s - mine.batch_size * o) / (n_all - mine.batch_size)
          for s, o in zip(step, mine.tensors)]
truth = aggregate(received[1:])  # what the server saw from participants 2 to 10
gap = max(float((a - b).abs().max()) for a, b in zip(others, truth))
scale = max(float(t.abs().max()) for t in truth)
print(f"largest difference {gap:.1e}, against update entries up to {scale:.1e}")
glue("others_gap", f"{gap:.0e}", display=False)'''),
    md(r"""The two agree to within {glue:text}`others_gap`, float32 rounding. With many
participants this average blurs individual contributions; with few it does not, and it is on
exactly this aggregate that the attacks of a participant in {cite:t}`melis2019exploiting`
work.

In *decentralised* federated learning there is no server. Participants exchange their models
and updates with their neighbours in a communication graph and average what they receive
(gossip averaging). Nobody sees every update, but every neighbour receives each of its
neighbours' updates individually, exactly as a server would."""),
    code('''fig = draw_federation("decentralised", attacker="neighbour", n_participants=6)'''),
    md(r"""`decentralised_round` runs one such round: every node takes local SGD steps on its
own batch, sends the resulting `SharedUpdate` to its neighbours, and replaces its weights by
the average of its own and its neighbours' new weights. It returns what every node received.
Here six nodes on a ring (node 0 in the code is participant 1 in the diagram):"""),
    code('''n_nodes = 6
topology = ring(n_nodes)
node_data = split_among(X_train, y_train, n_nodes, seed=1)
nodes = [LeNet(in_channels=1, num_classes=10, image_size=8, activation="relu", seed=0)
         for _ in range(n_nodes)]
gossip_gen = torch.Generator().manual_seed(0)


def private_batches():
    """Every node draws a batch from its own data."""
    batches = []
    for X_k, y_k in node_data:
        idx = torch.randperm(len(X_k), generator=gossip_gen)[:batch_size]
        batches.append(PrivateBatch(X_k[idx], y_k[idx]))
    return batches


received = decentralised_round(nodes, private_batches(), topology, local_steps=local_steps,
                               lr=lr)
print("topology:", topology)
table([(f"node {i}", v.kind, v.batch_size, v.local_steps, f"{sum(t.numel() for t in v.tensors):,}",
        type(v.model).__name__)
       for i, v in zip(topology[0], received[0])],
      ["node 0 received from", "kind", "batch size", "local steps", "numbers", "with the model"])
glue("node0_from", " and ".join(f"node {i}" for i in topology[0]), display=False)'''),
    md(r"""Node 0 holds the full updates of {glue:text}`node0_from`, not an average, along with
the model each started from. Gossip still trains, although information travels only one link
per round:"""),
    code('''gossip_rounds = 15 if QUICK else 40
for _ in range(gossip_rounds - 1):
    decentralised_round(nodes, private_batches(), topology, local_steps=local_steps, lr=lr)
node_acc = [accuracy(m, X_test, y_test) for m in nodes]
table([(f"node {k}", pct(a)) for k, a in enumerate(node_acc)],
      [f"after {gossip_rounds} rounds of gossip", "test accuracy"])
glue("gossip_rounds", gossip_rounds, display=False)
glue("gossip_min", pct(min(node_acc)), display=False)
glue("gossip_max", pct(max(node_acc)), display=False)'''),
    md(r"""After {glue:text}`gossip_rounds` rounds, without any server, the six models reach
between {glue:text}`gossip_min` and {glue:text}`gossip_max` on the test set.

## Honest-but-curious or malicious

Attacks differ in what the attacker is willing to do, not only in where it sits. An
*honest-but-curious* (or semi-honest) party follows the protocol exactly and only looks at
what it receives; a *malicious* party may also deviate from it.

| who | honest-but-curious: follows the protocol, and may | malicious: may also |
|---|---|---|
| the server | keep every update of every participant and every round, and run any computation on them, at any time | send participants a crafted model, so that their updates reveal individual examples; single out a participant; choose who takes part in a round |
| a participant | keep the global model of every round, and compare successive ones | send crafted updates: poison the model, or steer it so that the other participants' updates reveal more about a class |
| a neighbour (decentralised) | keep every update and model its neighbours send | send crafted models or updates to its neighbours, who then train on them |

Deep leakage from gradients, as this book runs it, is honest-but-curious: the attacker uses
the update and the public model and nothing else, so its behaviour cannot be told apart from an
honest server's. Malicious servers are stronger still: by sending participants modified
weights or an extra layer, a server can make an update give away individual training examples
directly, without an optimisation {cite:p}`fowl2022robbing,boenisch2023curious`. Defences have to say which attacker they hold against.
Secure aggregation {cite:p}`bonawitz2017practical`, for instance, lets an honest-but-curious
server learn only the sum of the updates of a round, not each one; it does not hide the
successive global models from the participants, and a malicious server can still defeat it by
sending different participants different models {cite:p}`pasquini2022eluding`.

## Four families of attacks

The attacks of this book fall into four families, by what the attacker wants to learn. Each
diagram shows what the attacker needs (blue: what federated learning shares or publishes; red:
what the attacker brings of its own), what it computes, and what it gets (green).

**Deep leakage (reconstruction).** From a single shared gradient and the public model,
{cite:t}`zhu2019dlg` recover the training images and their labels by searching for an input
whose gradient matches the shared one. It needs the individual update of one participant, so
it is the server's attack, or a neighbour's; the next chapter, {ref}`chapter-dlg`, runs it."""),
    code('''fig = draw_attack("leakage")'''),
    md(r"""**Membership inference.** Was this record part of the training data? The attacker
holds a candidate record and the model, or in federated learning the global models of
successive rounds. {cite:t}`shokri2017membership` train shadow models that imitate the target
and learn to tell members from non-members by the model's outputs; {cite:t}`yeom2018privacy`
show that a threshold on the loss already works, with an advantage that grows with the gap
between training and test error; {cite:t}`carlini2022membership` compare the record's
confidence under shadow models trained with and without it (a likelihood ratio), and measure
success by the true-positive rate at very low false-positive rates, where it matters for an
individual. In federated learning any participant sees the successive global models, and
{cite:t}`melis2019exploiting` show that updates reveal which words or places were in a
participant's batch. {ref}`chapter-membership` runs membership inference on the global
models of a federated training run."""),
    code('''fig = draw_attack("membership")'''),
    md(r"""**Property inference.** Does a participant's data have a property that has nothing
to do with the task, for instance whether the people in a gender classifier's photos wear
glasses? {cite:t}`ganju2018property` infer such properties of a training set from a model's
weights. {cite:t}`melis2019exploiting` do it in federated learning: the attacker computes
updates on auxiliary data with and without the property, trains a classifier to tell them
apart, and applies it to the updates (or to the aggregate) it observes, round by round, even
finding out when the property appears. {ref}`chapter-property` runs it."""),
    code('''fig = draw_attack("property")'''),
    md(r"""**Model inversion.** What do the members of a class look like? The attacker gets not
a particular record but a representative of a class. {cite:t}`fredrikson2015model` recover
recognisable faces from a face-recognition model by gradient ascent on a person's confidence.
{cite:t}`hitaj2017deep` turn this into an attack by a participant in collaborative learning:
the attacker trains a generator locally, using the shared model as the discriminator of a
generative adversarial network, and can inject its samples with a wrong label so that the
victim's updates reveal more about its class. {ref}`chapter-inversion` runs both."""),
    code('''fig = draw_attack("inversion")'''),
    md(r"""In short:

| family | the attacker needs | and gets | in federated learning, run by | in this book |
|---|---|---|---|---|
| deep leakage | one participant's update, the public model | that participant's training examples and labels | the server, a neighbour | {ref}`chapter-dlg`, {ref}`chapter-beyond` |
| membership inference | a candidate record, the model or the global models over rounds (shadow models or reference data) | whether the record was trained on | anyone who sees the models: the server, any participant | {ref}`chapter-membership` |
| property inference | updates or the aggregate over rounds, auxiliary data with and without the property | whether a participant's data has the property, and when it appears | the server, a participant (from the aggregate) | {ref}`chapter-property` |
| model inversion | a trained model (white box), or the shared model as a discriminator | a representative of a class | anyone with the model; a participant (GAN attack) | {ref}`chapter-inversion` |

## Summary

- Federated learning keeps the data on the participants and sends updates instead: FedSGD
  sends the gradient of a batch, FedAvg the change in the weights after several local steps.
  On real digits both train a useful model; FedAvg needs fewer rounds, and suffers more when
  the participants' data are not IID.
- The server receives every participant's update, separately, every round, together with the
  model and the public facts of the round. In decentralised learning every neighbour receives
  the same. A participant sees the global models, and from two of them the average update of
  everyone else.
- An honest-but-curious attacker follows the protocol and only looks at what it receives; a
  malicious one may send crafted models or updates. The attacks of this book start
  honest-but-curious.
- Four families of attacks read private information out of what is shared: deep leakage
  recovers the training examples, membership inference decides whether a record was used,
  property inference reveals properties of a participant's data, and model inversion recovers
  what a class looks like.

## Exercises

1. How many numbers does a FedSGD participant send for this chapter's LeNet, for a batch of
   1 and for a batch of 32? What changes for 32 x 32 colour images? Use `SharedUpdate.tensors`
   to check your answer.
2. Train with FedAvg for $K = 1, 2, 5, 10, 20$ local steps at the same learning rate and plot
   the rounds needed to reach 90 % against $K$. Where does the gain stop, and how much
   computation does each participant spend to get there?
3. Split the digits with `split_among(..., iid=False, shards_per_participant=1)`, so that each
   participant holds about one digit. How do FedSGD and FedAvg behave now? Explain why the
   expected FedSGD aggregate does not depend on the split when every participant takes part
   and holds the same number of examples.
4. Run `federated_training` with `clients_per_round=3`. Redo the calculation of "everyone
   else's update" from two successive global models. What does a participant learn when it
   shares a round with only one other participant?
5. In `decentralised_round` on a ring of six, node 0 never receives node 3's update. Does
   node 3's data still influence node 0's model after one round, after three? What does that
   mean for a curious neighbour?
6. Project: write a curious server, a subclass of `dlgtut.server.Server` whose `round` method
   runs `dlgtut.attacks.dlg` on every FedSGD update of a batch of one image before
   aggregating. Train for ten rounds with ten participants on 16 x 16 digits and the Sigmoid
   LeNet of {ref}`chapter-dlg`, and report how many of the training images the server
   recovers (PSNR above 25 dB)."""),
]

write_notebook(cells, "book/federated_learning.ipynb")
