"""The script run as a user runs it, on 1,200 real MNIST digits, then its outputs checked."""
import csv
import json
import math
import subprocess
import sys

import matplotlib.image
import pytest

from conftest import SAMPLE, run_script

OUTPUTS = ["autoencoder.h5", "history.csv", "metrics.json", "runs.csv", "loss.png",
           "reconstructions.png", "latent.png", "anomalies.png", "runs.png"]
SMOKE = [f"--DATASET={SAMPLE}", "--VAL_SIZE=200", "--EPOCHS=2", "--BATCH_SIZE=16"]
# Denoising needs more steps than 800 digits give in 2 epochs before its output beats its input.
# (The conv decoder runs in test_units.py's in-process run.)
VARIANTS = {"dense": [], "denoising": ["--NOISE_FACTOR=0.3", "--EPOCHS=5"]}


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """Each variant's run, made the first time a test asks for it."""
    runs = {}

    def run(variant):
        if variant not in runs:
            output_dir = tmp_path_factory.mktemp(variant)
            result = run_script(*SMOKE, *VARIANTS[variant], f"--OUTPUT_DIR={output_dir}")
            assert result.returncode == 0, result.stderr[-3000:]
            runs[variant] = output_dir, result, json.loads((output_dir / "metrics.json").read_text())
        return runs[variant]

    return run


@pytest.fixture(params=VARIANTS)
def smoke_run(request, smoke_runs):
    return smoke_runs(request.param)


def test_a_run_writes_every_output_and_nothing_else(smoke_run):
    output_dir, result, _ = smoke_run
    assert sorted(path.name for path in output_dir.iterdir()) == sorted([*OUTPUTS, ".lock"])
    for name in OUTPUTS:
        assert (output_dir / name).stat().st_size > 0, name
    assert "800 training, 200 validation, 200 test images" in result.stdout
    assert "Measuring: " in result.stdout and "pca_mse" in result.stdout and "Wrote " in result.stdout
    assert "Precision: " in result.stdout


def test_metrics_are_strict_json_with_numbers_and_the_settings_used(smoke_run):
    output_dir, _, metrics = smoke_run
    json.loads((output_dir / "metrics.json").read_text(), parse_constant=pytest.fail)  # no NaN
    for key in ("test_mse", "pca_mse", "mean_image_mse", "psnr_db", "ae_over_pca", "train_seconds",
                "load_seconds", "measure_seconds", "draw_seconds", "seconds_per_epoch"):
        assert isinstance(metrics[key], float) and metrics[key] > 0, key
    assert metrics["epochs_trained"] == metrics["settings"]["EPOCHS"] and metrics["interrupted"] is False
    assert metrics["settings"]["DATASET"] == str(SAMPLE) and metrics["precision"] in (
        "float32", "mixed_bfloat16", "mixed_float16")
    assert metrics["psnr_db"] == pytest.approx(-10 * math.log10(metrics["test_mse"]))
    assert metrics["ae_over_pca"] == pytest.approx(metrics["test_mse"] / metrics["pca_mse"])
    # A few epochs on 800 digits already beat drawing the average digit every time.
    assert metrics["test_mse"] < metrics["mean_image_mse"]
    for key in ("code_1nn_accuracy", "pixel_1nn_accuracy", "anomaly_auroc",
                "test_share_above_threshold", "anomaly_share_above_threshold"):
        assert 0 <= metrics[key] <= 1, key
    assert metrics["pixel_1nn_accuracy"] > 0.5  # real digits: 10 classes, chance is about 0.1
    assert metrics["anomaly_threshold"] > 0


def test_denoising_is_measured_against_the_clean_image(smoke_run):
    _, result, metrics = smoke_run
    if metrics["settings"]["NOISE_FACTOR"] == 0:
        assert metrics["noisy_input_psnr_db"] is None and "noisy_input_psnr_db" not in result.stdout
        return
    # Noise of std 0.3, clipped to [0, 1], leaves a PSNR near 13 dB on MNIST digits ...
    assert 11 < metrics["noisy_input_psnr_db"] < 15
    # ... and the model's output, measured against the clean image, is closer than its input.
    assert metrics["psnr_db"] > metrics["noisy_input_psnr_db"]


def test_history_counts_epochs_from_one_and_validation_loss_falls(smoke_run):
    output_dir, _, metrics = smoke_run
    rows = list(csv.DictReader(open(output_dir / "history.csv")))
    assert [row["epoch"] for row in rows] == [str(e) for e in range(1, metrics["epochs_trained"] + 1)]
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])


def test_plots_are_real_images(smoke_run):
    output_dir, _, metrics = smoke_run
    for name in ("loss.png", "reconstructions.png", "latent.png", "anomalies.png", "runs.png"):
        picture = matplotlib.image.imread(output_dir / name)
        assert picture.shape[0] > 200 and picture.std() > 0.05, name  # drawn, not a blank canvas
    # 8 example columns; the denoising run adds a "noisy input" row to the triptych.
    height, width, _ = matplotlib.image.imread(output_dir / "reconstructions.png").shape
    assert width > 1000 and (height > 900 if metrics["settings"]["NOISE_FACTOR"] else height < 850)
    # Worst, typical and upside-down images, each with its rebuild: six rows.
    assert matplotlib.image.imread(output_dir / "anomalies.png").shape[0] > 1400


def test_runs_csv_keeps_the_settings_that_applied_and_short_numbers(smoke_run):
    output_dir, _, metrics = smoke_run
    [row] = list(csv.DictReader(open(output_dir / "runs.csv", encoding="utf-8")))
    assert row["run_id"] == metrics["run_id"] and row["LATENT_DIM"] == "128"
    assert "OUTPUT_DIR" not in row and "SHOW_PLOTS" not in row
    assert ("DECODER_HIDDEN" in row) == (metrics["settings"]["DECODER"] == "dense")
    assert len(row["test_mse"].replace("0.", "").lstrip("0")) <= 5  # 5 significant digits
    assert float(row["test_mse"]) == pytest.approx(metrics["test_mse"], rel=1e-4)


RELOAD = """
import json, sys
import keras, numpy as np
output_dir, sample = sys.argv[1], sys.argv[2]
with np.load(sample) as data:
    test_images = (data["x_test"].astype("float32") / 255.0)[..., None]
errors = []
for policy in ("float32", "mixed_bfloat16"):  # whatever this machine would train with
    keras.mixed_precision.set_global_policy(policy)
    model = keras.models.load_model(output_dir + "/autoencoder.h5", compile=False)
    reconstructions = model.predict(test_images, verbose=0)
    errors.append(float(np.mean(np.square(test_images.astype(np.float64) - reconstructions))))
print(json.dumps(errors))
"""


def test_a_fresh_process_reloads_the_model_and_reproduces_test_mse(smoke_run):
    output_dir, _, metrics = smoke_run
    if metrics["settings"]["NOISE_FACTOR"]:
        pytest.skip("the denoising run's test MSE is measured on noisy inputs drawn inside the run")
    result = subprocess.run([sys.executable, "-c", RELOAD, str(output_dir), str(SAMPLE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    for reloaded_mse in json.loads(result.stdout.strip().splitlines()[-1]):
        assert reloaded_mse == pytest.approx(metrics["test_mse"], rel=1e-3)
