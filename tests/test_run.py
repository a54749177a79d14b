"""Smoke tests: the script run as a user runs it, on 1,200 real MNIST digits, then its outputs checked."""
import csv
import json
import signal
import subprocess
import sys
import time

import matplotlib.image
import pytest

from conftest import ROOT, SAMPLE, SCRIPT, run_script

OUTPUTS = ["autoencoder.h5", "history.csv", "metrics.json", "runs.csv", "loss.png", "reconstructions.png"]
SMOKE = [f"--DATASET={SAMPLE}", "--VAL_SIZE=200", "--EPOCHS=2", "--BATCH_SIZE=16"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("smoke")
    result = run_script(*SMOKE, f"--OUTPUT_DIR={output_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    return output_dir, result


def test_a_run_writes_every_output(smoke_run):
    output_dir, result = smoke_run
    for name in OUTPUTS:
        assert (output_dir / name).stat().st_size > 0, name
    assert not list(output_dir.glob("*.partial.h5"))
    assert "800 training, 200 validation, 200 test images" in result.stdout
    assert "PCA" in result.stdout and "Wrote" in result.stdout


def test_metrics_hold_numbers_and_the_settings_used(smoke_run):
    output_dir, _ = smoke_run
    metrics = json.loads((output_dir / "metrics.json").read_text())
    for key in ("test_mse", "pca_mse", "mean_image_mse", "psnr_db", "train_seconds"):
        assert isinstance(metrics[key], float) and metrics[key] > 0, key
    assert metrics["epochs_trained"] == 2 and metrics["interrupted"] is False
    assert metrics["settings"]["EPOCHS"] == 2 and metrics["settings"]["DATASET"] == str(SAMPLE)
    assert metrics["psnr_db"] == pytest.approx(-10 * __import__("math").log10(metrics["test_mse"]))
    # Two epochs on 800 digits already beat drawing the average digit every time.
    assert metrics["test_mse"] < metrics["mean_image_mse"]


def test_history_has_one_row_per_epoch_with_falling_validation_loss(smoke_run):
    output_dir, _ = smoke_run
    rows = list(csv.DictReader(open(output_dir / "history.csv")))
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert float(rows[1]["val_loss"]) < float(rows[0]["val_loss"])


def test_plots_are_real_images(smoke_run):
    output_dir, _ = smoke_run
    loss = matplotlib.image.imread(output_dir / "loss.png")
    triptych = matplotlib.image.imread(output_dir / "reconstructions.png")
    assert loss.shape[0] > 200 and triptych.shape[1] > 800  # 8 example columns
    assert triptych.std() > 0.05  # not a blank canvas


RELOAD = """
import json, sys
import keras, numpy as np
output_dir, sample = sys.argv[1], sys.argv[2]
model = keras.models.load_model(output_dir + "/autoencoder.h5", compile=False)
with np.load(sample) as data:
    test_images = (data["x_test"].astype("float32") / 255.0)[..., None]
reconstructions = model.predict(test_images, verbose=0)
print(json.dumps(float(np.mean(np.square(test_images.astype(np.float64) - reconstructions)))))
"""


def test_a_fresh_process_reloads_the_model_and_reproduces_test_mse(smoke_run):
    output_dir, _ = smoke_run
    result = subprocess.run([sys.executable, "-c", RELOAD, str(output_dir), str(SAMPLE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    reloaded_mse = json.loads(result.stdout.strip().splitlines()[-1])
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert reloaded_mse == pytest.approx(metrics["test_mse"], rel=1e-3)


def test_a_second_run_adds_a_row_to_runs_csv(smoke_run):
    output_dir, _ = smoke_run
    result = run_script(*SMOKE, "--EPOCHS=1", "--LATENT_DIM=16", f"--OUTPUT_DIR={output_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader(open(output_dir / "runs.csv")))
    assert [(row["LATENT_DIM"], row["epochs_trained"]) for row in rows] == [("128", "2"), ("16", "1")]


def test_ctrl_c_stops_training_and_the_run_goes_on(tmp_path):
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), f"--DATASET={SAMPLE}", "--VAL_SIZE=200", "--EPOCHS=1000",
         f"--OUTPUT_DIR={tmp_path}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history = tmp_path / "history.csv"
    deadline = time.monotonic() + 120
    while not (history.exists() and len(history.read_text().splitlines()) >= 3):  # header + 2 epochs
        assert process.poll() is None and time.monotonic() < deadline, "training never got going"
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-3000:]
    assert "Ctrl-C" in stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["interrupted"] is True and 2 <= metrics["epochs_trained"] < 1000
    assert (tmp_path / "autoencoder.h5").exists() and (tmp_path / "reconstructions.png").exists()
