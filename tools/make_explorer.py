"""Write book/dlg_explorer.ipynb (without outputs). Run: .venv/bin/python tools/make_explorer.py"""

from nbtools import COLAB, code, md, write_notebook

cells = [
    md(r"""(chapter-dlg-explorer)=
# Explore the attack

Pick a private image, a batch size, the number of iterations and how the dummy starts, run the
attack, and scrub through the reconstruction step by step. The controls need a running Python
kernel: open this page in Colab (the rocket button above) or run it locally. On the static page,
the animation below shows the default run, computed when the book was built."""),
    code(COLAB),
    code('''import os
import tempfile
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import Image, clear_output, display

from dlgtut.attacks import dlg
from dlgtut.data import load_dataset
from dlgtut.fl import Participant, PrivateBatch
from dlgtut.metrics import score
from dlgtut.models import LeNet
from dlgtut.viz import save_gif

QUICK = os.environ.get("DLGTUT_QUICK") == "1"
photos = load_dataset("photos", size=32, channels=3)
faces = load_dataset("faces", size=32, channels=3)
digits = load_dataset("digits", size=32, channels=3)
CHOICES = {f"photo: {name}": (photos, photos.classes.index(name))
           for name in ("chelsea", "coffee", "rocket", "flower", "astronaut")}
CHOICES.update({f"face {i}": (faces, i) for i in (0, 1, 2)})
CHOICES.update({f"digit {i}": (digits, i) for i in (0, 1, 2)})


def attack(choice, batch_size=1, iterations=300, init="grey"):
    """The participant's batch starting at the chosen image, its gradient, and the attack."""
    data, index = CHOICES[choice]
    if data is photos:
        X = photos.images[index:index + batch_size]  # photos have one class each
        y = torch.arange(index, index + batch_size) % len(photos)
        X = torch.cat([X, photos.images[: batch_size - len(X)]]) if len(X) < batch_size else X
    else:
        X, y, _ = data.batch(index, batch_size)
    net = LeNet(3, 100, 32, seed=1234)
    update = Participant(net).fedsgd(PrivateBatch(X, y))
    rec = dlg(update, iterations=iterations, init=init, snapshot_every=1, progress=not QUICK)
    return X, y, rec'''),
    md(r"""## The default run

One photo, the paper's LeNet, `dlgtut`'s default attack. Each frame is the dummy image after
one more optimiser step, next to the private image it converges to."""),
    code('''X, y, rec = attack("photo: chelsea", iterations=60 if QUICK else 300)
with tempfile.TemporaryDirectory() as tmp:
    gif = save_gif(rec.history, Path(tmp) / "dlg.gif", truth=X, scale=6, duration_ms=150)
    animation = gif.read_bytes()
print(rec.message)
Image(data=animation, format="gif")'''),
    md(r"""## Your turn

Change the controls and press **Run**. A batch takes the chosen image and the next ones with
distinct labels. Try a batch of four photos (it fails; the deep leakage chapter explains why),
a batch of four digits (it works), and the paper's random start (`randn`)."""),
    code('''choice = widgets.Dropdown(options=list(CHOICES), value="photo: chelsea", description="image")
batch = widgets.IntSlider(value=1, min=1, max=4, description="batch size")
iterations = widgets.IntSlider(value=100, min=10, max=300, step=10, description="iterations")
init = widgets.Dropdown(options=["grey", "rand", "randn"], value="grey", description="start")
run = widgets.Button(description="Run", button_style="primary", icon="play")
step = widgets.IntSlider(value=0, min=0, max=0, description="step", continuous_update=True)
status = widgets.HTML()
canvas = widgets.Output()
state = {}


def draw(_=None):
    X, y, rec = state["run"]
    snap = rec.history[step.value]
    n = X.shape[0]
    with canvas:
        clear_output(wait=True)
        fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.6), squeeze=False)
        for i in range(n):
            axes[0, i].imshow(X[i].permute(1, 2, 0), interpolation="nearest")
            axes[1, i].imshow(snap.images[i].permute(1, 2, 0), interpolation="nearest")
            axes[0, i].set_title(f"private, label {int(y[i])}")
            axes[1, i].set_title(f"step {snap.iteration}")
            axes[0, i].axis("off")
            axes[1, i].axis("off")
        fig.suptitle(f"gradient distance {snap.distance:.2e}")
        plt.show()


def on_run(_=None):
    run.disabled = True
    status.value = "running..."
    X, y, rec = attack(choice.value, batch.value, iterations.value, init.value)
    state["run"] = (X, y, rec)
    s = score(rec.images, rec.labels, X, y)
    status.value = (f"<b>{rec.status}</b> after {rec.iterations} steps ({rec.seconds:.1f} s): "
                    f"PSNR {s.psnr:.1f} dB, labels {s.label_accuracy:.0%} right")
    step.max = len(rec.history) - 1
    step.value = step.max
    draw()
    run.disabled = False


step.observe(draw, names="value")
run.on_click(on_run)
display(widgets.VBox([widgets.HBox([choice, batch]), widgets.HBox([iterations, init, run]),
                      status, step, canvas]))
iterations.value = 20 if QUICK else 100
on_run()'''),
    code('''X_, y_, rec_ = state["run"]  # the widgets' first run recovered the photo
assert score(rec_.images, rec_.labels, X_, y_).psnr > 25'''),
]

write_notebook(cells, "book/dlg_explorer.ipynb")
