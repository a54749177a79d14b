import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "autoencoder_mnist.py"
SAMPLE = ROOT / "tests" / "data" / "mnist_sample.npz"  # 1,000 training + 200 test real MNIST digits


def run_script(*args, env=None, timeout=300):
    """Run the script the way a user does: a fresh Python process, settings as --NAME=value."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="session")
def keras_home(tmp_path_factory):
    """An empty Keras cache, so no test reads or fills the user's ~/.keras."""
    return tmp_path_factory.mktemp("keras_home")
