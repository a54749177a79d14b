"""Ctrl-C and `kill`: the first stops training and the run goes on; the next stops the run."""
import csv
import json
import signal
import time

import pytest

from conftest import QUICK, error_lines, start_script


def wait_for(path, text, process, seconds=120):
    deadline = time.monotonic() + seconds
    while text not in path.read_text():
        assert process.poll() is None, path.read_text()[-3000:]
        assert time.monotonic() < deadline, f"never saw {text!r}"
        time.sleep(0.1)


DAMAGED_RUNS_CSV = {  # what a learner's runs.csv can look like after a spreadsheet had it
    signal.SIGINT: "finished_at,test_mse\n2026-01-01 10:00:00,0.5\ncaf\xe9 au lait,\xb5\n".encode("latin-1"),
    signal.SIGTERM: b"finished_at,test_mse\n2026-01-01 10:00:00,0.5,one field too many\n",
}


@pytest.mark.parametrize("stop_signal", DAMAGED_RUNS_CSV)
def test_ctrl_c_or_kill_stops_training_and_a_damaged_runs_csv_is_kept(tmp_path, stop_signal):
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    (output_dir / "runs.csv").write_bytes(DAMAGED_RUNS_CSV[stop_signal])
    log = tmp_path / "log.txt"
    with open(log, "w") as stdout:
        process = start_script(*QUICK, "--EPOCHS=1000", f"--OUTPUT_DIR={output_dir}", stdout=stdout)
        wait_for(log, "Epoch 2/1000", process)  # one full epoch done
        process.send_signal(stop_signal)
        process.wait(timeout=120)
    output = log.read_text()
    assert process.returncode == 0, output[-3000:]
    assert "Interrupted: " in output and "Traceback" not in output
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["interrupted"] is True and 1 <= metrics["epochs_trained"] < 1000
    history = list(csv.DictReader(open(output_dir / "history.csv")))
    assert len(history) == metrics["epochs_trained"]
    assert (output_dir / "autoencoder.h5").exists() and not list(output_dir.glob(".run-*"))
    # The damaged runs.csv is left as it was, with one warning; the run's row goes beside it.
    assert (output_dir / "runs.csv").read_bytes() == DAMAGED_RUNS_CSV[stop_signal]
    assert len([line for line in output.splitlines() if line.startswith("warning: runs.csv")]) == 1
    [row] = list(csv.DictReader(open(output_dir / f"runs-{metrics['run_id']}.csv")))
    assert row["run_id"] == metrics["run_id"] and row["interrupted"] == "True"


def test_a_second_interruption_stops_at_once_and_leaves_the_folder_as_it_was(tmp_path):
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    (output_dir / "metrics.json").write_text('{"from": "an earlier run"}')
    log = tmp_path / "log.txt"
    with open(log, "w") as stdout:
        process = start_script(*QUICK, "--EPOCHS=1000", f"--OUTPUT_DIR={output_dir}", stdout=stdout)
        wait_for(log, "Epoch 2/1000", process)
        process.send_signal(signal.SIGINT)
        wait_for(log, "Measuring: ", process)  # training stopped; saved, measuring now
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    output = log.read_text()
    assert process.returncode == 130, output[-3000:]
    assert len(error_lines(output)) == 1 and "interrupted" in error_lines(output)[0], output[-2000:]
    assert "Traceback" not in output
    assert sorted(path.name for path in output_dir.iterdir()) == ["metrics.json"]
    assert (output_dir / "metrics.json").read_text() == '{"from": "an earlier run"}'
