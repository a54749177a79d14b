"""A convolutional autoencoder for MNIST digits, in one file.

An autoencoder learns to squeeze each 28x28 image into a short code (LATENT_DIM numbers) and to
rebuild the image from that code alone. It needs no labels: the image is its own target.

Run it:
    python autoencoder_mnist.py                         # the defaults below
    python autoencoder_mnist.py --EPOCHS=3 --LATENT_DIM=32
    python autoencoder_mnist.py --help                  # every setting with its default

It writes to OUTPUT_DIR (default `outputs/`):
    autoencoder.h5        the trained model (reload: keras.models.load_model(path, compile=False))
    history.csv           training and validation loss per epoch
    metrics.json          test-set error of the model and of two baselines, with the settings used
    runs.csv              one row per finished run, to compare runs with tweaked settings
    loss.png              the loss curves
    reconstructions.png   test images, their codes and their reconstructions
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's informational start-up logs

import csv
import difflib
import json
import re
import sys
import time

import keras
import matplotlib.pyplot as plt
import numpy as np

# ## 1. Settings
# Edit them here, or override any of them for one run: `--NAME=value`.

DATASET = "mnist"  # "mnist", "fashion_mnist", or the path of an .npz laid out like Keras's mnist.npz
VAL_SIZE = 5000  # the first VAL_SIZE training images are held out for validation (as in the seed)
LATENT_DIM = 128  # numbers in the code each 784-pixel image is squeezed into
EPOCHS = 10  # passes over the training images
BATCH_SIZE = 128  # images per gradient step
LEARNING_RATE = 0.001  # Adam's step size
SEED = 42  # fixes weight initialisation, shuffling and the example images shown
N_EXAMPLES = 8  # test images drawn in reconstructions.png
OUTPUT_DIR = "outputs"  # where every file of the run goes
SHOW_PLOTS = False  # True also opens the figures in windows at the end (the PNGs are always saved)

SETTINGS = {name: value for name, value in globals().items() if name.isupper()}
RULES = {  # checked before any work starts, so a typo never costs a training run
    "VAL_SIZE": (lambda v: v >= 1, "at least 1"),
    "LATENT_DIM": (lambda v: 1 <= v <= 784, "between 1 and 784 (the pixels in an image)"),
    "EPOCHS": (lambda v: v >= 1, "at least 1"),
    "BATCH_SIZE": (lambda v: v >= 1, "at least 1"),
    "LEARNING_RATE": (lambda v: 0 < v <= 1, "above 0 and at most 1"),
    "SEED": (lambda v: v >= 0, "0 or more"),
    "N_EXAMPLES": (lambda v: 1 <= v <= 32, "between 1 and 32"),
    "OUTPUT_DIR": (lambda v: v != "", "a folder name"),
}


def fail(message):
    """Stop with one clear line and exit code 2: the settings or the input data are wrong."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def print_help():
    source = open(__file__, encoding="utf-8").read()
    print(__doc__.split("\n\n")[0], "\n\nSettings (--NAME=value, default shown):")
    for name, default, comment in re.findall(r"^([A-Z_]+) = (.+?)  # (.+)$", source, re.M):
        print(f"  --{name}={default.strip(chr(34))}\n      {comment}")


def parse_value(name, text, default):
    """Turn the text after `--NAME=` into the type of the setting's default."""
    try:
        if isinstance(default, bool):
            return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[
                text.lower()
            ]
        return type(default)(text)
    except (KeyError, ValueError):
        kind = {bool: "true or false", int: "a whole number", float: "a number"}[type(default)]
        fail(f"--{name}={text}: expected {kind}")


def parse_settings(argv, defaults):
    """Apply `--NAME=value` arguments to the defaults; unknown names and bad values fail loudly."""
    settings = dict(defaults)
    for arg in argv:
        if arg in ("-h", "--help"):
            print_help()
            raise SystemExit(0)
        name, equals, text = arg.removeprefix("--").partition("=")
        if not arg.startswith("--") or not equals:
            fail(f"{arg!r}: write settings as --NAME=value, for example --EPOCHS=3")
        if name not in defaults:
            guess = difflib.get_close_matches(name.upper(), defaults, n=1)
            fail(f"unknown setting --{name}" + (f" (did you mean --{guess[0]}?)" if guess else ""))
        settings[name] = parse_value(name, text, defaults[name])
    for name, (is_valid, rule) in RULES.items():
        if not is_valid(settings[name]):
            fail(f"--{name}={settings[name]}: must be {rule}")
    return settings


# ## 2. Load and split the data
# Keras downloads MNIST once and caches it; a local .npz works offline. Pixels become floats in
# [0, 1] with a channel axis, the shape a Conv2D layer expects: (N, 28, 28, 1).

KERAS_FILES = {"mnist": "mnist.npz", "fashion_mnist": "fashion-mnist/*-ubyte.gz (4 files)"}


def load_dataset(name):
    """Return ((train_images, train_labels), (test_images, test_labels)) as uint8 arrays."""
    if name not in KERAS_FILES:
        return load_npz(name)
    try:
        return getattr(keras.datasets, name).load_data()
    except Exception as error:  # no network, a proxy, a certificate problem, a full disk...
        cache = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "datasets")
        reason = " ".join(str(error).split())
        fail(
            f"could not download {name} ({reason}). Keras looks for {KERAS_FILES[name]} in {cache}; "
            f"put the file(s) there, or run with --DATASET=/path/to/mnist.npz"
        )


def load_npz(path):
    """Read an .npz in the layout of Keras's mnist.npz, checking everything the script relies on."""
    if not os.path.isfile(path):
        fail(f"--DATASET={path}: no such file (expected mnist, fashion_mnist or the path of an .npz)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception as error:  # not a zip, a truncated download, pickled objects...
        fail(f"--DATASET={path}: not a readable .npz archive ({' '.join(str(error).split())})")
    missing = [key for key in ("x_train", "y_train", "x_test", "y_test") if key not in arrays]
    if missing:
        fail(f"--DATASET={path}: missing {', '.join(missing)} (has {', '.join(arrays) or 'nothing'})")
    for part in ("train", "test"):
        images, labels = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            fail(f"--DATASET={path}: x_{part} is {images.dtype} {images.shape}, "
                 f"expected uint8 images of shape (N, 28, 28)")
        if len(images) == 0 or labels.shape != (len(images),):
            fail(f"--DATASET={path}: y_{part} has shape {labels.shape}, expected ({len(images)},)")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def split_and_scale(train, test, val_size):
    """Hold out the first val_size training images for validation, as the seed does."""
    (train_images, train_labels), (test_images, test_labels) = train, test
    if val_size >= len(train_images):
        fail(f"--VAL_SIZE={val_size}: must be smaller than the {len(train_images)} training images")

    def scale(images):
        return (images.astype("float32") / 255.0)[..., np.newaxis]

    return (
        (scale(train_images[val_size:]), train_labels[val_size:]),
        (scale(train_images[:val_size]), train_labels[:val_size]),
        (scale(test_images), test_labels),
    )


# ## 3. The model
# The encoder is the seed's: two conv + pool stages shrink 28x28 to 7x7x64, and a Dense layer makes
# the code. The decoder is the seed's too: one Dense layer back to 784 pixels. Both are named
# sub-models, so we can ask the encoder alone for the code of an image.


def build_autoencoder(latent_dim):
    encoder = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(latent_dim, activation="relu"),
        ],
        name="encoder",
    )
    decoder = keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            keras.layers.Dense(28 * 28, activation="sigmoid"),  # pixels in [0, 1], like the input
            keras.layers.Reshape((28, 28, 1)),
        ],
        name="decoder",
    )
    return keras.Sequential([encoder, decoder], name="autoencoder")


# ## 4. Training
# The input is also the target: the loss is the mean squared error between image and rebuild.
# Press Ctrl-C to stop early; the run goes on with the model as trained so far.


def train(autoencoder, train_images, val_images, epochs, batch_size, learning_rate, history_csv):
    """Fit the model; return (losses per epoch, seconds spent, whether Ctrl-C stopped it)."""
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    history = keras.callbacks.History()
    start = time.perf_counter()
    try:
        autoencoder.fit(
            train_images, train_images,
            validation_data=(val_images, val_images),
            epochs=epochs, batch_size=batch_size,
            callbacks=[history, keras.callbacks.CSVLogger(history_csv)],
            verbose=1 if sys.stdout.isatty() else 2,  # a progress bar in a terminal, else a line per epoch
        )
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
        print(f"\nCtrl-C: training stopped after {len(history.history.get('loss', []))} full "
              f"epoch(s); saving, measuring and plotting the model as it is now.")
    return history.history, time.perf_counter() - start, interrupted


# ## 5. Saving
# Written beside the target, then renamed: a crash mid-write never leaves a truncated model behind.
# Reload with compile=False: Keras 3 cannot rebuild the seed's `loss="mse"` from an .h5 file, and
# a model used only for predictions needs no loss.


def save_model(autoencoder, path):
    partial_path = path.removesuffix(".h5") + ".partial.h5"  # Keras picks the format by the ending
    autoencoder.save(partial_path, include_optimizer=False)  # reloads only to predict
    os.replace(partial_path, path)


# ## 6. Measuring on the test set
# Test images were never seen in training. Two baselines put the error in context: PCA keeps the
# best LATENT_DIM-number *linear* code, and the mean image is what "learning nothing" scores.


def per_image_mse(images, reconstructions):
    return np.mean(np.square(images.astype(np.float64) - reconstructions), axis=(1, 2, 3))


def pca_reconstruct(train_images, test_images, n_components):
    """Project test images on the top principal components of the training images and back.

    The result is clipped to the pixel range [0, 1], as the autoencoder's sigmoid output is."""
    flat_train = train_images.reshape(len(train_images), -1).astype(np.float64)
    mean = flat_train.mean(axis=0)
    centered = flat_train - mean
    _, eigenvectors = np.linalg.eigh(centered.T @ centered)  # eigenvalues in ascending order
    components = eigenvectors[:, ::-1][:, :n_components]
    flat_test = test_images.reshape(len(test_images), -1) - mean
    rebuilt = flat_test @ components @ components.T + mean
    return np.clip(rebuilt, 0, 1).reshape(test_images.shape)


def append_run(path, row):
    """Add one row to runs.csv, widening the header if this run has new columns."""
    rows = list(csv.DictReader(open(path, newline=""))) if os.path.exists(path) else []
    columns = list(dict.fromkeys([*(rows[0].keys() if rows else []), *row]))
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        writer.writerows([*rows, row])


# ## 7. Pictures
# loss.png: both curves should fall and stay close; a validation curve that rises while training
# falls means overfitting. reconstructions.png: what goes in, the code, what comes out.


def plot_losses(history, path):
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    figure, axes = plt.subplots(figsize=(6, 4), layout="constrained")
    axes.plot(epochs, history.get("loss", []), "o-", label="training (averaged during the epoch)")
    axes.plot(epochs, history.get("val_loss", []), "o-", label="validation (at the end of the epoch)")
    axes.set(xlabel="epoch", ylabel="mean squared error per pixel",
             title="Reconstruction loss (MSE) per epoch")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend()
    figure.savefig(path, dpi=120)


def code_grid_shape(latent_dim):
    """The most nearly square rows x columns grid that holds the code: 8 x 16 for 128."""
    rows = max(r for r in range(1, int(latent_dim**0.5) + 1) if latent_dim % r == 0)
    return rows, latent_dim // rows


def plot_reconstructions(rows, titles, codes, path):
    """One column per test image; `rows` maps a row label to images (or None for the code row)."""
    grid = code_grid_shape(codes.shape[1])
    heights = [grid[0] / grid[1] if images is None else 1 for images in rows.values()]
    figure, axes = plt.subplots(len(rows), len(titles), figsize=(1.6 * len(titles), 0.6 + 1.7 * sum(heights)),
                                layout="constrained", squeeze=False, height_ratios=heights)
    for row, (label, images) in enumerate(rows.items()):
        for column, title in enumerate(titles):
            ax = axes[row, column]
            if images is None:
                image = ax.imshow(codes[column].reshape(grid), cmap="viridis",
                                  vmin=codes.min(), vmax=codes.max())
            else:
                ax.imshow(images[column].squeeze(), cmap="gray", vmin=0, vmax=1)
            ax.set(xticks=[], yticks=[], title=title if row == 0 else "")
        axes[row, 0].set_ylabel(label)
    figure.colorbar(image, ax=axes[list(rows).index("code"), :].tolist(), label="code value")
    figure.suptitle("Test images: original, code and reconstruction")
    figure.savefig(path, dpi=120)


# ## 8. The whole run, in the order the data flows


def main(argv):
    globals().update(parse_settings(argv, SETTINGS))  # --NAME=value replaces the constant above
    if not SHOW_PLOTS:
        plt.switch_backend("Agg")  # draw to files only: no window, nothing blocks
    try:
        os.makedirs(OUTPUT_DIR, exist_ok=True)
    except OSError as error:
        fail(f"--OUTPUT_DIR={OUTPUT_DIR}: cannot create it ({error.strerror})")
    if not os.access(OUTPUT_DIR, os.W_OK):
        fail(f"--OUTPUT_DIR={OUTPUT_DIR}: not writable")
    output = {name: os.path.join(OUTPUT_DIR, name) for name in (
        "autoencoder.h5", "history.csv", "metrics.json", "runs.csv", "loss.png", "reconstructions.png")}
    keras.utils.set_random_seed(SEED)  # same settings, same run

    (train_images, _), (val_images, _), (test_images, test_labels) = split_and_scale(
        *load_dataset(DATASET), VAL_SIZE)
    if N_EXAMPLES > len(test_images):
        fail(f"--N_EXAMPLES={N_EXAMPLES}: the test set has only {len(test_images)} images")
    print(f"{DATASET}: {len(train_images)} training, {len(val_images)} validation, "
          f"{len(test_images)} test images of {train_images.shape[1:]}")

    autoencoder = build_autoencoder(LATENT_DIM)
    autoencoder.summary(expand_nested=True)

    history, train_seconds, interrupted = train(
        autoencoder, train_images, val_images, EPOCHS, BATCH_SIZE, LEARNING_RATE, output["history.csv"])
    save_model(autoencoder, output["autoencoder.h5"])

    reconstructions = autoencoder.predict(test_images, batch_size=512, verbose=0)
    test_mse = float(per_image_mse(test_images, reconstructions).mean())
    pca_mse = float(per_image_mse(test_images, pca_reconstruct(train_images, test_images, LATENT_DIM)).mean())
    mean_image_mse = float(per_image_mse(test_images, train_images.mean(axis=0)).mean())
    epochs_trained = len(history.get("loss", []))
    metrics = {
        "test_mse": test_mse, "pca_mse": pca_mse, "mean_image_mse": mean_image_mse,
        "psnr_db": 10 * np.log10(1 / test_mse),  # peak signal-to-noise ratio of the mean error; pixels span 1
        "train_seconds": train_seconds, "epochs_trained": epochs_trained, "interrupted": interrupted,
        "seconds_per_epoch": train_seconds / max(epochs_trained, 1),
        "settings": {name: globals()[name] for name in SETTINGS},
    }
    with open(output["metrics.json"], "w") as file:
        json.dump(metrics, file, indent=2)
    append_run(output["runs.csv"], {"finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                                    **metrics["settings"],
                                    **{k: v for k, v in metrics.items() if k != "settings"}})

    print(f"\nTest-set reconstruction error, mean squared error per pixel (lower is better):\n"
          f"  autoencoder, {LATENT_DIM}-number code  {test_mse:.5f}  (PSNR {metrics['psnr_db']:.1f} dB)\n"
          f"  PCA, {LATENT_DIM} components          {pca_mse:.5f}\n"
          f"  mean training image          {mean_image_mse:.5f}")
    verdict = (f"beats PCA by {pca_mse / test_mse:.2f}x" if test_mse < pca_mse
               else f"is {test_mse / pca_mse:.2f}x worse than PCA")
    print(f"With {LATENT_DIM} numbers per image, the autoencoder {verdict}, the best linear code "
          f"of that size, after {epochs_trained} epoch(s).")

    plot_losses(history, output["loss.png"])
    shown = np.sort(np.random.default_rng(SEED).choice(len(test_images), N_EXAMPLES, replace=False))
    codes = autoencoder.get_layer("encoder").predict(test_images[shown], verbose=0)
    rows = {"original": test_images[shown], "code": None, "reconstruction": reconstructions[shown]}
    titles = [f"#{i}, label {test_labels[i]}" for i in shown]
    plot_reconstructions(rows, titles, codes, output["reconstructions.png"])

    print("\nWrote " + ", ".join(output.values()))
    if SHOW_PLOTS:
        plt.show()


if __name__ == "__main__":
    main(sys.argv[1:])
