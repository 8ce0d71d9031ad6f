"""Every notebook runs top to bottom in a real Jupyter kernel, in quick mode (FMNIST_QUICK=1), and
the first one's curves are redrawn in place while its run trains."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Run ``path`` in a fresh kernel with ``cwd`` as its folder; a cell's error fails the test
    with that cell's traceback."""
    notebook = nbformat.read(path, as_version=4)
    os.environ["FMNIST_QUICK"] = "1"  # the kernel inherits this process's environment
    try:
        NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": cwd}}
        ).execute()
    finally:
        del os.environ["FMNIST_QUICK"]
    return notebook


def test_there_are_notebooks_and_they_are_committed_without_outputs():
    assert len(NOTEBOOKS) >= 4
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert all(not cell.get("outputs") for cell in cells if cell.cell_type == "code"), path


@pytest.fixture(scope="module")
def first_look(tmp_path_factory) -> tuple[nbformat.NotebookNode, Path]:
    folder = tmp_path_factory.mktemp("first_look")
    return execute(NOTEBOOKS[0], folder), folder


def drawn(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """Every output of every cell; an error output fails the caller's check."""
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom_in_a_real_kernel(path, tmp_path):
    shown = drawn(execute(path, tmp_path))
    assert not [output for output in shown if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in shown)  # it drew something


def test_the_first_notebook_runs_and_redraws_its_curves_in_place_every_epoch(first_look):
    executed, folder = first_look
    assert not [output for output in drawn(executed) if output.output_type == "error"]
    train = next(cell for cell in executed.cells if "fmnist.fit(" in cell.source)
    live = [
        output
        for output in train.outputs
        if output.get("metadata", {}).get("fmnist", {}).get("epochs_drawn")
    ]
    assert len(live) == 1 and "image/png" in live[0].data  # one figure, updated in place
    epochs = len(next(folder.rglob("metrics.jsonl")).read_text().splitlines())
    assert live[0].metadata["fmnist"]["epochs_drawn"] == epochs >= 2
