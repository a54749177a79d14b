"""Bad settings and bad data stop the run before TensorFlow even loads: exit code 2, exactly one
line on stderr naming the culprit, no traceback, no file written."""
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from conftest import QUICK, ROOT, SAMPLE, SCRIPT, error_lines, run_script, write_npz


def huge_header_npz(path):
    """A 1 KB archive whose x_train header declares a million images (the data is not there)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, np.load(SAMPLE) as sample:
        with archive.open("x_train.npy", "w") as member:
            header = {"descr": "|u1", "fortran_order": False, "shape": (1_000_000, 28, 28)}
            np.lib.format.write_array_header_1_0(member, header)
            member.write(b"\0" * 1000)
        for key in ("y_train", "x_test", "y_test"):
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, sample[key])
    return path


def bad_files(tmp_path):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(SAMPLE.read_bytes()[:50_000])
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("this is not an archive\n")
    not_npy = tmp_path / "not_npy.npz"
    with zipfile.ZipFile(not_npy, "w") as archive:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            archive.writestr(f"{key}.npy", "plain text, not an array")
    (tmp_path / "a_file").write_text("")
    return {
        "truncated": truncated,
        "garbage": garbage,
        "not_npy": not_npy,
        "huge": huge_header_npz(tmp_path / "huge.npz"),
        "no_y_test": write_npz(tmp_path / "no_y_test.npz", y_test=None),
        "float_images": write_npz(tmp_path / "float.npz", x_train=np.zeros((10, 28, 28), np.float32)),
        "wrong_size": write_npz(tmp_path / "wrong_size.npz", x_test=np.zeros((10, 32, 32), np.uint8)),
        "labels_short": write_npz(tmp_path / "labels_short.npz", y_train=np.zeros(3, np.uint8)),
        "float_labels": write_npz(tmp_path / "float_labels.npz", y_test=np.zeros(200, np.float64)),
        "text_labels": write_npz(tmp_path / "text_labels.npz", y_test=np.array(["7"] * 200)),
        "under_a_file": tmp_path / "a_file" / "outputs",
    }


CASES = {  # arguments -> text the error line must contain
    "epochs_zero": (["--EPOCHS=0"], "--EPOCHS=0"),
    "epochs_2_to_63": (["--EPOCHS=9223372036854775808"], "--EPOCHS=9223372036854775808"),
    "batch_2_to_63": (["--BATCH_SIZE=9223372036854775808"], "--BATCH_SIZE="),
    "seed_2_to_32": (["--SEED=4294967296"], "--SEED=4294967296"),
    "huge_decoder_layer": (["--DECODER_HIDDEN=100000000"], "--DECODER_HIDDEN=100000000"),
    "latent_one": (["--LATENT_DIM=1"], "--LATENT_DIM=1: must be from 2 to 784"),
    "latent_negative": (["--LATENT_DIM=-1"], "--LATENT_DIM=-1"),
    "latent_too_big": (["--LATENT_DIM=1000"], "--LATENT_DIM=1000"),
    "epochs_not_a_number": (["--EPOCHS=ten"], "--EPOCHS=ten: expected int"),
    "learning_rate_not_a_number": (["--LEARNING_RATE=fast"], "--LEARNING_RATE=fast"),
    "learning_rate_nan": (["--LEARNING_RATE=nan"], "--LEARNING_RATE=nan"),
    "noise_negative": (["--NOISE_FACTOR=-1"], "--NOISE_FACTOR=-1"),
    "noise_infinite": (["--NOISE_FACTOR=inf"], "--NOISE_FACTOR=inf"),
    "show_plots_not_a_bool": (["--SHOW_PLOTS=maybe"], "--SHOW_PLOTS=maybe: expected true or false"),
    "unknown_decoder": (["--DECODER=cnn"], "--DECODER=cnn: must be one of dense, conv"),
    "unknown_precision": (["--PRECISION=half"], "--PRECISION=half: must be one of auto"),
    "unknown_setting": (["--NOT_A_SETTING=1"], "'--NOT_A_SETTING=1'"),
    "lowercase_setting": (["--epochs=3"], "did you mean --EPOCHS?"),
    "typo_in_setting": (["--EPOCH=3"], "did you mean --EPOCHS?"),
    "missing_equals": (["--EPOCHS", "3"], "--NAME=value"),
    "val_size_too_big": (["--VAL_SIZE=1000"], "--VAL_SIZE=1000: must be smaller than the 1000"),
    "missing_file": (["--DATASET={tmp}/nope.npz"], "No such file"),
    "truncated_npz": (["--DATASET={truncated}"], "not an .npz like mnist.npz"),
    "garbage_npz": (["--DATASET={garbage}"], "not an .npz like mnist.npz"),
    "members_not_npy": (["--DATASET={not_npy}"], "not an .npz like mnist.npz"),
    "a_million_images_declared": (["--DATASET={huge}"], "x_train is uint8 (1000000, 28, 28)"),
    "incomplete_npz": (["--DATASET={no_y_test}"], "y_test"),
    "float_images": (["--DATASET={float_images}"], "x_train is float32"),
    "wrong_image_size": (["--DATASET={wrong_size}"], "x_test is uint8 (10, 32, 32)"),
    "labels_do_not_match": (["--DATASET={labels_short}"], "y_train is uint8 (3,)"),
    "float_labels": (["--DATASET={float_labels}"], "y_test is float64"),
    "text_labels": (["--DATASET={text_labels}"], "y_test is <U1"),
    "output_dir_under_a_file": (["--OUTPUT_DIR={under_a_file}"], "--OUTPUT_DIR="),
    "more_examples_than_test_images": (["--N_EXAMPLES=32", "--DATASET={small_test}"],
                                       "--N_EXAMPLES=32: the test set has only 20 images"),
}


def arguments_for(case, tmp_path):
    arguments, expected = CASES[case]
    files = {"tmp": tmp_path, **bad_files(tmp_path)}
    files["small_test"] = write_npz(tmp_path / "small_test.npz", x_test=np.zeros((20, 28, 28), np.uint8),
                                    y_test=np.zeros(20, np.uint8))
    return [*QUICK, f"--OUTPUT_DIR={tmp_path / 'outputs'}",
            *(argument.format(**files) for argument in arguments)], expected


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_at_once_with_one_line(case, tmp_path):
    arguments, expected = arguments_for(case, tmp_path)
    started = time.perf_counter()
    result = run_script(*arguments)
    seconds = time.perf_counter() - started
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    # Exactly one line on stderr: no TensorFlow start-up logs, no traceback.
    assert result.stderr.count("\n") == 1 and len(error_lines(result.stderr)) == 1, result.stderr
    assert expected in result.stderr, result.stderr
    assert "Epoch 1" not in result.stdout and not list(tmp_path.rglob("*.h5"))
    assert seconds < 5, f"{seconds:.1f} s: something heavy was imported before the checks"


def test_a_typo_costs_well_under_a_second():
    started = time.perf_counter()
    result = run_script("--EPOCH=3")
    seconds = time.perf_counter() - started
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    assert seconds < 1.0, f"{seconds:.2f} s"


def test_a_path_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    # A byte that is not UTF-8 in a path once crashed the runs.csv write at the very end.
    argument = os.fsencode(f"--OUTPUT_DIR={tmp_path}/") + b"\xff"
    result = subprocess.run([sys.executable, str(SCRIPT), argument], capture_output=True, cwd=ROOT,
                            timeout=60)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2 and stderr.count("\n") == 1, stderr
    assert "--OUTPUT_DIR=" in stderr and "printable UTF-8" in stderr


def test_a_tilde_in_output_dir_is_the_home_folder(tmp_path):
    # The run stops at the missing data file, after the output folder was made.
    result = run_script("--OUTPUT_DIR=~/runs", f"--DATASET={tmp_path}/nope.npz",
                        env={"HOME": str(tmp_path)})
    assert result.returncode == 2 and "No such file" in result.stderr
    assert (tmp_path / "runs").is_dir() and not (ROOT / "~").exists()


def test_only_the_four_arrays_are_read(tmp_path):
    # A fifth member that would not even decompress is never touched: the data loads, and the run
    # stops only at the check that comes after loading.
    path = write_npz(tmp_path / "extra.npz")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("unused.npy", b"\x93NUMPY broken")
    result = run_script(f"--DATASET={path}", "--VAL_SIZE=1000")
    assert result.returncode == 2, result.stderr
    assert "--VAL_SIZE=1000: must be smaller than the 1000 training images" in result.stderr


def test_mnist_without_network_says_what_to_do_now(tmp_path, keras_home):
    # An empty Keras cache and a proxy on a closed local port: the download fails at once, offline.
    proxy = "http://127.0.0.1:9"
    result = run_script("--DATASET=mnist", f"--OUTPUT_DIR={tmp_path}", env={
        "KERAS_HOME": str(keras_home), "HTTPS_PROXY": proxy, "https_proxy": proxy,
        "HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""})
    assert result.returncode == 2, result.stderr[-2000:]
    [line] = error_lines(result.stderr)
    assert "Traceback" not in result.stderr and line.startswith("error: could not download mnist (")
    assert "--DATASET=tests/data/mnist_sample.npz" in line and str(keras_home) in line
    assert "None --" not in line and len(line) < 250, line
    assert not list(tmp_path.rglob("*.h5"))


def test_help_lists_every_setting_with_its_default_and_comment():
    result = run_script("--help")
    assert result.returncode == 0 and result.stderr == ""
    source = SCRIPT.read_text()
    for line in result.stdout.strip().splitlines():
        assert line in source and "  # " in line
    assert len(result.stdout.strip().splitlines()) == 17  # every UPPERCASE setting
    assert "EPOCHS = 10  # passes over the training images\n" in result.stdout
