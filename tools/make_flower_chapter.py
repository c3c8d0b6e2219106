"""Write book/flower_federation.ipynb (without outputs) from the cells below.

The notebook is the chapter's source of truth once written; this script records how it was
laid out and is kept so that large edits stay reviewable. Cell ids are fixed, so rewriting the
notebook changes only what changed. Run: .venv/bin/python tools/make_flower_chapter.py
"""

from nbtools import REPOSITORY, code, md, write_notebook

COLAB_FLOWER = f'''# Installs dlgtut with its Flower extra when this notebook runs in Colab; does nothing elsewhere.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "dlgtut[flower] @ git+{REPOSITORY}"'''

cells = [
    md(r"""(chapter-flower)=
# Attacking a real federation

Every attack so far ran against the small federation of `dlgtut.server`, written for this book.
That is the right place to learn the mechanics, but a reader's real question is a different
one: *does this happen in the system I deploy?* This chapter answers it for Flower
{cite:p}`beutel2020flower`, the most used open federated-learning framework. Its Simulation
Engine runs thousands of virtual clients on one machine, and the very same apps run as a real
deployment, a SuperLink and many SuperNodes talking over the network.

We put dlgtut's honest participant inside Flower's client app, and on the server we subclass
Flower's own `FedAvg` strategy. The subclass averages exactly as `FedAvg` does; it only keeps a
copy of each reply before averaging it, and hands that copy to the attacks of the previous
chapters. Then we run real Flower federations: FedSGD and FedAvg rounds, Flower's own
differential-privacy tools, what secure aggregation would change, and what the attack costs as
the federation grows.

This chapter needs the `flower` extra (`pip install "dlgtut[flower]"`, Python 3.11 or newer).
Each federation below starts Ray in the background and stops it again; the last section
measures how long that takes."""),
    code(COLAB_FLOWER),
    code('''import dataclasses
import functools
import inspect
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from flwr.clientapp.mod import LocalDpMod, fixedclipping_mod
from flwr.serverapp.strategy import DifferentialPrivacyClientSideFixedClipping, FedAvg
from IPython.display import Markdown, display
from myst_nb import glue

from dlgtut.attacks import DLGConfig, IGConfig, dlg, inverting_gradients
from dlgtut.defenses import secure_aggregate
from dlgtut.federation import (
    CuriousFedAvg,
    FlowerTask,
    draw_flower,
    plot_reconstructions,
    run_federation,
    score_captured,
)
from dlgtut.federation.report import truth_of
from dlgtut.metrics import score
from dlgtut.viz import image_grid

QUICK = os.environ.get("DLGTUT_QUICK") == "1"  # reduced mode: fewer clients and rounds
torch.manual_seed(0)
torch.set_num_threads(1)  # the models are tiny: one thread is the fastest (the server does so too)


def table(rows, header):
    """Show rows as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    display(Markdown("\\n".join(lines)))


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs)'''),
    md(r"""## Flower in one picture

Flower's current API, the *Message API*, has four parts. A **ServerApp** holds the training
logic; it runs on the **SuperLink**, the server that every participant connects to. A
**ClientApp** holds what a participant does with a message; it runs on a **SuperNode**, next to
the participant's data. In every round the ServerApp's **strategy** builds the messages
(`configure_train`: the global model $W_t$ and a configuration), the SuperLink delivers them,
each ClientApp replies with its update, and the strategy combines the replies
(`aggregate_train`) into $W_{t+1}$. `flwr run` packs the two apps into a bundle (a FAB) and
submits it to the SuperLink. On the **Simulation Engine** the SuperNodes are virtual, run by a
pool of Ray workers on one machine; in a **deployment** they are processes on the participants'
machines."""),
    code('''fig = draw_flower(3)'''),
    md(r"""The red box is where this chapter's server looks. Flower hands `aggregate_train` every
reply separately, with the id of the node it came from and its number of examples, *before*
averaging: that is where a strategy has to be, because averaging is its job. A strategy that
keeps the replies needs a few lines:"""),
    code('''class PeekingFedAvg(FedAvg):
    """Flower's FedAvg that keeps every reply before averaging it: the whole trick."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kept = []

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        for msg in replies:
            if not msg.has_error():  # Flower returns a client's exception as an error reply
                self.kept.append((server_round, msg.metadata.src_node_id, msg.content))
        return super().aggregate_train(server_round, replies)  # averages exactly as FedAvg


print(f"PeekingFedAvg is a FedAvg: {issubclass(PeekingFedAvg, FedAvg)}")'''),
    md(r"""Nothing in the protocol changes, so nothing a participant can observe changes: the
global model of every round is FedAvg's. `dlgtut.federation.CuriousFedAvg` is this class plus
one step. It turns each reply into the `SharedUpdate` that every attack of the book takes, from
public facts only: the global weights it sent, the reply's arrays (a FedSGD gradient, or
FedAvg's new weights minus $W_t$), the number of examples, and the hyperparameters it sent
itself. Then it runs the attack on it:"""),
    code('''print(inspect.getsource(CuriousFedAvg.capture))'''),
    md(r"""The participants are dlgtut's honest `Participant` in a Flower ClientApp
(`dlgtut.federation.make_client_app`). A `FlowerTask` holds what all nodes agree on: the
data (scikit-learn's handwritten digits, 16 x 16, dealt out to the participants), the model
(the DLG paper's Sigmoid LeNet) and the algorithm. Each participant trains on one private image
per round.

One detail is not part of the protocol. To *score* the attack we must know which private image
each reply came from, and the server only knows Flower's random node ids. So each reply also
carries its data partition in an extra record that only the scoring code reads (the attack
never sees it); a real participant would not send it.

## A FedSGD federation on the Simulation Engine

`run_federation` builds both apps and runs them with Flower's Simulation Engine in this
process: each participant is a virtual SuperNode, and the curious server attacks every update it
receives with DLG as the updates arrive."""),
    code('''n_clients, n_rounds = (4, 1) if QUICK else (12, 2)
task = FlowerTask()  # LeNet, 16 x 16 digits, FedSGD, lr 0.1, one image per client and round
fedsgd = run_federation(task, clients=n_clients, rounds=n_rounds,
                        attack=functools.partial(dlg, progress=False))
rows = score_captured(fedsgd.captured, fedsgd.task)
table([(r["round"], f"{r['node_id']:x}"[:8] + "...", r["partition"], f"{r['psnr']:.1f}",
        f"{r['ssim']:.3f}", "yes" if r["label_accuracy"] == 1 else "no",
        f"{r['attack_seconds']:.2f}") for r in rows[:8]],
      ["round", "Flower node id", "partition (for scoring)", "PSNR (dB)", "SSIM", "label right",
       "attack (s)"])
glue("n_clients", n_clients, display=False)
glue("n_rounds", n_rounds, display=False)
glue("n_updates", len(rows), display=False)
glue("sgd_min_psnr", f"{min(r['psnr'] for r in rows):.0f}", display=False)
glue("sgd_labels", f"{mean(r['label_accuracy'] for r in rows):.0%}", display=False)
glue("sgd_dlg_seconds", f"{mean(r['attack_seconds'] for r in rows):.2f}", display=False)
assert all(r["psnr"] > 40 and r["label_accuracy"] == 1 for r in rows)'''),
    md(r"""The server captured {glue:text}`n_updates` updates from {glue:text}`n_clients`
participants in {glue:text}`n_rounds` round(s) (the table shows up to eight) and recovered
every private image, at {glue:text}`sgd_min_psnr` dB PSNR or better, with
{glue:text}`sgd_labels` of the labels right, in {glue:text}`sgd_dlg_seconds` s per update on
average. A PSNR this high means the images come back exact to the last grey level:"""),
    code('''fig = plot_reconstructions(fedsgd.captured, fedsgd.task, max_clients=6)'''),
    md(r"""Flower did nothing wrong here. The updates travelled as the protocol says and the
global model is FedAvg's: we can recompute what participant 0 sent in round 1 with dlgtut alone
and compare."""),
    code('''first = next(c for c in fedsgd.captured if c.server_round == 1 and c.partition == 0)
mine = task.honest_update(task.build_model(), truth_of(first, task))
gap = max(float((a - b).abs().max()) for a, b in zip(first.update.tensors, mine.tensors))
print(f"largest difference between the captured gradient and dlgtut's: {gap:.1e}")
glue("capture_gap", f"{gap:.1e}", display=False)
assert gap < 1e-5'''),
    md(r"""The largest difference is {glue:text}`capture_gap`: the captured update is the
participant's gradient, up to float rounding at most.

## FedAvg, and what Flower's differential privacy changes

In FedAvg a participant takes several SGD steps before it replies, and by Flower's convention it
replies with its new weights; the server subtracts the $W_t$ it sent. Here every participant
takes several local steps on its private image, so the update is not a gradient: the server
attacks it with Inverting Gradients {cite:p}`geiping2020inverting`, which unrolls the steps
with the learning rate the server itself sent.

Flower ships two kinds of differential privacy, and both assume FedAvg's replies (new weights).
*Central* DP {cite:p}`mcmahan2018learning` clips every participant's update to a norm $C$ and
adds Gaussian noise to the **aggregate**: the wrapper
`DifferentialPrivacyClientSideFixedClipping` around the server's strategy, together with
`fixedclipping_mod` on the clients (or the server-side variant, where the server itself
clips). *Local* DP clips and adds noise on the client, before the update leaves it: the client
mod `LocalDpMod`, with noise of standard deviation
$\Delta \sqrt{2 \ln(1.25/\delta)} / \varepsilon$ per coordinate.

One federation shows all three cases side by side. The server runs Flower's central-DP wrapper
around our curious strategy; a third of the participants use no defence, a third apply the
clipping the wrapper asks for (`fixedclipping_mod`), a third add local DP. A small mod selects
by partition:"""),
    code('''def on_partitions(partitions, mod):
    """A Flower mod that runs `mod` only on the SuperNodes that hold these partitions."""

    def selective(msg, context, call_next):
        if int(context.node_config["partition-id"]) in partitions:
            return mod(msg, context, call_next)
        return call_next(msg, context)

    return selective


n_avg = 3 if QUICK else 6
none = set(range(0, n_avg // 3))
clipped = set(range(n_avg // 3, 2 * n_avg // 3))
local_dp = set(range(2 * n_avg // 3, n_avg))
C, epsilon, delta = 0.5, 10.0, 1e-5
task_avg = FlowerTask(algorithm="fedavg", local_steps=3, full_batch=True)
ig = IGConfig(iterations=200 if QUICK else 300, trials=1, tv_weight=1e-3, progress=False)
fedavg = run_federation(
    task_avg, clients=n_avg, rounds=1,
    attack=functools.partial(inverting_gradients, config=ig),
    client_mods=[on_partitions(clipped | local_dp, fixedclipping_mod),
                 on_partitions(local_dp, LocalDpMod(C, C, epsilon, delta))],
    wrap=lambda s: DifferentialPrivacyClientSideFixedClipping(
        s, noise_multiplier=1.0, clipping_norm=C, num_sampled_clients=n_avg),
)
kind = {**{p: "none" for p in none}, **{p: "central DP (clipped)" for p in clipped},
        **{p: "local DP (clipped, noised)" for p in local_dp}}
rows_avg = score_captured(fedavg.captured, fedavg.task)
norms = {c.partition: float(torch.cat([t.flatten() for t in c.update.tensors]).norm())
         for c in fedavg.captured}
table([(r["partition"], kind[r["partition"]], f"{norms[r['partition']]:.2f}", f"{r['psnr']:.1f}",
        f"{r['ssim']:.2f}", "yes" if r["label_accuracy"] == 1 else "no")
       for r in sorted(rows_avg, key=lambda r: r["partition"])],
      ["partition", "defence", "norm of the captured update", "PSNR (dB)", "SSIM", "label right"])
by_kind = {k: mean(r["psnr"] for r in rows_avg if r["partition"] in ps)
           for k, ps in (("none", none), ("clipped", clipped), ("local", local_dp))}
noise_std = C * np.sqrt(2 * np.log(1.25 / delta)) / epsilon
glue("avg_psnr_none", f"{by_kind['none']:.0f}", display=False)
glue("avg_psnr_clipped", f"{by_kind['clipped']:.0f}", display=False)
glue("avg_psnr_local", f"{by_kind['local']:.0f}", display=False)
glue("dp_clip", C, display=False)
glue("dp_epsilon", f"{epsilon:g}", display=False)
glue("dp_noise_std", f"{noise_std:.2f}", display=False)
glue("ig_iterations", ig.iterations, display=False)
glue("avg_steps", task_avg.local_steps, display=False)
glue("ig_seconds", f"{mean(r['attack_seconds'] for r in rows_avg):.1f}", display=False)
assert by_kind["none"] > 20 and by_kind["clipped"] > 20 and by_kind["local"] < 15'''),
    code('''fig = plot_reconstructions(
    fedavg.captured, fedavg.task,
    title=f"FedAvg, {task_avg.local_steps} local steps: undefended, clipped (central DP) "
          "and local DP participants")'''),
    md(r"""Without a defence, Inverting Gradients recovers the FedAvg participants' images at
{glue:text}`avg_psnr_none` dB from {glue:text}`ig_iterations` steps
({glue:text}`ig_seconds` s per update): {glue:text}`avg_steps` local steps do not hide one
image. The
participants that clipped their update to norm {glue:text}`dp_clip` for Flower's *central* DP
lose just as much ({glue:text}`avg_psnr_clipped` dB). Central DP adds its noise to the
aggregate, after the strategy has seen every reply; clipping alone only rescales an update, and
Inverting Gradients matches the *direction* of the update, not its length. Only *local* DP
stops the attack here ({glue:text}`avg_psnr_local` dB): with $\varepsilon$ =
{glue:text}`dp_epsilon` per round each of the model's coordinates gets noise of standard
deviation {glue:text}`dp_noise_std`, far more than the whole clipped update.

The choice of attack matters as much as the defence. DLG matches the gradient's *length* as
well as its direction; on a merely clipped update it finds nothing:"""),
    code('''clipped_update = next(c for c in fedavg.captured if c.partition in clipped)
one_step = FlowerTask(algorithm="fedavg")  # one local step: DLG's setting
truth = truth_of(clipped_update, task_avg)
probe = one_step.honest_update(one_step.build_model(), truth)
scale = C / float(torch.cat([t.flatten() for t in probe.tensors]).norm())
probe_clipped = dataclasses.replace(probe, tensors=tuple(scale * t for t in probe.tensors))
rows_probe, probe_steps = [], 30
for name, update in (("unclipped", probe), ("clipped to C", probe_clipped)):
    rec_dlg = dlg(update, DLGConfig(progress=False, iterations=probe_steps))
    rec_ig = inverting_gradients(update, ig)
    s_dlg, s_ig = (score(r.images, r.labels, truth.images, truth.labels) for r in (rec_dlg, rec_ig))
    rows_probe.append((name, f"{s_dlg.psnr:.1f} ({rec_dlg.status})", f"{s_ig.psnr:.1f}"))
table(rows_probe, ["one-step FedAvg update", "DLG: PSNR dB (how it ended)",
                   "Inverting Gradients: PSNR dB"])
glue("probe_dlg_clipped", rows_probe[1][1].split()[0], display=False)
glue("probe_ig_clipped", rows_probe[1][2], display=False)
glue("probe_steps", probe_steps, display=False)'''),
    md(r"""On the same image, clipped, DLG ends at {glue:text}`probe_dlg_clipped` dB after its
{glue:text}`probe_steps` steps (unclipped it needs a handful) while Inverting Gradients
recovers it at
{glue:text}`probe_ig_clipped` dB. A defence judged against DLG alone can look far stronger
than it is.

## Secure aggregation

Secure aggregation {cite:p}`bonawitz2017practical` masks every update so that the server can
only decode their sum. Flower implements SecAgg+ {cite:p}`bell2020secure`, but in Flower 1.42
only for its older workflow API (`flwr.server.workflow.SecAggPlusWorkflow`, with the client
mod `secaggplus_mod` and the legacy strategies of `flwr.server.strategy`); the Message API's
strategies, `FedAvg` and therefore our subclass, cannot use it. What it would leave the server
is easy to compute: the mean of a round's updates, which `dlgtut.defenses.secure_aggregate`
builds from the FedSGD round above. We attack the aggregate of the first $k$ participants, a
gradient of $k$ images:"""),
    code('''round1 = [c for c in fedsgd.captured if c.server_round == 1]
round1.sort(key=lambda c: c.partition)
sizes = (1, 2, 4) if QUICK else (1, 2, 4, 8)
secagg_rows, secagg_psnr, secagg_rec = [], {}, {}
for k in sizes:
    aggregate = secure_aggregate([c.update for c in round1[:k]])
    truths = [truth_of(c, task) for c in round1[:k]]
    images = torch.cat([t.images for t in truths])
    labels = torch.cat([t.labels for t in truths])
    rec = dlg(aggregate, progress=False)
    s = score(rec.images, rec.labels, images, labels)
    secagg_psnr[k], secagg_rec[k] = s, rec
    secagg_rows.append((k, f"{s.psnr:.1f}", f"{min(s.per_image['psnr']):.1f}",
                        f"{s.label_accuracy:.0%}", f"{rec.seconds:.1f}"))
table(secagg_rows, ["participants in the aggregate", "mean PSNR (dB)", "worst image (dB)",
                    "labels right", "attack (s)"])
k_max = sizes[-1]
glue("secagg_k", k_max, display=False)
glue("secagg_psnr", f"{secagg_psnr[k_max].psnr:.0f}", display=False)
glue("secagg_worst", f"{min(secagg_psnr[k_max].per_image['psnr']):.0f}", display=False)'''),
    code('''s, rec_images = secagg_psnr[k_max], secagg_rec[k_max].images
fig, axes = plt.subplots(2, 1, figsize=(1.2 * k_max + 1, 3.2))
truth_images = torch.cat([truth_of(c, task).images for c in round1[:k_max]])
for ax, images, name in ((axes[0], truth_images, "private images"),
                         (axes[1], rec_images[s.assignment], "from the aggregate")):
    ax.imshow(image_grid(images, nrow=k_max), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_ylabel(name, rotation=0, ha="right", va="center")
_ = fig.suptitle(f"What secure aggregation of {k_max} one-image updates leaves the server")'''),
    md(r"""Secure aggregation hides *who* sent what, not necessarily *what*. The mean of
{glue:text}`secagg_k` one-image gradients is the gradient of a batch of
{glue:text}`secagg_k` images, and on this network DLG still recovers such a batch
({glue:text}`secagg_psnr` dB on average, {glue:text}`secagg_worst` dB for the worst image): the
images come back, only their owners do not. The protection grows with the number of examples
behind the aggregate, many participants times their batches, until the gradient no longer
determines them ({ref}`chapter-dlg` counted when that happens).

## What the attack costs as the federation grows

The server attacks every update it receives, so its work per round grows with the number of
participants, one attack each, while Flower's own work per round grows slowly. The runs above
measured both:"""),
    code('''logs = fedsgd.round_logs
t_dlg = mean(c.attack_seconds for c in fedsgd.captured)
t_ig = mean(c.attack_seconds for c in fedavg.captured)
table([(log.server_round, log.replies, f"{log.clients_seconds:.2f}",
        f"{1000 * log.capture_seconds / log.replies:.2f}", f"{log.attack_seconds:.1f}")
       for log in logs],
      ["round", "replies", "Flower: send, train, reply (s)", "capture per update (ms)",
       "attacks (s)"])
clients = np.array([10, 100, 1000, 10000])
fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.loglog(clients, clients * t_dlg, "o-", label=f"DLG on every FedSGD update ({t_dlg:.2f} s each)")
ax.loglog(clients, clients * t_ig, "s-",
          label=f"Inverting Gradients on every FedAvg update ({t_ig:.1f} s each)")
first = logs[0].clients_seconds
ax.axhline(first, color="grey", ls=":",
           label=f"the first Flower round above, Ray's start-up included ({first:.0f} s)")
ax.set_xlabel("participants per round")
ax.set_ylabel("server seconds per round")
ax.set_title("The curious server's work per round, at the cost measured per update")
ax.legend(fontsize=8)
ax.grid(alpha=0.3, which="both")
fig.tight_layout()
glue("t_dlg", f"{t_dlg:.2f}", display=False)
glue("t_ig", f"{t_ig:.1f}", display=False)
glue("first_round", f"{logs[0].clients_seconds:.0f}", display=False)
capture_ms = 1000 * sum(lg.capture_seconds for lg in logs) / sum(lg.replies for lg in logs)
glue("capture_ms", f"{capture_ms:.1f}", display=False)
glue("dlg_1000_min", f"{1000 * t_dlg / 60:.0f}", display=False)
glue("ig_1000_h", f"{1000 * t_ig / 3600:.1f}", display=False)'''),
    md(r"""Keeping a reply costs the server {glue:text}`capture_ms` ms; attacking it costs
{glue:text}`t_dlg` s with DLG (a FedSGD update of one image) and {glue:text}`t_ig` s with
Inverting Gradients (FedAvg, {glue:text}`avg_steps` unrolled steps). A round of 1,000 participants would keep a
single CPU busy for about {glue:text}`dlg_1000_min` minutes with DLG and
{glue:text}`ig_1000_h` hours with Inverting Gradients, against a Flower round that takes seconds
(the first one here took {glue:text}`first_round` s, most of it Ray starting its workers).
The attacks are independent of each other, so a server with more machines attacks in
parallel; and it need not keep up in real time: it keeps the updates and attacks the ones it
cares about later. `benchmarks/flower_scale.py` measures rounds of 10, 100 and 1,000 virtual
clients, their memory and the attack's cost per update on this book's machine.

## Summary

- A Flower strategy sees every participant's reply separately in `aggregate_train`, with its
  node id and number of examples. A subclass of Flower's own `FedAvg` that keeps the replies
  is a few lines long and changes nothing that the participants can observe.
- From a reply and the global model it sent, the server rebuilds exactly the update that
  dlgtut's attacks take; on a real Flower federation, FedSGD and FedAvg alike, the private
  images come back as they did on the book's own federation.
- Flower's central DP adds noise to the aggregate only: individual updates reach the server
  clipped but noiseless, and a direction-matching attack (Inverting Gradients) still recovers
  them. Local DP (`LocalDpMod`) stops the attack, at the price of noise in every update.
- Secure aggregation hides who sent which update. With few examples behind the aggregate the
  images themselves still come back; in Flower 1.42 it exists only for the older workflow API.
- The attack costs the server one optimisation per update, linear in the number of
  participants, and can run later, in parallel.

## Exercises

1. Run `python -m dlgtut flower --clients 4 --rounds 3 --out out/flower` and open
   `out/flower/reconstruction.png`. Which rounds are hardest for the attack, and why does the
   test accuracy barely move? (Hint: how many images does the federation train on?)
2. Run the same apps with `flwr run` on a simulation SuperLink and as a deployment of two
   SuperNodes, following `flower_app/README.md`. Which processes run where, and which of them
   sees the private images?
3. Set `full_batch=False` in the FedAvg federation: each local step then uses a fresh image.
   Inverting Gradients reads only the *set* of labels from the update. Explain why it fails on
   some participants, and make it try every order of the labels, keeping the one whose unrolled
   update matches best.
4. Use Flower's `DifferentialPrivacyServerSideFixedClipping` instead of the client-side
   variant. Where does the clipping happen now, and what does the curious strategy capture?
5. Find the smallest $\varepsilon$ of `LocalDpMod` at which Inverting Gradients still
   recovers the images, and measure what that noise does to the test accuracy after 20
   rounds.
6. Project: run SecAgg+ with Flower's workflow API (`SecAggPlusWorkflow` and
   `secaggplus_mod`) and check that the curious strategy now receives only the aggregate."""),
]

write_notebook(cells, "book/flower_federation.ipynb")
