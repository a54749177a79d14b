"""A convolutional autoencoder for MNIST digits, in one file.

An autoencoder squeezes each 28x28 image into a short code (LATENT_DIM numbers) and rebuilds the
image from that code alone; the image is its own target, so no labels are needed. This script
trains one, measures it against PCA, and shows denoising, feature extraction and anomaly detection.
It grew from a blog post's code; "(post: ...)" in a setting's comment gives that code's value.

Run: `python autoencoder_mnist.py`, `... --EPOCHS=3 --LATENT_DIM=32`, `... --help` for all settings.
Writes to OUTPUT_DIR: autoencoder.h5 (reload with keras.models.load_model(path, compile=False)),
history.csv, metrics.json, runs.csv (a row per run) and loss, reconstructions, latent and anomalies .png.
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
VAL_SIZE = 5000  # the first VAL_SIZE training images are held out for validation (as in the post)
LATENT_DIM = 128  # numbers in the code each 784-pixel image is squeezed into
CODE_ACTIVATION = "linear"  # the code layer's activation, "linear" or "relu" (post: "relu")
DECODER = "dense"  # "dense" (the post's code) or "conv" (transposed convolutions, the post's diagram)
DECODER_HIDDEN = 512  # units of a Dense(relu) layer inside the dense decoder; 0 = none (post: 0)
NOISE_FACTOR = 0.0  # above 0: train and test on inputs with Gaussian noise of this std (denoising)
EPOCHS = 10  # passes over the training images
BATCH_SIZE = 64  # images per gradient step (post: 128)
LEARNING_RATE = 0.003  # Adam's step size, the starting one with LR_SCHEDULE "cosine" (post: 0.001)
LR_SCHEDULE = "cosine"  # "cosine" decays the step size to 0 by the last step, or "constant" (post)
SEED = 42  # fixes weight initialisation, shuffling, noise and the example images shown
N_EXAMPLES = 8  # test images drawn in reconstructions.png and anomalies.png
OUTPUT_DIR = "outputs"  # where every file of the run goes
SHOW_PLOTS = False  # True also opens the figures in windows at the end (the PNGs are always saved)

SETTINGS = {name: value for name, value in globals().items() if name.isupper()}
# Checked before any work starts, so a typo never costs a training run.
MINIMUM = {"VAL_SIZE": 1, "LATENT_DIM": 1, "DECODER_HIDDEN": 0, "NOISE_FACTOR": 0, "EPOCHS": 1,
           "BATCH_SIZE": 1, "LEARNING_RATE": 1e-7, "SEED": 0, "N_EXAMPLES": 1}
MAXIMUM = {"LATENT_DIM": 784, "LEARNING_RATE": 1.0, "N_EXAMPLES": 32}
CHOICES = {"CODE_ACTIVATION": ("linear", "relu"), "DECODER": ("dense", "conv"),
           "LR_SCHEDULE": ("constant", "cosine")}


def fail(message):
    """Stop with one clear line and exit code 2: the settings or the input data are wrong."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def print_help():
    print(__doc__.split("\n\n")[0], "\n\nSettings, as --NAME=value (default shown):")
    source = open(__file__, encoding="utf-8").read()
    for name, default, comment in re.findall(r"^([A-Z_]+) = (.+?)  # (.+)$", source, re.M):
        print(f"  --{name}={default.strip(chr(34))}\n      {comment}")


def parse_value(name, text, default):
    """Turn the text after `--NAME=` into the type of the setting's default."""
    try:
        if isinstance(default, bool):
            return {"true": True, "1": True, "false": False, "0": False}[text.lower()]
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
    for name, value in settings.items():
        if name in MINIMUM and not value >= MINIMUM[name]:  # `not >=` also catches nan
            fail(f"--{name}={value}: must be at least {MINIMUM[name]}")
        if name in MAXIMUM and value > MAXIMUM[name]:
            fail(f"--{name}={value}: must be at most {MAXIMUM[name]}")
        if name in CHOICES and value not in CHOICES[name]:
            fail(f"--{name}={value}: must be one of {', '.join(CHOICES[name])}")
    return settings


# ## 2. Load and split the data
# Keras downloads MNIST once and caches it; a local .npz works offline. Pixels become floats in
# [0, 1] with a channel axis, the shape a Conv2D layer expects: (N, 28, 28, 1).

KERAS_FILES = {"mnist": "mnist.npz", "fashion_mnist": "fashion-mnist/*-ubyte.gz (4 files)"}


def load_dataset(name):
    """Return ((train_images, train_labels), (test_images, test_labels)) as uint8 arrays."""
    if name not in KERAS_FILES:  # a path
        return load_npz(name)
    try:
        return getattr(keras.datasets, name).load_data()
    except Exception as error:  # no network, a proxy, a certificate problem, a full disk...
        cache = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "datasets")
        fail(f"could not download {name} ({' '.join(str(error).split())}). Keras looks for "
             f"{KERAS_FILES[name]} in {cache}; put it there, or run with --DATASET=/path/to/mnist.npz")


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
        if images.dtype != np.uint8 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            fail(f"--DATASET={path}: x_{part} is {images.dtype} {images.shape}, y_{part} {labels.shape}; "
                 f"expected uint8 images (N, 28, 28) and N labels")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def split_and_scale(train, test, val_size):
    """Hold out the first val_size training images for validation, as the post does."""
    (train_images, train_labels), (test_images, test_labels) = train, test
    if val_size >= len(train_images):
        fail(f"--VAL_SIZE={val_size}: must be smaller than the {len(train_images)} training images")

    def scale(images):
        return (images.astype("float32") / 255.0)[..., np.newaxis]

    return ((scale(train_images[val_size:]), train_labels[val_size:]),
            (scale(train_images[:val_size]), train_labels[:val_size]),
            (scale(test_images), test_labels))


def add_noise(images, noise_factor, rng):
    """Denoising: the model sees noisy images but must rebuild the clean ones."""
    noise = noise_factor * rng.standard_normal(images.shape, dtype=np.float32)
    return np.clip(images + noise, 0, 1)


# ## 3. The model
# The encoder is the post's: two conv + pool stages shrink 28x28 to 7x7x64, then a Dense layer
# makes the code. The "dense" decoder is the post's code, the "conv" one its diagram. Both halves
# are named sub-models, so we can ask the encoder alone for the code of an image.


def build_autoencoder(latent_dim, code_activation="linear", decoder_type="dense", decoder_hidden=512):
    encoder = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(latent_dim, activation=code_activation),
    ], name="encoder")
    if decoder_type == "dense":
        layers = [*([keras.layers.Dense(decoder_hidden, activation="relu")] if decoder_hidden else []),
                  keras.layers.Dense(28 * 28, activation="sigmoid"),  # pixels in [0, 1], like the input
                  keras.layers.Reshape((28, 28, 1))]
    else:  # the encoder mirrored: 7x7x64 -> 14x14x64 -> 28x28x32 -> one sigmoid channel
        layers = [keras.layers.Dense(7 * 7 * 64, activation="relu"),
                  keras.layers.Reshape((7, 7, 64)),
                  keras.layers.Conv2DTranspose(64, 3, strides=2, activation="relu", padding="same"),
                  keras.layers.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same"),
                  keras.layers.Conv2D(1, 3, activation="sigmoid", padding="same")]
    decoder = keras.Sequential([keras.Input(shape=(latent_dim,)), *layers], name="decoder")
    return keras.Sequential([encoder, decoder], name="autoencoder")


# ## 4. Training
# The target is the clean image: the loss is the mean squared error between it and the rebuild.
# Press Ctrl-C to stop early; the run goes on with the model as trained so far.


def train(autoencoder, inputs, targets, val_data, epochs, batch_size, learning_rate, lr_schedule,
          history_csv, extra_callbacks=(), steps_per_execution=16):
    """Fit the model; return (losses per epoch, seconds spent, whether Ctrl-C stopped it)."""
    if lr_schedule == "cosine":
        total_steps = epochs * -(-len(inputs) // batch_size)  # batches per epoch, rounded up
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    # 16 batches per call into TensorFlow: the same training, ~15% faster on a CPU (post: 1).
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse",
                        steps_per_execution=steps_per_execution)
    history = keras.callbacks.History()
    start = time.perf_counter()
    try:
        autoencoder.fit(inputs, targets, validation_data=val_data, epochs=epochs, batch_size=batch_size,
                        callbacks=[history, keras.callbacks.CSVLogger(history_csv), *extra_callbacks],
                        verbose=1 if sys.stdout.isatty() else 2)  # progress bar, or a line per epoch
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
        print(f"\nCtrl-C: training stopped after {len(history.history.get('loss', []))} full "
              f"epoch(s); saving, measuring and plotting the model as it is now.")
    return history.history, time.perf_counter() - start, interrupted


# ## 5. Saving
# Written beside the target, then renamed: a crash mid-write never leaves a truncated model behind.
# Reload with compile=False: Keras 3 cannot rebuild the post's `loss="mse"` from an .h5 file, and
# a model used only for predictions needs no loss.


def save_model(autoencoder, path):
    partial_path = path.removesuffix(".h5") + ".partial.h5"  # Keras picks the format by the ending
    autoencoder.save(partial_path, include_optimizer=False)  # reloads only to predict
    os.replace(partial_path, path)


# ## 6. Measuring on the test set
# Test images were never seen in training. Two baselines put the error in context: PCA keeps the
# best LATENT_DIM-number *linear* code, and the mean image is what "learning nothing" scores.


def predict(model, images):
    return model.predict(images, batch_size=512, verbose=0)


def per_image_mse(images, reconstructions):
    return np.mean(np.square(images.astype(np.float64) - reconstructions), axis=(1, 2, 3))


def psnr_db(mse):
    return float(10 * np.log10(1 / mse))  # peak signal-to-noise ratio for pixels spanning [0, 1]


def principal_components(images, n_components):
    """Mean and top principal directions (as columns) of a stack of images or codes."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    _, eigenvectors = np.linalg.eigh((flat - mean).T @ (flat - mean))  # eigenvalues ascending
    return mean, eigenvectors[:, ::-1][:, :n_components]


def pca_reconstruct(train_images, images, n_components):
    """Project images on the training images' top components and back, clipped to [0, 1] like
    the autoencoder's sigmoid output."""
    mean, components = principal_components(train_images, n_components)
    rebuilt = (images.reshape(len(images), -1) - mean) @ components @ components.T + mean
    return np.clip(rebuilt, 0, 1).reshape(images.shape)


# ## 7. Feature extraction and anomaly detection
# Codes learned without labels are features: images of one class should land near each other.
# We measure it with the labels (never used in training): how often an image's nearest neighbour
# among the validation images, in code space or in pixel space, has the same label.


def nearest_neighbour_accuracy(reference, reference_labels, queries, query_labels):
    reference, queries = reference.reshape(len(reference), -1), queries.reshape(len(queries), -1)
    reference_norms, hits = np.sum(reference**2, axis=1), 0
    for start in range(0, len(queries), 1000):  # 1000 queries at a time keeps memory small
        chunk = queries[start:start + 1000]
        distances = reference_norms - 2 * chunk @ reference.T  # squared distance minus |query|^2
        hits += np.sum(reference_labels[distances.argmin(axis=1)] == query_labels[start:start + 1000])
    return float(hits / len(queries))


# An image the model rebuilds badly is unlike its training data. AUROC is the chance that a random
# anomaly (here: a test image turned upside down) has a larger error than a random normal image.


def auroc(normal_errors, anomaly_errors):
    """Mann-Whitney AUROC, ties counted as half; 0.5 is chance, 1.0 perfect separation."""
    sorted_normal = np.sort(normal_errors)
    below = (np.searchsorted(sorted_normal, anomaly_errors, "left")
             + np.searchsorted(sorted_normal, anomaly_errors, "right"))
    return float(below.sum() / (2 * len(normal_errors) * len(anomaly_errors)))


def append_run(path, row):
    """Add one row to runs.csv, widening the header if this run has new columns."""
    rows = list(csv.DictReader(open(path, newline=""))) if os.path.exists(path) else []
    columns = list(dict.fromkeys([*(rows[0].keys() if rows else []), *row]))
    with open(path + ".partial", "w", newline="") as file:  # then renamed: never half a file
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        writer.writerows([*rows, row])
    os.replace(path + ".partial", path)


# ## 8. Pictures
# loss.png: both curves should fall and stay close; a validation curve that rises while training
# falls means overfitting. The image grids show what goes in, the code, and what comes out.


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


def plot_image_rows(rows, title, path):
    """rows: (label, images or codes, column titles); a stack of codes is drawn as small grids."""
    shapes = [(28, 28) if stack.ndim == 4 else code_grid_shape(stack.shape[1]) for _, stack, _ in rows]
    figure, axes = plt.subplots(len(rows), len(rows[0][1]), squeeze=False, layout="constrained",
                                figsize=(1.6 * len(rows[0][1]), 0.6 + 1.7 * sum(r / c for r, c in shapes)),
                                height_ratios=[r / c for r, c in shapes])
    for row, ((label, stack, titles), shape) in enumerate(zip(rows, shapes)):
        limit = np.percentile(np.abs(stack), 99)  # codes: 0 is white, a rare outlier doesn't wash out the rest
        style = dict(cmap="gray", vmin=0, vmax=1) if stack.ndim == 4 else dict(
            cmap="RdBu_r", vmin=-limit, vmax=limit)
        for column, ax in enumerate(axes[row]):
            shown = ax.imshow(stack[column].reshape(shape), **style)
            ax.set(xticks=[], yticks=[], title=titles[column] if titles else "")
        axes[row, 0].set_ylabel(label)
        if stack.ndim == 2:
            figure.colorbar(shown, ax=axes[row].tolist(), label="code value")
    figure.suptitle(title)
    figure.savefig(path, dpi=120)


def plot_latent(codes, labels, path):
    """Feature extraction: the codes of the test images, projected on their top two components."""
    mean, components = principal_components(codes, 2)
    points = (codes - mean) @ components
    figure, axes = plt.subplots(figsize=(7, 6), layout="constrained")
    for label in np.unique(labels):
        axes.scatter(*points[labels == label].T, s=4, alpha=0.5, label=str(label))
    axes.set(xlabel="first principal component of the codes", ylabel="second principal component",
             title=f"{len(codes)} test images' {codes.shape[1]}-number codes, coloured by label")
    axes.legend(title="label", markerscale=4, loc="best")
    figure.savefig(path, dpi=120)


# ## 9. The whole run, in the order the data flows


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
        "autoencoder.h5", "history.csv", "metrics.json", "runs.csv", "loss.png",
        "reconstructions.png", "latent.png", "anomalies.png")}
    keras.utils.set_random_seed(SEED)  # same settings, same run

    (train_images, _), (val_images, val_labels), (test_images, test_labels) = split_and_scale(
        *load_dataset(DATASET), VAL_SIZE)
    if N_EXAMPLES > len(test_images):
        fail(f"--N_EXAMPLES={N_EXAMPLES}: the test set has only {len(test_images)} images")
    print(f"{DATASET}: {len(train_images)} training, {len(val_images)} validation, "
          f"{len(test_images)} test images of {train_images.shape[1:]}")
    # The model's inputs: the images themselves, or noisy copies of them (drawn once, seeded).
    noise_rng = np.random.default_rng(SEED)
    train_inputs, val_inputs, test_inputs = (
        (add_noise(images, NOISE_FACTOR, noise_rng) if NOISE_FACTOR else images)
        for images in (train_images, val_images, test_images))

    autoencoder = build_autoencoder(LATENT_DIM, CODE_ACTIVATION, DECODER, DECODER_HIDDEN)
    autoencoder.summary(expand_nested=True)
    history, train_seconds, interrupted = train(
        autoencoder, train_inputs, train_images, (val_inputs, val_images), EPOCHS, BATCH_SIZE,
        LEARNING_RATE, LR_SCHEDULE, output["history.csv"])
    save_model(autoencoder, output["autoencoder.h5"])

    encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    test_codes, val_codes = predict(encoder, test_inputs), predict(encoder, val_inputs)  # image -> code
    reconstructions = predict(decoder, test_codes)  # code -> image
    test_errors = per_image_mse(test_images, reconstructions)
    test_mse = float(test_errors.mean())
    pca_mse = float(per_image_mse(test_images, pca_reconstruct(train_images, test_inputs, LATENT_DIM)).mean())
    mean_image_mse = float(per_image_mse(test_images, train_images.mean(axis=0)).mean())
    val_errors = per_image_mse(val_images, predict(decoder, val_codes))
    threshold = float(np.percentile(val_errors, 99))  # 1% of normal validation images lie above it
    anomaly_errors = per_image_mse(np.rot90(test_images, 2, axes=(1, 2)),  # turned upside down
                                   predict(autoencoder, np.rot90(test_inputs, 2, axes=(1, 2))))
    epochs_trained = len(history.get("loss", []))
    metrics = {
        "test_mse": test_mse, "pca_mse": pca_mse, "mean_image_mse": mean_image_mse,
        "psnr_db": psnr_db(test_mse),
        "noisy_input_psnr_db": psnr_db(per_image_mse(test_images, test_inputs).mean()) if NOISE_FACTOR else None,
        "code_1nn_accuracy": nearest_neighbour_accuracy(val_codes, val_labels, test_codes, test_labels),
        "pixel_1nn_accuracy": nearest_neighbour_accuracy(val_inputs, val_labels, test_inputs, test_labels),
        "anomaly_auroc": auroc(test_errors, anomaly_errors), "anomaly_threshold": threshold,
        "test_share_above_threshold": float(np.mean(test_errors > threshold)),
        "anomaly_share_above_threshold": float(np.mean(anomaly_errors > threshold)),
        "train_seconds": train_seconds, "epochs_trained": epochs_trained, "interrupted": interrupted,
        "seconds_per_epoch": train_seconds / max(epochs_trained, 1),
        "settings": {name: globals()[name] for name in SETTINGS},
    }
    with open(output["metrics.json"], "w") as file:
        json.dump(metrics, file, indent=2)
    results = {key: value for key, value in metrics.items() if key != "settings"}
    append_run(output["runs.csv"], {"finished_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                                    **metrics["settings"], **results})

    verdict = (f"beats PCA by {pca_mse / test_mse:.2f}x" if test_mse < pca_mse
               else f"is {test_mse / pca_mse:.2f}x worse than PCA")
    print(f"\nTest-set reconstruction error, mean squared error per pixel (lower is better):\n"
          f"  autoencoder, {LATENT_DIM}-number code   {test_mse:.5f}  (PSNR {metrics['psnr_db']:.1f} dB"
          + (f"; noisy input {metrics['noisy_input_psnr_db']:.1f} dB)" if NOISE_FACTOR else ")") +
          f"\n  PCA, {LATENT_DIM} components           {pca_mse:.5f}\n"
          f"  mean training image           {mean_image_mse:.5f}\n"
          f"With {LATENT_DIM} numbers per image, the autoencoder {verdict}, the best linear code of "
          f"that size, after {epochs_trained} epoch(s).\n"
          f"Features: the nearest validation image has the same label {metrics['code_1nn_accuracy']:.1%} "
          f"of the time in code space, {metrics['pixel_1nn_accuracy']:.1%} in pixel space.\n"
          f"Anomalies: upside-down test images vs upright ones, AUROC {metrics['anomaly_auroc']:.3f}; "
          f"above the threshold {threshold:.4f}: {metrics['anomaly_share_above_threshold']:.1%} of "
          f"upside-down, {metrics['test_share_above_threshold']:.1%} of upright test images.")

    plot_losses(history, output["loss.png"])
    # The same test images in every run with this SEED, whatever the other settings.
    shown = np.sort(np.random.default_rng(SEED).choice(len(test_images), N_EXAMPLES, replace=False))
    titles = [f"#{i}, label {test_labels[i]}" for i in shown]
    rows = [("original", test_images[shown], titles),
            *([("noisy input", test_inputs[shown], None)] if NOISE_FACTOR else []),
            ("code", test_codes[shown], None), ("reconstruction", reconstructions[shown], None)]
    plot_image_rows(rows, "Test images: " + ", ".join(row[0] for row in rows), output["reconstructions.png"])
    plot_latent(test_codes, test_labels, output["latent.png"])
    order, rows = np.argsort(test_errors), []
    for kind, picked in (("worst", order[::-1][:N_EXAMPLES]), ("typical", order[len(order) // 2:][:N_EXAMPLES])):
        titles = [f"label {test_labels[i]}\nMSE {test_errors[i]:.4f}" for i in picked]
        rows += [(f"{kind}: original", test_images[picked], titles), ("rebuilt", reconstructions[picked], None)]
    plot_image_rows(rows, "Test images the model rebuilds worst, and typical (median-error) ones",
                    output["anomalies.png"])

    print("\nWrote " + ", ".join(output.values()))
    if SHOW_PLOTS:
        plt.show()


if __name__ == "__main__":
    main(sys.argv[1:])
