"""The reader-environment check: the book's notebooks run where readers run them.

A reader opens a chapter or an assignment in Colab and runs it top to bottom. Colab already
has Jupyter's kernel, numpy, matplotlib, torch, torchvision, ipywidgets 7.7.1 and several hundred
other packages; the notebook's first cell adds dlgtut with the extras it names, from the tagged
release, without the project's constraints file. This package rebuilds that:

* ``host.txt`` is the recorded Colab-like host: Colab's own versions (from the public
  ``googlecolab/backend-info`` freeze) of every package the install could touch, with the
  Python version and the date that fixes what the install adds (``record.py`` writes it);
* :mod:`.envs` builds a virtual environment holding exactly that host, clones it (hard links:
  seconds, no extra disk) for each notebook, and asks pip what each first cell's install would
  change: replacing a package the host has is a failure (Colab would have to restart);
* :mod:`.notebooks` runs a chapter (quick mode) or an assignment's student notebook (with the
  reference answers pasted in and its public tests taken from the built assignment) in such a
  clone, with the first cell's Colab branch taken (a stub ``google.colab``) and the freshly
  built wheel standing in for the release; a failure names the notebook, the cell and the error.

``tests/test_reader.py`` runs it in the test suite; ``python -m tools.reader_check`` runs it by
hand (``--help``), e.g. with the newest torch on the index instead of Colab's.
"""
