"""Smoke tests: the script run as a user runs it, on 1,200 real MNIST digits, then its outputs checked."""
import csv
import json
import math
import signal
import subprocess
import sys
import time

import matplotlib.image
import pytest

from conftest import ROOT, SAMPLE, SCRIPT, run_script

OUTPUTS = ["autoencoder.h5", "history.csv", "metrics.json", "runs.csv", "loss.png",
           "reconstructions.png", "latent.png", "anomalies.png"]
SMOKE = [f"--DATASET={SAMPLE}", "--VAL_SIZE=200", "--EPOCHS=2", "--BATCH_SIZE=16"]
# Denoising needs more steps than 800 digits give in 2 epochs before its output beats its input.
VARIANTS = {"dense": [], "conv": ["--DECODER=conv"], "denoising": ["--NOISE_FACTOR=0.3", "--EPOCHS=8"]}


@pytest.fixture(scope="module", params=VARIANTS)
def smoke_run(request, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp(request.param)
    result = run_script(*SMOKE, *VARIANTS[request.param], f"--OUTPUT_DIR={output_dir}")
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
    assert metrics["epochs_trained"] == metrics["settings"]["EPOCHS"] and metrics["interrupted"] is False
    assert metrics["settings"]["DATASET"] == str(SAMPLE)
    assert metrics["psnr_db"] == pytest.approx(-10 * math.log10(metrics["test_mse"]))
    # A few epochs on 800 digits already beat drawing the average digit every time.
    assert metrics["test_mse"] < metrics["mean_image_mse"]
    for key in ("code_1nn_accuracy", "pixel_1nn_accuracy", "anomaly_auroc",
                "test_share_above_threshold", "anomaly_share_above_threshold"):
        assert 0 <= metrics[key] <= 1, key
    assert metrics["pixel_1nn_accuracy"] > 0.5  # real digits: 10 classes, chance is about 0.1
    assert metrics["anomaly_threshold"] > 0


def test_denoising_is_measured_against_the_clean_image(smoke_run):
    output_dir, result = smoke_run
    metrics = json.loads((output_dir / "metrics.json").read_text())
    if metrics["settings"]["NOISE_FACTOR"] == 0:
        assert metrics["noisy_input_psnr_db"] is None and "noisy input" not in result.stdout
        return
    # Noise of std 0.3, clipped to [0, 1], leaves a PSNR near 13 dB on MNIST digits ...
    assert 11 < metrics["noisy_input_psnr_db"] < 15
    # ... and the model's output, measured against the clean image, is closer than its input.
    assert metrics["psnr_db"] > metrics["noisy_input_psnr_db"]
    assert "noisy input" in result.stdout


def test_history_has_one_row_per_epoch_with_falling_validation_loss(smoke_run):
    output_dir, _ = smoke_run
    rows = list(csv.DictReader(open(output_dir / "history.csv")))
    epochs = json.loads((output_dir / "metrics.json").read_text())["settings"]["EPOCHS"]
    assert [row["epoch"] for row in rows] == [str(epoch) for epoch in range(epochs)]
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])


def test_plots_are_real_images(smoke_run):
    output_dir, _ = smoke_run
    for name in ("loss.png", "reconstructions.png", "latent.png", "anomalies.png"):
        picture = matplotlib.image.imread(output_dir / name)
        assert picture.shape[0] > 300 and picture.std() > 0.05, name  # drawn, not a blank canvas
    # 8 example columns; the denoising run adds a "noisy input" row to the triptych.
    height, width, _ = matplotlib.image.imread(output_dir / "reconstructions.png").shape
    noisy = json.loads((output_dir / "metrics.json").read_text())["settings"]["NOISE_FACTOR"] > 0
    assert width > 1000 and (height > 750 if noisy else height < 650)


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
    if json.loads((output_dir / "metrics.json").read_text())["settings"]["NOISE_FACTOR"]:
        pytest.skip("the denoising run's test MSE is measured on noisy inputs drawn inside the run")
    result = subprocess.run([sys.executable, "-c", RELOAD, str(output_dir), str(SAMPLE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    reloaded_mse = json.loads(result.stdout.strip().splitlines()[-1])
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert reloaded_mse == pytest.approx(metrics["test_mse"], rel=1e-3)


def test_a_second_run_adds_a_row_to_runs_csv(tmp_path):
    for latent_dim in (128, 16):
        result = run_script(*SMOKE, "--EPOCHS=1", f"--LATENT_DIM={latent_dim}", f"--OUTPUT_DIR={tmp_path}")
        assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader(open(tmp_path / "runs.csv")))
    assert [(row["LATENT_DIM"], row["epochs_trained"]) for row in rows] == [("128", "1"), ("16", "1")]


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


def test_settings_edited_in_the_file_take_effect(tmp_path):
    # A learner edits the constants at the top instead of passing --NAME=value.
    source = SCRIPT.read_text()
    for old, new in (('DECODER = "dense"', 'DECODER = "conv"'), ("NOISE_FACTOR = 0.0", "NOISE_FACTOR = 0.2"),
                     ("EPOCHS = 10", "EPOCHS = 1")):
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    edited = tmp_path / "autoencoder_mnist.py"
    edited.write_text(source)
    result = subprocess.run([sys.executable, str(edited), f"--DATASET={SAMPLE}", "--VAL_SIZE=200",
                             f"--OUTPUT_DIR={tmp_path / 'out'}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["settings"]["DECODER"] == "conv" and metrics["epochs_trained"] == 1
    assert metrics["noisy_input_psnr_db"] is not None
    assert "conv2d_transpose" in result.stdout  # the summary shows the conv decoder's layers
