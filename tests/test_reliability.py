"""Nothing lost: runs in parallel, failing saves, odd data, numbers that are not numbers. Whatever
is accepted finishes cleanly; the files in OUTPUT_DIR always belong to one run."""
import csv
import json
import re
import resource
import shutil
import signal
import subprocess
import sys

import h5py
import matplotlib.image
import numpy as np
import pytest

from conftest import QUICK, SAMPLE, SCRIPT, error_lines, run_in_process, run_script, write_npz

# A runs.csv as the script wrote it before runs.png existed: every setting, full-precision
# numbers, and a byte-order mark because a spreadsheet saved it.
OLD_COLUMNS = ("finished_at,DATASET,VAL_SIZE,LATENT_DIM,CODE_ACTIVATION,DECODER,DECODER_HIDDEN,"
               "NOISE_FACTOR,EPOCHS,BATCH_SIZE,LEARNING_RATE,LR_SCHEDULE,SEED,N_EXAMPLES,OUTPUT_DIR,"
               "SHOW_PLOTS,test_mse,pca_mse,mean_image_mse,psnr_db,noisy_input_psnr_db,"
               "code_1nn_accuracy,pixel_1nn_accuracy,anomaly_auroc,anomaly_threshold,"
               "test_share_above_threshold,anomaly_share_above_threshold,train_seconds,"
               "epochs_trained,interrupted,seconds_per_epoch")
OLD_ROWS = [
    "2026-11-28 10:00:00,fashion_mnist,5000,128,linear,dense,512,0.0,10,64,0.003,cosine,42,8,"
    "outputs,False,0.004810912,0.005912345,0.08664,23.178,,0.824,0.798,0.850,0.0218,0.011,0.076,"
    "91.6,10,False,9.16",
    "2026-11-28 11:00:00,fashion_mnist,5000,128,linear,conv,512,0.0,10,64,0.003,cosine,42,8,"
    "outputs,False,0.004421,0.005912345,0.08664,23.54,,0.830,0.798,0.811,0.020,0.009,0.022,"
    "199.0,10,False,19.9",
]


def code_size(model_path):
    """LATENT_DIM of a saved autoencoder.h5, read from its config without TensorFlow."""
    with h5py.File(model_path, "r") as file:
        config = json.loads(file.attrs["model_config"])
    encoder = next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == "encoder")
    return encoder["config"]["layers"][-1]["config"]["units"]


def test_parallel_runs_keep_every_row_and_runs_png_compares_them(tmp_path):
    output_dir = tmp_path / "shared"
    output_dir.mkdir()
    (output_dir / "runs.csv").write_text("\ufeff" + OLD_COLUMNS + "\n" + "\n".join(OLD_ROWS) + "\n",
                                         encoding="utf-8")
    # Two runs into one folder at the same time, as from two terminals.
    processes = [subprocess.Popen([sys.executable, str(SCRIPT), *QUICK, f"--LATENT_DIM={dim}",
                                   f"--OUTPUT_DIR={output_dir}"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for dim in (16, 32)]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    rows = list(csv.DictReader(open(output_dir / "runs.csv", encoding="utf-8")))
    assert len(rows) == 4 and list(rows[0])[0] == "finished_at"  # the BOM was read as a BOM
    assert [row["test_mse"] for row in rows[:2]] == ["0.004810912", "0.004421"]  # old rows kept
    assert sorted(row["LATENT_DIM"] for row in rows[2:]) == ["16", "32"]
    assert "DECODER_HIDDEN" in rows[2] and "STEPS_PER_EXECUTION" in rows[2]
    # The folder's files are all from the run that moved in last.
    metrics = json.loads((output_dir / "metrics.json").read_text())
    assert metrics["run_id"] == rows[-1]["run_id"]
    assert code_size(output_dir / "autoencoder.h5") == metrics["settings"]["LATENT_DIM"]
    assert not list(output_dir.glob(".run-*"))
    first_figure = (output_dir / "runs.png").read_bytes()

    result = run_script(*QUICK, "--LATENT_DIM=8", f"--OUTPUT_DIR={output_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(csv.DictReader(open(output_dir / "runs.csv", encoding="utf-8")))) == 5
    assert (output_dir / "runs.png").read_bytes() != first_figure  # drawn again, with 5 runs
    picture = matplotlib.image.imread(output_dir / "runs.png")
    assert picture.shape[0] > 300 and picture.std() > 0.05
    # The report's table names each run by what it changed from the constants.
    table = result.stdout[result.stdout.index("The last runs in"):].splitlines()[1:6]
    assert "DATASET=fashion_mnist" in table[0] and "DECODER=conv" in table[1]
    parallel = {re.search(r"LATENT_DIM=\d+", line).group() for line in table[2:4]}
    assert parallel == {"LATENT_DIM=16", "LATENT_DIM=32"} and "LATENT_DIM=8" in table[4]
    assert "OUTPUT_DIR" not in "".join(table)


def no_big_files():
    # Files over 1 MB cannot be written: the model (3.5 MB) fails to save, as on a full disk.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process


def test_when_saving_fails_the_earlier_files_stay_and_the_run_still_reports(tmp_path):
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    (output_dir / "autoencoder.h5").write_bytes(b"the model of an earlier run")
    (output_dir / "metrics.json").write_text('{"from": "an earlier run"}')
    result = subprocess.run([sys.executable, str(SCRIPT), *QUICK, f"--OUTPUT_DIR={output_dir}"],
                            capture_output=True, text=True, timeout=300, preexec_fn=no_big_files)
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = error_lines(result.stderr)
    assert "could not save the model" in line and str(output_dir) in line
    assert "Traceback" not in result.stderr
    assert "test_mse" in result.stdout and "pca_mse" in result.stdout  # measured and reported
    assert (output_dir / "autoencoder.h5").read_bytes() == b"the model of an earlier run"
    assert sorted(path.name for path in output_dir.iterdir()) == ["autoencoder.h5", "metrics.json"]


def test_a_loss_that_becomes_nan_stops_the_run_and_says_it_diverged(tmp_path):
    source = SCRIPT.read_text()
    assert source.count('loss="mse"') == 1
    diverging = tmp_path / "autoencoder_mnist.py"
    diverging.write_text(source.replace('loss="mse"', 'loss=lambda y, p: keras.ops.log(p - 2)'))
    result = run_script(*QUICK, "--EPOCHS=3", f"--OUTPUT_DIR={tmp_path / 'out'}", script=diverging)
    assert result.returncode == 1, result.stderr[-3000:]
    [line] = error_lines(result.stderr)
    assert "diverged" in line and "Traceback" not in result.stderr
    assert list((tmp_path / "out").iterdir()) == []  # nothing saved over an earlier model


def test_odd_but_valid_data_runs_to_the_end(tmp_path, capsys):
    # Blank images (PCA's error is exactly 0), a test set smaller than two rows of examples,
    # labels of another integer type in the test set, and noise too faint to change a pixel (the
    # noisy input's PSNR is infinite): all accepted, so they must all finish cleanly.
    with np.load(SAMPLE) as sample:
        y_test = sample["y_test"][:10].astype(np.int64)
    data = write_npz(tmp_path / "odd.npz", x_train=np.zeros((300, 28, 28), np.uint8),
                     y_train=np.zeros(300, np.uint8), x_test=np.zeros((10, 28, 28), np.uint8),
                     y_test=y_test)
    names = run_in_process(SCRIPT, f"--DATASET={data}", "--VAL_SIZE=100", "--EPOCHS=1",
                           "--N_EXAMPLES=8", "--NOISE_FACTOR=1e-300", "--PRECISION=float32",
                           f"--OUTPUT_DIR={tmp_path / 'out'}")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text(), parse_constant=pytest.fail)
    assert metrics["pca_mse"] == 0 and metrics["ae_over_pca"] is None  # infinite: no JSON number
    assert metrics["noisy_input_psnr_db"] is None
    assert names["metrics"]["code_1nn_accuracy"] == np.mean(y_test == 0)  # all training labels 0
    assert (tmp_path / "out" / "anomalies.png").exists() and not list((tmp_path / "out").glob(".run-*"))


def test_a_folder_in_the_way_stops_the_run_and_keeps_its_model(tmp_path, capsys):
    output_dir = tmp_path / "out"
    (output_dir / "autoencoder.h5").mkdir(parents=True)  # a folder where the model should go
    with pytest.raises(SystemExit) as stop:
        run_in_process(SCRIPT, *QUICK, "--PRECISION=float32", f"--OUTPUT_DIR={output_dir}")
    assert stop.value.code == 1
    [line] = error_lines(capsys.readouterr().err)
    assert "autoencoder.h5 is a folder" in line
    assert sorted(path.name for path in output_dir.iterdir() if not path.name.startswith(".")) == [
        "autoencoder.h5"]  # nothing else moved in
    [kept] = output_dir.glob(".run-*")  # the trained model stays, and says where at exit
    assert (kept / "autoencoder.h5").is_file() and (kept / "metrics.json").is_file()
    shutil.rmtree(kept)  # (a run in its own process says so as it exits; this one runs on)
