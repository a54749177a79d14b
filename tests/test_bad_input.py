"""Bad settings and bad data stop the run before training: exit 2, one line naming the culprit."""
import zipfile

import numpy as np
import pytest

import autoencoder_mnist as ae
from conftest import SAMPLE, run_script


def write_npz(path, **overrides):
    with np.load(SAMPLE) as data:
        arrays = {key: data[key] for key in data.files}
    arrays.update(overrides)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def bad_files(tmp_path):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(SAMPLE.read_bytes()[:50_000])
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("this is not an archive\n")
    (tmp_path / "a_file").write_text("")
    return {
        "truncated": truncated,
        "garbage": garbage,
        "no_y_test": write_npz(tmp_path / "no_y_test.npz", y_test=None),
        "float_images": write_npz(tmp_path / "float.npz", x_train=np.zeros((10, 28, 28), np.float32)),
        "wrong_size": write_npz(tmp_path / "wrong_size.npz", x_test=np.zeros((10, 32, 32), np.uint8)),
        "labels_short": write_npz(tmp_path / "labels_short.npz", y_train=np.zeros(3, np.uint8)),
        "under_a_file": tmp_path / "a_file" / "outputs",
    }


CASES = {  # arguments -> text the error line must contain
    "epochs_zero": (["--EPOCHS=0"], "--EPOCHS=0"),
    "latent_negative": (["--LATENT_DIM=-1"], "--LATENT_DIM=-1"),
    "latent_too_big": (["--LATENT_DIM=1000"], "--LATENT_DIM=1000"),
    "epochs_not_a_number": (["--EPOCHS=ten"], "--EPOCHS=ten"),
    "learning_rate_not_a_number": (["--LEARNING_RATE=fast"], "--LEARNING_RATE=fast"),
    "show_plots_not_a_bool": (["--SHOW_PLOTS=maybe"], "--SHOW_PLOTS=maybe"),
    "noise_negative": (["--NOISE_FACTOR=-1"], "--NOISE_FACTOR=-1"),
    "unknown_decoder": (["--DECODER=cnn"], "--DECODER=cnn: must be one of dense, conv"),
    "learning_rate_nan": (["--LEARNING_RATE=nan"], "--LEARNING_RATE=nan"),
    "unknown_setting": (["--NOT_A_SETTING=1"], "--NOT_A_SETTING"),
    "lowercase_setting": (["--epochs=3"], "did you mean --EPOCHS"),
    "missing_equals": (["--EPOCHS", "3"], "--NAME=value"),
    "val_size_too_big": (["--VAL_SIZE=1000"], "--VAL_SIZE=1000"),
    "missing_file": (["--DATASET={tmp}/nope.npz"], "no such file"),
    "truncated_npz": (["--DATASET={truncated}"], "not a readable .npz"),
    "garbage_npz": (["--DATASET={garbage}"], "not a readable .npz"),
    "incomplete_npz": (["--DATASET={no_y_test}"], "missing y_test"),
    "float_images": (["--DATASET={float_images}"], "x_train is float32"),
    "wrong_image_size": (["--DATASET={wrong_size}"], "x_test is uint8 (10, 32, 32)"),
    "labels_do_not_match": (["--DATASET={labels_short}"], "y_train (3,)"),
    "output_dir_under_a_file": (["--OUTPUT_DIR={under_a_file}"], "--OUTPUT_DIR="),
}


def arguments_for(case, tmp_path):
    arguments, expected = CASES[case]
    files = {"tmp": tmp_path, **bad_files(tmp_path)}
    return [f"--DATASET={SAMPLE}", f"--OUTPUT_DIR={tmp_path / 'outputs'}", "--EPOCHS=1",
            *(argument.format(**files) for argument in arguments)], expected


def assert_one_error_line(stderr, expected):
    error_lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and expected in error_lines[0], stderr[-2000:]
    assert "Traceback" not in stderr


@pytest.mark.parametrize("case", CASES)
def test_bad_input_stops_with_one_clear_line(case, tmp_path, capsys, monkeypatch):
    # In-process, through the script's own main(), so every case stays fast.
    for name in ae.SETTINGS:  # main() writes the settings into the module; undo that afterwards
        monkeypatch.setattr(ae, name, getattr(ae, name))
    arguments, expected = arguments_for(case, tmp_path)
    with pytest.raises(SystemExit) as stop:
        ae.main(arguments)
    assert stop.value.code == 2
    assert_one_error_line(capsys.readouterr().err, expected)
    assert not list(tmp_path.rglob("*.h5"))


@pytest.mark.parametrize("case", ["epochs_zero", "unknown_setting", "val_size_too_big", "garbage_npz",
                                  "labels_do_not_match", "output_dir_under_a_file"])
def test_bad_input_exits_2_from_the_command_line(case, tmp_path):
    # The same as a user meets it: a fresh process, its exit code and its stderr.
    arguments, expected = arguments_for(case, tmp_path)
    result = run_script(*arguments)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert_one_error_line(result.stderr, expected)
    assert "Epoch 1" not in result.stdout and not list(tmp_path.rglob("*.h5"))


def test_mnist_without_network_says_which_file_to_put_where(tmp_path, keras_home):
    # An empty Keras cache and a proxy on a closed local port: the download fails at once, offline.
    proxy = "http://127.0.0.1:9"
    result = run_script("--DATASET=mnist", f"--OUTPUT_DIR={tmp_path}", env={
        "KERAS_HOME": str(keras_home), "HTTPS_PROXY": proxy, "https_proxy": proxy,
        "HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""})
    assert result.returncode == 2, result.stderr[-2000:]
    assert_one_error_line(result.stderr, "could not download mnist")
    error_line = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert "mnist.npz" in error_line and str(keras_home) in error_line
    assert "--DATASET=/path/to/mnist.npz" in error_line and not list(tmp_path.rglob("*.h5"))


def test_help_lists_every_setting_with_its_default():
    result = run_script("--help")
    assert result.returncode == 0
    for name, default in ae.SETTINGS.items():
        assert f"--{name}={default}\n" in result.stdout
    assert "--EPOCHS=10\n      passes over the training images" in result.stdout  # with the comment
