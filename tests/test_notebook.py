"""The same file as a notebook: converted by jupytext, run top to bottom in a real Jupyter kernel
after the constants in its settings cell are edited, as a Colab or Jupyter user would."""
import json
import re

import jupytext
import pytest
from nbclient import NotebookClient

from conftest import SAMPLE, SCRIPT

FIGURES = ["loss.png", "reconstructions.png", "latent.png", "anomalies.png", "runs.png"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("notebook")
    notebook = jupytext.read(SCRIPT)
    [settings] = [cell for cell in notebook.cells if cell.source.startswith("DATASET = ")]
    edits = {"DATASET": repr(str(SAMPLE)), "VAL_SIZE": "200", "EPOCHS": "1", "BATCH_SIZE": "32",
             "OUTPUT_DIR": repr(str(output_dir / "outputs"))}
    for name, value in edits.items():
        settings.source, count = re.subn(rf"^{name} = \S+", f"{name} = {value}", settings.source,
                                         flags=re.M)
        assert count == 1, name
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(output_dir)}}).execute()
    return notebook, output_dir / "outputs"


def test_the_file_is_a_notebook_of_prose_and_code_cells():
    notebook = jupytext.read(SCRIPT)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds[0] == "markdown" and kinds.count("markdown") >= 12 and kinds.count("code") >= 12
    assert notebook.cells[0].source.startswith("# An autoencoder for MNIST")


def test_it_runs_top_to_bottom_in_a_kernel_and_writes_the_files(executed):
    notebook, output_dir = executed
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.output_type == "error"]
    assert not errors
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 1 and metrics["settings"]["DATASET"] == str(SAMPLE)
    for name in ["autoencoder.h5", "history.csv", "runs.csv", *FIGURES]:
        assert (output_dir / name).stat().st_size > 0, name


def test_each_figure_is_shown_inline_under_the_cell_that_draws_it(executed):
    notebook, _ = executed
    for figure in FIGURES:
        [cell] = [cell for cell in notebook.cells if f'"{figure}"), dpi=' in cell.source]
        images = [output for output in cell.outputs if "image/png" in output.get("data", {})]
        assert len(images) == 1, figure
    shown = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
             if "image/png" in output.get("data", {})]
    assert len(shown) == len(FIGURES)
