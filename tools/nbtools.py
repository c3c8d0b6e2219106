"""What the scripts that write the book's notebooks share: the Colab cell and the writer.

Each `make_*.py` script lays out one chapter as a list of cells and calls `write_notebook`.
The notebooks are stored without outputs; the book build executes them.
"""

from pathlib import Path

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell

REPOSITORY = "https://github.com/dlgtut/dlgtut"

COLAB = f'''# Installs dlgtut when this notebook runs in Colab; does nothing anywhere else.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "dlgtut @ git+{REPOSITORY}"'''


def write_notebook(cells: list, path: str) -> None:
    """Validate the cells as a Python 3 notebook and write it, without outputs, to `path`.

    Cells get stable ids (the file name and the position), so regenerating a notebook changes
    only the cells whose content changed.
    """
    prefix = Path(path).stem.replace("_", "-")
    for i, cell in enumerate(cells):
        cell.id = f"{prefix}-{i:02d}"
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbf.validate(nb)
    Path(path).write_text(nbf.writes(nb))
    print(f"wrote {path}")
