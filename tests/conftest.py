import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "autoencoder_mnist.py"
SAMPLE = ROOT / "tests" / "data" / "mnist_sample.npz"  # 1,000 training + 200 test real MNIST digits
# A small, quick run on the committed sample: 800 training and 200 validation digits, one epoch.
QUICK = [f"--DATASET={SAMPLE}", "--VAL_SIZE=200", "--EPOCHS=1", "--BATCH_SIZE=32"]


def run_script(*args, env=None, timeout=300, script=SCRIPT):
    """Run the script the way a user does: a fresh Python process, settings as --NAME=value."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)


def start_script(*args, stdout):
    """Start the script in the background, its output going to a file we can read as it grows."""
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=ROOT, stdout=stdout,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def run_in_process(script, *args):
    """Run a copy of the script top to bottom in this process, as `python -i` does, and return its
    top-level names. Signal handlers, argv and the Keras precision policy are put back afterwards."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    argv = sys.argv
    sys.argv = [str(script), *args]
    try:
        return runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
        for number, handler in handlers.items():
            signal.signal(number, handler)
        import keras

        keras.mixed_precision.set_global_policy("float32")


def write_npz(path, **overrides):
    """The committed sample with some arrays replaced (None removes one)."""
    with np.load(SAMPLE) as data:
        arrays = {key: data[key] for key in data.files}
    arrays.update(overrides)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@pytest.fixture(scope="session")
def keras_home(tmp_path_factory):
    """An empty Keras cache, so no test reads or fills the user's ~/.keras."""
    return tmp_path_factory.mktemp("keras_home")


@pytest.fixture(scope="session")
def script_names(tmp_path_factory):
    """One quick run of the script inside this process: its top-level names, as after
    `python -i autoencoder_mnist.py`. The constants are edited in a copy of the file first, the way
    a learner tweaks them, so this run also shows that edits to the file take effect."""
    folder = tmp_path_factory.mktemp("in_process")
    source = SCRIPT.read_text()
    for old, new in (('DECODER = "dense"', 'DECODER = "conv"'), ("NOISE_FACTOR = 0.0", "NOISE_FACTOR = 0.2"),
                     ("EPOCHS = 10", "EPOCHS = 1")):
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    edited = folder / "autoencoder_mnist.py"
    edited.write_text(source)
    names = run_in_process(edited, f"--DATASET={SAMPLE}", "--VAL_SIZE=200", "--BATCH_SIZE=32",
                           f"--OUTPUT_DIR={folder / 'outputs'}")
    return names
