"""Write book/model_inversion.ipynb (without outputs) from the cells below.

The notebook is the chapter's source of truth once written; this script records how it was
laid out and is kept so that large edits stay reviewable. Cell ids are fixed, so rewriting the
notebook changes only what changed. Run: .venv/bin/python tools/make_inversion_chapter.py
"""

# ruff: noqa: E501  (a Markdown table row cannot be wrapped)
from nbtools import COLAB, code, md, write_notebook

cells = [
    md(r"""(chapter-inversion)=
# Model inversion

The attacks of the previous chapters read private data out of what a participant *sends*.
Model inversion needs less: the model itself. Every participant of federated learning receives
the global model in every round, and the trained model is usually published or deployed when
training ends. A classifier that has learned to recognise a class has, in a sense, learned what
the class looks like, and {cite:t}`fredrikson2015model` showed that this knowledge can be read
back out. Starting from a blank image, they followed the gradient of the model's confidence in
a class, with a simple image prior, until the model was convinced: from a face recognition
model the result was a recognisable image of the person behind a class name. They called the
attack *MI-Face*.

{cite:t}`hitaj2017deep` took the idea inside collaborative learning, and made it active. An
insider trains a *generator* {cite:p}`goodfellow2014generative` with the shared model as its
discriminator, and labels what it generates as a fake class in its own training, which pushes
the other participants' updates to say ever more precisely what their classes look like. The
result is a generator of a class that only the victim holds.

This chapter runs both attacks on real data, handwritten digits and faces, and judges what they
recover with an *independent* evaluation classifier: a model of another architecture, trained
on other data, that the attacks never see. It compares the active GAN attack with a passive
one, with a generator that never saw the federation, and with a victim that trains with
differential privacy, and it ends with what limits the two attacks."""),
    code(COLAB),
    code('''import inspect
import os

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display
from myst_nb import glue

from dlgtut.attacks.gan_attack import (
    GANAdversary,
    GANAttackConfig,
    federation,
    gan_attack,
    plot_curves,
    plot_rounds,
)
from dlgtut.attacks.inversion import (
    MIFaceConfig,
    inversion_case,
    mi_face,
    plot_inversions,
    recognised_fraction,
    score_inversion,
    train_evaluator,
)
from dlgtut.models import LeNet
from dlgtut.training import predict_logits, train_classifier
from dlgtut.viz import image_grid

QUICK = os.environ.get("DLGTUT_QUICK") == "1"  # reduced mode: fewer rounds, offline faces
torch.manual_seed(0)


def table(rows, header):
    """Show rows as a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    display(Markdown("\\n".join(lines)))


def pct(x):
    """A fraction as a percentage without decimals."""
    return f"{100 * x:.0f} %"'''),
    md(r"""## The threat model in federated learning

Both attacks use the model, and nothing but the model, as their source; they differ in who runs
them and in how they behave (see {ref}`chapter-fl` for the vocabulary).

| | MI-Face | the GAN attack |
|---|---|---|
| who | anyone who holds the model: a participant, the server, a user of the released model | a participant, during training |
| what it needs | the trained model with its weights (white box), its number of classes and input shape | the shared model of every round, and a place in the federation |
| how it behaves | honest-but-curious: it only computes on what it has | malicious: it trains on fabricated samples under a class no honest participant uses |
| what it gets | one representative input per class | a generator of inputs of the victim's class |

Neither recovers a particular training record. They recover what a class *looks like*, and that
is the secret whenever a class is a person: in face recognition every class is one person, and
its representative is a picture of that person's face.

## MI-Face, step by step

Let $F$ be the classifier and $\operatorname{softmax}(F(x))_c$ its confidence that $x$ belongs
to class $c$. MI-Face minimises

$$
c(x) = 1 - \operatorname{softmax}\big(F(x)\big)_c + \lambda_{TV}\,\mathrm{TV}(x)
$$

over images $x$ with pixels in $[0, 1]$, where the total variation
$\mathrm{TV}(x)$, the mean absolute difference between neighbouring pixels, is the image
prior: it prefers images made of smooth regions over noise. The algorithm of
{cite:t}`fredrikson2015model`:

1. start from a blank image $x_0$;
2. take a step of gradient descent,
   $x_{i+1} = \mathrm{Process}\big(x_i - \lambda \nabla c(x_i)\big)$, where `Process` keeps the pixels in range (and can denoise the image, an option of
   `dlgtut`: a small Gaussian blur every few steps);
3. stop after $\alpha$ steps, or when the cost has not improved for $\beta$ steps, or when it
   falls below $\gamma$; return the image of lowest cost.

`dlgtut.attacks.inversion.mi_face` takes the model, the classes to invert and the input shape,
and nothing else: no training data reaches it. Its defaults:"""),
    code('''cfg = MIFaceConfig()
table([("steps at most (alpha)", cfg.steps), ("step size (lambda)", cfg.lr),
       ("weight of the TV prior", cfg.tv_weight), ("patience (beta)", cfg.patience),
       ("stop cost (gamma)", cfg.stop_cost), ("denoise every ... steps (0: never)",
                                              cfg.denoise_every)],
      ["setting of MIFaceConfig", "default"])'''),
    md(r"""### A target, and a judge

The target is a classifier trained on real data: scikit-learn's handwritten digits, 8 x 8 grey
images of ten classes. `inversion_case` shuffles the 1797 digits and cuts them in two halves.
The *target*, a multilayer perceptron with 128 ReLU units trained with an L2 penalty (weight
decay), learns from the first half. The second half trains the *evaluation classifier*, a
convolutional LeNet with another seed.

The judge matters. The target's own confidence says nothing: the attack optimised it, and any
image that fools the target scores near 100 %. An independent classifier, of another
architecture, trained on other data and never shown to the attack, tells us instead whether
the image carries the class for someone else. We also compare each inversion with the real
*mean image* of its class (from the evaluator's half), by Pearson correlation and SSIM."""),
    code('''case = inversion_case("digits", seed=0)
table([("target (attacked)", type(case.target).__name__, len(case.target_split),
        pct(case.target_accuracy)),
       ("evaluation classifier (judge)", type(case.evaluator).__name__, len(case.eval_split),
        pct(case.evaluator_accuracy))],
      ["model", "architecture", "trained on (digits)", "accuracy on the other half"])
glue("digits_target_acc", pct(case.target_accuracy), display=False)
glue("digits_eval_acc", pct(case.evaluator_accuracy), display=False)'''),
    md(r"""Both models are good classifiers: the target reaches {glue:text}`digits_target_acc`
on the digits it never saw, the judge {glue:text}`digits_eval_acc`. Now the attack, all ten
classes at once, from a black image (a blank page of white-on-black digits):"""),
    code('''inv = mi_face(case.target, range(10), case.input_shape, start=case.blank)
scores = score_inversion(inv.images, inv.classes, case.evaluator, case.means)
predicted = predict_logits(case.evaluator, inv.images).argmax(-1)
x_eval, y_eval = case.data.images[case.eval_split], case.data.labels[case.eval_split]
examples = torch.stack([x_eval[y_eval == k][0] for k in range(10)])
fig = plot_inversions(inv.images, inv.classes, case.means, examples=examples,
                      class_names=case.data.classes, predicted=predicted,
                      title="MI-Face on the digit classifier: real digits (top two rows) and "
                      "inversions, with the judge's verdict")
blank = torch.full((10, *case.input_shape), case.blank)
blank_rate = recognised_fraction(case.evaluator, blank, torch.arange(10))
table([("recognised by the evaluation classifier", pct(scores.eval_accuracy),
        pct(scores.chance)),
       ("most correlated with its own class mean", pct(scores.nearest_mean_accuracy),
        pct(scores.chance)),
       ("correlation with the class mean", f"{scores.correlation:.2f}", "0"),
       ("SSIM with the class mean", f"{scores.ssim:.2f}", ""),
       ("the target's confidence (what the attack optimised)",
        pct(float(inv.confidence.mean())), pct(scores.chance))],
      ["digit inversions", "MI-Face", "chance"])
glue("mi_steps", inv.steps, display=False)
glue("mi_seconds", f"{inv.seconds:.1f}", display=False)
glue("digits_recognised", pct(scores.eval_accuracy), display=False)
glue("digits_nearest", pct(scores.nearest_mean_accuracy), display=False)
glue("digits_corr", f"{scores.correlation:.2f}", display=False)
glue("digits_blank", pct(blank_rate), display=False)'''),
    md(r"""In {glue:text}`mi_steps` steps ({glue:text}`mi_seconds` s) MI-Face turns a black
square into ten images that the judge, which never took part, assigns to their digits in
{glue:text}`digits_recognised` of the cases; {glue:text}`digits_nearest` of them are closer
(by correlation) to the mean of their own digit than to any other mean, and their mean
correlation with it is {glue:text}`digits_corr`. The blank start itself is recognised as its
digit {glue:text}`digits_blank` of the time, so what the judge sees was put there by the model.

The inversions are not handwriting: their pixels are mostly black or white, because the step
goes on pushing each pixel as long as the confidence can still grow. They are the strokes that
the target relies on most, a caricature of the class rather than an example of it. The test
suite runs this notebook; these checks make it fail if the key results change."""),
    code('''assert scores.eval_accuracy >= 0.8, "inversions should be recognised far above chance"
assert scores.nearest_mean_accuracy >= 0.8 and scores.correlation > 0.5
assert blank_rate <= 0.1, "the blank start alone must not carry the classes"'''),
    md(r"""### Faces

{cite:t}`fredrikson2015model` inverted face recognition models, where each class is one
person. When torchvision can download Labeled Faces in the Wild {cite:p}`huang2007labeled`,
`inversion_case("lfw")` keeps the five people with most photos and inverts each of them.
Offline (and in the reduced run) it falls back, with a one-line message, to the 200 crops that
scikit-image ships: 100 faces and 100 non-faces, a face detector's task rather than a face
recogniser's. Photos have no black background, so the blank start is mid-grey, and we run four
starts per class, three of them with a little noise."""),
    code('''face_case = inversion_case("faces" if QUICK else "lfw", seed=0)
face_inv = mi_face(face_case.target, range(face_case.num_classes), face_case.input_shape,
                   start=face_case.blank, restarts=4)
face_scores = score_inversion(face_inv.images, face_inv.classes, face_case.evaluator,
                              face_case.means)
xf, yf = face_case.data.images[face_case.eval_split], face_case.data.labels[face_case.eval_split]
face_examples = torch.stack([xf[yf == k][0] for k in range(face_case.num_classes)])
fig = plot_inversions(face_inv.images, face_inv.classes, face_case.means,
                      examples=face_examples, class_names=face_case.data.classes,
                      predicted=predict_logits(face_case.evaluator, face_inv.images).argmax(-1),
                      title=f"MI-Face on {face_case.data.name}: real (top two rows) and inverted")
fig, ax = plt.subplots(figsize=(8, 2.2))
ax.imshow(image_grid(face_inv.images, nrow=len(face_inv.images), padding=1), cmap="gray",
          vmin=0, vmax=1, interpolation="nearest")
ax.set_title("all starts, class by class (" + ", ".join(
    f"{face_case.data.classes[k]}" for k in range(face_case.num_classes)) + ")", fontsize=9)
ax.axis("off")
table([(face_case.data.name, face_case.num_classes, pct(face_case.target_accuracy),
        pct(face_scores.eval_accuracy), pct(face_scores.chance),
        f"{face_scores.correlation:.2f}", pct(face_scores.nearest_mean_accuracy))],
      ["dataset", "classes", "target's accuracy", "inversions recognised", "chance",
       "correlation with the class mean", "closest to own class mean"])
glue("faces_name", face_case.data.name, display=False)
glue("faces_recognised", pct(face_scores.eval_accuracy), display=False)
glue("faces_chance", pct(face_scores.chance), display=False)
glue("faces_corr", f"{face_scores.correlation:.2f}", display=False)
assert face_scores.eval_accuracy > face_scores.chance
assert face_scores.nearest_mean_accuracy > face_scores.chance'''),
    md(r"""On {glue:text}`faces_name` the judge recognises {glue:text}`faces_recognised` of the
inversions (chance: {glue:text}`faces_chance`), and their correlation with the real class mean
is {glue:text}`faces_corr`. On the offline crops the inversion of "face" has the parts a face
detector looks for, eyes, eyebrows, a nose and a mouth, bright where skin is and dark where the
eyes are. The inversion of "non-face" is the same layout with the contrast reversed: a
classifier of two classes learns one direction, and the representative of "anything but a
face" is an anti-face.

## The GAN attack, step by step

MI-Face needs a finished model. {cite:t}`hitaj2017deep` attack while the model is being
trained, from inside the federation, and go after a class that only the victim holds. The
setting, on real digits:

- the participants agree on the classes of a shared model, the book's LeNet with ReLU, plus
  one extra output: class 10, *fake*, which no honest participant ever uses;
- the victim holds every example of one digit, here the 3s, and a share of the other digits;
  nobody else holds a single 3;
- the adversary and two honest participants hold shares of the other digits;
- they train with FedAvg: every round each participant takes one pass of minibatch SGD over
  its data, starting from the shared model, and the server averages the changes.

A third of the digits is held by nobody: it trains the evaluation classifier, a fully connected
network this time, so that it differs from the shared LeNet; another sixth is the test set of
the main task."""),
    code('''SEED = 1
ROUNDS = 40 if QUICK else 100
base = GANAttackConfig(seed=SEED, rounds=ROUNDS)
fed = federation(base)
roles = ["victim", "adversary"] + ["honest"] * (base.participants - 2)
table([(k + 1, role, len(y), int((y == base.victim_class).sum()),
        " ".join(str(c) for c in sorted(set(y.tolist()))))
       for k, (role, (_, y)) in enumerate(zip(roles, fed.parts))],
      ["participant", "role", "examples", f"of digit {base.victim_class}", "digits held"])
glue("gan_victim_n", int((fed.parts[0][1] == base.victim_class).sum()), display=False)
glue("gan_eval_n", len(fed.evaluator_data[1]), display=False)
glue("gan_test_n", len(fed.test[1]), display=False)
glue("gan_eval_acc", pct(fed.evaluator_accuracy), display=False)
glue("gan_rounds", ROUNDS, display=False)'''),
    md(r"""The victim holds all {glue:text}`gan_victim_n` of the federation's 3s. The judge is
trained on {glue:text}`gan_eval_n` other digits and reaches {glue:text}`gan_eval_acc` on the
{glue:text}`gan_test_n` test digits.

Every round the adversary receives the shared model, like everyone else, and then:

1. **trains its generator against the shared model.** The generator turns random noise into
   8 x 8 images; a few Adam steps make the shared model classify them as a 3. The shared model
   knows what a 3 is only from the victim's updates, so this is where the victim's class
   leaks. To keep different noise from collapsing onto a single image, `dlgtut` adds the
   mode-seeking term of {cite:t}`mao2019mode`;
2. **injects its samples under the fake class** (the *active* attack): it adds as many
   generated images as it has real ones to its local data, labelled 10, and shares an
   ordinary-looking FedAvg update. The shared model learns that the generator's current
   imitations are *not* 3s, and the victim's next update, made on real 3s, must teach it the
   difference. The federation becomes the discriminator of a generative adversarial network.

In code, the adversary's round:"""),
    code('''print(inspect.getsource(GANAdversary.update).split('"""')[2].strip())'''),
    md(r"""We run {glue:text}`gan_rounds` rounds and judge the generator every ten, on 100
samples from fixed noise; each row shows ten of them and the share the judge recognised as 3s:"""),
    code('''runs = {"active": gan_attack(base, setting=fed)}
active = runs["active"]
fig = plot_rounds(active, fed.victim_examples,
                  title="The active adversary's generator, round by round (bottom: the "
                  "victim's real 3s, which the adversary never sees)")
glue("active_final", pct(active.recognised[-1]), display=False)
glue("active_late", pct(active.late_recognised), display=False)
glue("active_sim", f"{active.late_similarity:.2f}", display=False)
glue("gan_chance", pct(active.chance), display=False)'''),
    md(r"""The generator starts from grey noise, and after a few dozen rounds produces images that
look like the victim's 3s, although the adversary has never seen one: after the last round the
judge recognises {glue:text}`active_final` of them as 3s (chance: {glue:text}`gan_chance`),
and {glue:text}`active_late` on average over the second half of the run. The share jumps from
round to round because the generator and the shared model chase each other, as in any GAN,
which is why we also report the average.

### Passive, a baseline, and a victim with differential privacy

Three comparisons, from the same data and the same seed:

- a **passive** adversary trains the same generator against the shared model but shares
  honest updates, without the fake class;
- the **baseline** (`mode="untrained"`) trains the same generator, for as many steps, against
  the shared model of round one, before anyone trained it: what a generator can do without
  the federation's knowledge;
- a **DP victim** trains with DP-SGD {cite:p}`abadi2016deep` through Opacus: every example's
  gradient is clipped to norm 1 and Gaussian noise is added, so that its updates bound what
  they reveal about any one of its examples, with the privacy budget $\varepsilon$ that the
  accountant reports at $\delta = 10^{-5}$. We run it against the active and the passive
  adversary."""),
    code('''runs["passive"] = gan_attack(base, setting=fed, mode="passive")
runs["baseline (untrained model)"] = gan_attack(base, setting=fed, mode="untrained")
runs["active, DP victim"] = gan_attack(base, setting=fed, dp_victim=True)
runs["passive, DP victim"] = gan_attack(base, setting=fed, mode="passive", dp_victim=True)
fig = plot_curves({k: v for k, v in runs.items() if k != "passive, DP victim"},
                  title=f"GAN attack on digit {base.victim_class}: {ROUNDS} rounds of FedAvg, "
                  f"{base.participants} participants")
table([(name, pct(r.recognised[-1]), pct(r.late_recognised), f"{r.late_similarity:.2f}",
        pct(r.accuracy[-1]), pct(r.victim_accuracy[-1]),
        "-" if r.epsilon is None else f"{r.epsilon:.1f}", f"{r.seconds:.0f}")
       for name, r in runs.items()],
      ["adversary", "recognised after the last round", "recognised, second half (mean)",
       "correlation with the mean 3", "main task: test accuracy", "test accuracy on 3s",
       "victim's epsilon", "seconds"])
for key, name in (("passive", "passive"), ("base", "baseline (untrained model)"),
                  ("dp", "active, DP victim"), ("dp_passive", "passive, DP victim")):
    glue(f"{key}_late", pct(runs[name].late_recognised), display=False)
    glue(f"{key}_sim", f"{runs[name].late_similarity:.2f}", display=False)
    glue(f"{key}_acc", pct(runs[name].accuracy[-1]), display=False)
    glue(f"{key}_acc3", pct(runs[name].victim_accuracy[-1]), display=False)
glue("active_acc", pct(active.accuracy[-1]), display=False)
glue("active_acc3", pct(active.victim_accuracy[-1]), display=False)
glue("dp_eps", f"{runs['active, DP victim'].epsilon:.1f}", display=False)
glue("dp_noise", base.noise_multiplier, display=False)'''),
    md(r"""The samples of the last round, run by run, beside the victim's real 3s:"""),
    code('''shown = {**{k: r.samples[:20] for k, r in runs.items()},
         "real 3s (victim's)": fed.victim_examples}
fig, axes = plt.subplots(len(shown), 1, figsize=(8, 0.75 * len(shown) + 0.4))
for ax, (name, batch) in zip(axes, shown.items()):
    ax.imshow(image_grid(batch, nrow=20, padding=1), cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
fig.suptitle(f"Generated samples after round {ROUNDS}", fontsize=10)
fig.tight_layout()'''),
    md(r"""- The **passive** adversary's generator also finds inputs that the shared model calls
  3, but they are not 3s: nothing tells the shared model that they are wrong, so the generator
  settles on whatever pattern excites the 3 output most. The judge recognises
  {glue:text}`passive_late` of them over the second half (the active attack:
  {glue:text}`active_late`), and their correlation with the real mean 3 is
  {glue:text}`passive_sim` against {glue:text}`active_sim`.
- The **baseline** generator, trained as long against a model that has learned nothing,
  produces noise that the judge recognises {glue:text}`base_late` of the time: whatever the
  active generator shows about 3s, it learned from the federation, that is from the victim.
- The **DP victim** spends a privacy budget of $\varepsilon =$ {glue:text}`dp_eps` (noise
  multiplier {glue:text}`dp_noise`), and the attack still recovers its class, if less
  steadily: the judge recognises {glue:text}`dp_late` of the samples over the second half
  (without DP: {glue:text}`active_late`; chance: {glue:text}`gan_chance`), and their
  correlation with the real mean 3 is {glue:text}`dp_sim`, against {glue:text}`passive_sim`
  for the passive adversary's. Differential privacy bounds what the updates say about any
  *one* of the victim's 3s; the GAN attack learns what 3s look like in general, which every 3
  says, and which is exactly what the victim wants the model to learn. This is the point {cite:t}`hitaj2017deep` make about
  record-level privacy.
- **The main task pays.** With the active adversary the shared model reaches
  {glue:text}`active_acc` test accuracy against {glue:text}`passive_acc` with the passive one
  (whose updates are honest), and the loss is concentrated on the victim's class: its test 3s
  are classified correctly {glue:text}`active_acc3` of the time against
  {glue:text}`passive_acc3`, because the fake class now claims everything that looks like the
  generator's 3s. A victim that watched its own class's accuracy could notice. With the DP
  victim the 3s are classified correctly {glue:text}`dp_passive_acc3` of the time with a
  passive adversary and {glue:text}`dp_acc3` with an active one. (The passive adversary and
  the baseline share honest updates, so their federations, and their curves in the
  two panels on the right, are the same.)

These checks make the notebook fail if the key results change:"""),
    code('''base_run = runs["baseline (untrained model)"]
assert active.late_recognised >= 3 * active.chance, "the active attack should recover the 3s"
assert active.recognised[-1] >= 0.5
assert active.late_recognised >= base_run.late_recognised + 0.4, "and beat the baseline"
assert active.late_similarity > runs["passive"].late_similarity + 0.2
assert runs["active, DP victim"].late_similarity > runs["passive"].late_similarity + 0.2
assert runs["active, DP victim"].late_recognised > 2 * active.chance
assert 0 < runs["active, DP victim"].epsilon < 20
assert active.victim_accuracy[-1] < runs["passive"].victim_accuracy[-1]'''),
    md(r"""One seed is one run of a game between a generator and a federation. In the full run of
this notebook the same comparison is repeated with the seeds 0 and 2 (other splits, other
initial models, other noise):"""),
    code('''if QUICK:
    print("(skipped in the reduced run)")
else:
    rows = []
    for seed in (0, 1, 2):
        if seed == SEED:
            pair = (runs["active"], runs["passive"])
        else:
            other = federation(base, seed=seed)
            pair = tuple(gan_attack(base, setting=other, seed=seed, mode=m)
                         for m in ("active", "passive"))
        rows.append((seed, *[pct(r.recognised[-1]) for r in pair],
                     *[pct(r.late_recognised) for r in pair],
                     *[f"{r.late_similarity:.2f}" for r in pair]))
    table(rows, ["seed", "active: last round", "passive: last round", "active: second half",
                 "passive: second half", "active: correlation", "passive: correlation"])'''),
    md(r"""The active adversary's samples end up recognised as 3s with every seed, but when
they get there varies, and the passive adversary's junk is sometimes recognised too: a
classifier can be fooled by patterns that fool another. The correlation with the real mean 3,
which no such pattern reaches, separates the two attacks more reliably than the judge's
verdict alone.

## What limits these attacks

**The target's architecture.** MI-Face recovers recognisable digits from the MLP. Here is the
same attack on a convolutional LeNet, trained on the same half of the digits with the same
recipe, and judged by an MLP (the judge must not share the target's architecture):"""),
    code('''xa, ya = case.data.images[case.target_split], case.data.labels[case.target_split]
cnn = LeNet(1, 10, 8, activation="relu", init="default", seed=0)
train_classifier(cnn, xa, ya, epochs=60, lr=3e-3, weight_decay=0.01, seed=0)
mlp_judge = train_evaluator(x_eval, y_eval, 10, architecture="mlp", seed=1, epochs=80)
cnn_inv = mi_face(cnn, range(10), case.input_shape, start=case.blank)
cnn_scores = score_inversion(cnn_inv.images, cnn_inv.classes, mlp_judge, case.means)
mlp_scores_by_mlp = score_inversion(inv.images, inv.classes, mlp_judge, case.means)
table([("MLP (as above)", "LeNet", pct(scores.eval_accuracy), f"{scores.correlation:.2f}"),
       ("MLP", "MLP", pct(mlp_scores_by_mlp.eval_accuracy), f"{scores.correlation:.2f}"),
       ("LeNet", "MLP", pct(cnn_scores.eval_accuracy), f"{cnn_scores.correlation:.2f}")],
      ["target", "judge", "inversions recognised", "correlation with the class mean"])
fig, ax = plt.subplots(figsize=(8, 1.4))
ax.imshow(image_grid(cnn_inv.images, nrow=10, padding=1), cmap="gray", vmin=0, vmax=1,
          interpolation="nearest")
ax.set_title("MI-Face on the convolutional target, digits 0 to 9", fontsize=9)
ax.axis("off")
glue("cnn_recognised", pct(cnn_scores.eval_accuracy), display=False)
glue("cnn_corr", f"{cnn_scores.correlation:.2f}", display=False)
assert cnn_scores.correlation < scores.correlation'''),
    md(r"""The judge still assigns {glue:text}`cnn_recognised` of the LeNet's inversions to their
digits, but look at them: blocks of grey that no one would read as digits, with a correlation
of {glue:text}`cnn_corr` with the class means against {glue:text}`digits_corr` for the MLP's.
A convolutional network's confidence can be raised by patterns that are not the class at all,
adversarial examples, and the same patterns often raise the confidence of other networks
trained on the same task, the judge included. The simple TV prior does not prevent that. Later
attacks replace it with a prior learned from public data, a generator trained on other faces
{cite:p}`zhang2020secret`, and invert deep networks that way.

**A representative, not a record.** Both attacks recover what the model knows about a class,
which is an average of its examples. If a class holds many people, that average reveals little
about any of them; if it is one person, it is that person.

**The judge.** How often a judge "recognises" generated samples depends on the judge. The
passive adversary's samples above are patterns fitted to the shared LeNet. A judge of the same
family, a LeNet trained on the same digits as ours, is fooled by them much more often:"""),
    code('''x_judge, y_judge = fed.evaluator_data
lenet_judge = train_evaluator(x_judge, y_judge, 10, architecture="lenet", seed=SEED + 1)
passive = runs["passive"]
table([(name, pct(recognised_fraction(fed.evaluator, r.samples, base.victim_class)),
        pct(recognised_fraction(lenet_judge, r.samples, base.victim_class)))
       for name, r in runs.items()],
      ["adversary", "recognised as 3 by the MLP judge (used above)",
       "by a LeNet judge (same family as the shared model)"])
glue("passive_lenet", pct(recognised_fraction(lenet_judge, passive.samples, base.victim_class)),
     display=False)
glue("passive_mlp", pct(recognised_fraction(fed.evaluator, passive.samples, base.victim_class)),
     display=False)'''),
    md(r"""The LeNet judge calls {glue:text}`passive_lenet` of the passive adversary's final
samples 3s, the MLP judge {glue:text}`passive_mlp`: inputs crafted against one network often
fool its relatives. That is why the judge here differs from the attacked model in
architecture as well as in data and seed, and why we also report similarity to the real class.

**The GAN attack needs time and is unstable.** It needs dozens of rounds before its samples
look like the class, its generator and the shared model keep chasing each other, and the
generator tends to produce one image for all noise (mode collapse). It also damages the main
task on the victim's class, which a careful victim can notice.

**Differential privacy at the record level does not help.** It hides individual examples,
not the class they share; protecting a class would need participant-level privacy, where each
participant's whole contribution is noised, at a much higher cost in accuracy.

## Summary

- Model inversion reads what a class looks like out of a trained model. MI-Face is gradient
  descent on the class's confidence from a blank image, with a total-variation prior; it needs
  the model and nothing else, so any participant, the server or any user of the released model
  can run it.
- On real digits, MI-Face's inversions of an MLP are recognised by an independent judge in
  {glue:text}`digits_recognised` of the cases; on faces it recovers the layout of a face. On a
  convolutional target its inversions stop looking like the class, although they still fool
  a judge.
- The GAN attack turns the federation into the discriminator of a GAN. On digits, an insider
  who never held a 3 generates images that an independent judge recognises as 3s
  ({glue:text}`active_late` over the second half of the run), far more than a generator trained
  without the federation ({glue:text}`base_late`) and, by their similarity to real 3s, far more
  faithful than a passive adversary's.
- DP-SGD at $\varepsilon =$ {glue:text}`dp_eps` does not stop it: record-level privacy hides
  records, not classes. The active attack costs the main task accuracy on the victim's class.
- Judge inversions with a classifier the attack never saw, of another architecture, and
  compare them with the real class; the attacked model's confidence proves nothing.

## Exercises

1. Run MI-Face on the digit target with `tv_weight=0`, `0.05` and `0.2`, and with
   `denoise_every=10`. How do the images, the judge's verdict and the correlation with the
   class mean change? Which prior makes the inversions look most like handwriting?
2. Train the target without weight decay (`inversion_case(..., weight_decay=0)`). Why does the
   L2 penalty make the inversions more recognisable? Relate your answer to the weights of a
   linear model, whose inversion is its weight vector.
3. MI-Face's inversion is one image per class. Use `restarts=8` with `noise=0.2` and look at
   the spread of the inversions. Do different starts find different "styles" of a digit?
4. Run `python -m dlgtut gan-attack --out gan --victim-class 0` and with the classes 1, 5
   and 7. For which digits is the attack fastest? Look at `rounds.png` and at the baseline
   (`--mode untrained`) for digit 7: what does the judge think of noise?
5. Make the DP victim stronger: `--dp --noise-multiplier 4`. What happens to epsilon, to the
   main task's accuracy on the victim's class and to the attack?
6. Project: the adversary of Hitaj et al. only needs the shared model. Write a *server* that
   runs the attack instead: it holds no data, trains the generator against the global model,
   and adds its fake samples to the global model's update itself. How does it compare with the
   insider, and which defence of the previous chapters would notice it?"""),
]

write_notebook(cells, "book/model_inversion.ipynb")
