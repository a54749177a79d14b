# %% [markdown]
# # An autoencoder for MNIST: compress, rebuild, denoise, spot the odd one out
#
# **Based on:** "Autoencoder 介绍 / 原理及实现", a blog post by 禅与计算机程序设计艺术 ("Zen and the
# Art of Computer Programming"), updated 2021-09-23 (our copy carries no web address).<br>
# **Description:** a convolutional autoencoder squeezes each 28x28 digit into a *code* of
# `LATENT_DIM` numbers and rebuilds it from the code alone, no labels needed. We measure it against
# PCA, then show the denoising, feature extraction and anomaly detection the post only claimed.
#
# **Run:** `python autoencoder_mnist.py [--EPOCHS=3 ...]` (`--help` lists the settings). VS Code
# runs the `# %%` cells one by one; `jupytext --to ipynb autoencoder_mnist.py` makes a notebook for
# Jupyter or Colab. After `python -i autoencoder_mnist.py`, poke at `autoencoder`, `encoder`,
# `decoder`, `history`, `metrics`, `test_codes`, `reconstructions`...

# %% [markdown]
# ## Settings
#
# Change a constant, rerun, compare. "(post: ...)" gives the blog post's value where ours differs.

# %%
DATASET = "mnist"  # "mnist", "fashion_mnist", or the path of an .npz laid out like mnist.npz
VAL_SIZE = 5000  # the first VAL_SIZE training images are held out for validation (as in the post)
LATENT_DIM = 128  # numbers in the code each 784-pixel image is squeezed into
CODE_ACTIVATION = "linear"  # the code layer's activation, "linear" or "relu" (post: "relu")
DECODER = "dense"  # "dense" (the post's code) or "conv" (transposed convolutions, its diagram)
DECODER_HIDDEN = 512  # units of a Dense(relu) layer inside the dense decoder; 0 = none (post: 0)
NOISE_FACTOR = 0.0  # above 0: train and test on inputs with Gaussian noise of this std (denoising)
EPOCHS = 10  # passes over the training images
BATCH_SIZE = 64  # images per gradient step (post: 128)
LEARNING_RATE = 0.003  # Adam's step size, the starting one with LR_SCHEDULE "cosine" (post: 0.001)
LR_SCHEDULE = "cosine"  # "cosine" decays the step size to 0 by the last step, or "constant" (post)
STEPS_PER_EXECUTION = 16  # batches per call into TensorFlow: same training, less overhead (post: 1)
PRECISION = "auto"  # "auto", "float32" (post), "mixed_bfloat16" or "mixed_float16": see below
SEED = 42  # fixes weight initialisation, shuffling, noise and the example images shown
N_EXAMPLES = 8  # test images drawn in reconstructions.png and anomalies.png
OUTPUT_DIR = "outputs"  # where every file of the run goes
SHOW_PLOTS = False  # from a terminal, True also opens the figures in windows at the end

# %% [markdown]
# ## Settings from the command line (plumbing, safe to skip)
#
# `--NAME=value` replaces a constant above for one run. Every value is checked here, before
# TensorFlow loads: a typo costs a second, not a training run. Notebooks ignore the command line.

# %%
import atexit, csv, difflib, json, math, os, re, shutil, signal, sys, tempfile, time, zipfile, zlib

SETTINGS = {k: v for k, v in globals().items() if k.isupper() and not isinstance(v, dict)}
limits = dict(VAL_SIZE=(1, 250_000), LATENT_DIM=(2, 784), DECODER_HIDDEN=(0, 8192))
limits |= dict(NOISE_FACTOR=(0, 1), EPOCHS=(1, 9999), BATCH_SIZE=(1, 65536), SEED=(0, 2**32 - 1))
limits |= dict(LEARNING_RATE=(1e-7, 1), STEPS_PER_EXECUTION=(1, 9999), N_EXAMPLES=(1, 32))
choices = dict(CODE_ACTIVATION="linear relu", DECODER="dense conv", LR_SCHEDULE="constant cosine")
choices |= dict(PRECISION="auto float32 mixed_bfloat16 mixed_float16")
kernel = sys.modules.get("ipykernel.kernelapp")  # Jupyter, Colab, VS Code's interactive window
in_notebook = bool(kernel) and kernel.IPKernelApp.initialized()


def fail(message, exit_code=2):
    """Stop with one clear line: exit code 2 for wrong settings or data, 1 for a failed run."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(exit_code)


for arg in [] if in_notebook else sys.argv[1:]:
    name, equals, text = arg.removeprefix("--").partition("=")
    if arg in ("-h", "--help"):  # the settings block above, with defaults and comments
        source = open(__file__, encoding="utf-8").read()
        raise SystemExit(print("".join(re.findall(r"^[A-Z_]+ = .*  # .*\n", source, re.M))))
    if not arg.startswith("--") or not equals or name not in SETTINGS:
        guess = difflib.get_close_matches(name.upper(), SETTINGS, n=1, cutoff=0)[0]
        fail(f"{arg!r}: write a setting (see --help) as --NAME=value; did you mean --{guess}?")
    kind, words = type(SETTINGS[name]), {"true": True, "1": True, "false": False, "0": False}
    try:
        globals()[name] = words[text.lower()] if kind is bool else kind(text)
    except (KeyError, ValueError):
        fail(f"--{name}={text}: expected {kind.__name__.replace('bool', 'true or false')}")
for name, value in [(name, globals()[name]) for name in SETTINGS]:
    if name in limits and not limits[name][0] <= value <= limits[name][1]:  # `not` catches nan
        fail(f"--{name}={value}: must be from {limits[name][0]} to {limits[name][1]}")
    if name in choices and value not in choices[name].split():
        fail(f"--{name}={value}: must be one of {choices[name].replace(' ', ', ')}")
    if type(value) is str and not value.isprintable():  # a path with bytes that are not UTF-8
        fail(f"--{name}={value!r}: must be printable UTF-8 text")
# "~/runs" is a folder in your home folder, not in a folder named "~":
OUTPUT_DIR = os.path.expanduser(OUTPUT_DIR)
try:  # make it, and write there once, before any work
    os.makedirs(OUTPUT_DIR, exist_ok=True)
    tempfile.TemporaryFile(dir=OUTPUT_DIR).close()
except OSError as error:
    fail(f"--OUTPUT_DIR={OUTPUT_DIR}: cannot write there ({error.strerror})")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's informational start-up logs

# %% [markdown]
# ## The data
#
# 70,000 handwritten digits of 28x28 grey pixels, 60,000 to train on, 10,000 to test; the labels
# only measure things later. **Denoising** (`NOISE_FACTOR` above 0): the model gets noisy copies
# as input (drawn once, seeded) but must rebuild the clean images.

# %%
import numpy as np


def load_npz(path):
    """The four arrays of an .npz laid out like mnist.npz, each header checked before reading."""
    arrays, wanted = {}, {"x": "uint8 (N <= 250000, 28, 28)", "y": "integers (N,)"}
    try:
        with zipfile.ZipFile(path) as archive:
            for key in ("x_train", "y_train", "x_test", "y_test"):
                with archive.open(f"{key}.npy") as member:  # its header first: shape and type
                    major, _ = np.lib.format.read_magic(member)
                    header = getattr(np.lib.format, f"read_array_header_{min(major, 2)}_0")
                    shape, _, dtype = header(member)
                ok = dtype == np.uint8 and shape[1:] == (28, 28) and 0 < shape[0] <= 250_000
                if key[0] == "y":  # labels: one whole number per image
                    ok = dtype.kind in "iu" and shape == arrays[f"x{key[1:]}"].shape[:1]
                if not ok:
                    fail(f"--DATASET={path}: {key} is {dtype} {shape}; expected {wanted[key[0]]}")
                with archive.open(f"{key}.npy") as member:  # only these four arrays are read
                    arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        fail(f"--DATASET={path}: not an .npz like mnist.npz ({' '.join(str(error).split())})")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_dataset(name):
    """((train_images, train_labels), (test_images, test_labels)) as uint8 and integer arrays."""
    if name not in ("mnist", "fashion_mnist"):
        return load_npz(name)
    import keras  # Keras does the download (and brings TensorFlow with it)

    try:
        return getattr(keras.datasets, name).load_data()
    except Exception as error:  # no network, a proxy, a certificate problem, a full disk...
        reason = " ".join(str(error).split(" -- ")[-1].split())  # without Keras's "URL... None --"
        home = os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))
        sample = "--DATASET=tests/data/mnist_sample.npz"  # 1,200 real digits, in this project
        fail(f"could not download {name} ({reason}). Run on {sample}, or put it in {home}/datasets")


started = time.perf_counter()
(train_images, train_labels), (test_images, test_labels) = load_dataset(DATASET)
if VAL_SIZE >= len(train_images):
    fail(f"--VAL_SIZE={VAL_SIZE}: must be smaller than the {len(train_images)} training images")
if N_EXAMPLES > len(test_images):
    fail(f"--N_EXAMPLES={N_EXAMPLES}: the test set has only {len(test_images)} images")
val_images, val_labels = train_images[:VAL_SIZE], train_labels[:VAL_SIZE]
train_images, train_labels = train_images[VAL_SIZE:], train_labels[VAL_SIZE:]


def scale(images):  # to floats in [0, 1], with a channel axis: (N, 28, 28, 1)
    return (images.astype("float32") / 255.0)[..., np.newaxis]


train_images, val_images, test_images = map(scale, (train_images, val_images, test_images))
print(f"{len(train_images)} training, {len(val_images)} validation, {len(test_images)} test images")
splits = (train_images, val_images, test_images)
train_inputs, val_inputs, test_inputs = splits  # the model's inputs: the images themselves
if NOISE_FACTOR:  # or noisy copies, drawn once per image with the seed
    noise_rng = np.random.default_rng(SEED)
    noise = [NOISE_FACTOR * noise_rng.standard_normal(x.shape, "float32") for x in splits]
    train_inputs, val_inputs, test_inputs = (np.clip(x + n, 0, 1) for x, n in zip(splits, noise))
load_seconds = time.perf_counter() - started

# %% [markdown]
# ## The model
#
# The encoder is the post's: two convolution + pooling stages shrink 28x28 to 7x7x64, then a
# `Dense` layer makes the code. The "dense" decoder is the post's code (plus an optional hidden
# layer), the "conv" one its diagram. Both halves are named sub-models, so we can ask the encoder
# alone for the code of an image, or the decoder alone for the image of a code.

# %%
import keras


def build_autoencoder():
    encoder_layers = [
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(LATENT_DIM, activation=CODE_ACTIVATION),
    ]
    encoder = keras.Sequential(encoder_layers, name="encoder")
    if DECODER == "dense":
        hidden = [keras.layers.Dense(DECODER_HIDDEN, activation="relu")] if DECODER_HIDDEN else []
        layers = [*hidden, keras.layers.Dense(28 * 28), keras.layers.Reshape((28, 28, 1))]
    else:  # the encoder mirrored: 7x7x64 -> 14x14x64 -> 28x28x32 -> one channel
        layers = [
            keras.layers.Dense(7 * 7 * 64, activation="relu"),
            keras.layers.Reshape((7, 7, 64)),
            keras.layers.Conv2DTranspose(64, 3, strides=2, activation="relu", padding="same"),
            keras.layers.Conv2DTranspose(32, 3, strides=2, activation="relu", padding="same"),
            keras.layers.Conv2D(1, 3, padding="same"),
        ]
    # The sigmoid keeps each output pixel in [0, 1] like the input's, computed in float32 always.
    layers.append(keras.layers.Activation("sigmoid", dtype="float32"))
    decoder = keras.Sequential([keras.Input(shape=(LATENT_DIM,)), *layers], name="decoder")
    return keras.Sequential([encoder, decoder], name="autoencoder")


# %% [markdown]
# **Mixed precision** computes in 16-bit floats and keeps the weights in 32-bit: up to twice as
# fast on hardware built for it (a recent GPU, a CPU with bfloat16 instructions), slower elsewhere.
# `PRECISION = "auto"` picks what this machine does well. Only training uses it: the trained model
# is copied to float32 to be measured and saved, so its numbers reproduce on any machine.


# %%
def choose_precision(gpu_capabilities, cpu_flags):
    """PRECISION "auto": (policy, reason), from the GPUs' compute capabilities and the CPU flags."""
    if any(capability >= (7, 0) for capability in gpu_capabilities):
        return "mixed_float16", "a GPU with float16 tensor cores"
    if {"avx512_bf16", "amx_bf16"} & set(cpu_flags):
        return "mixed_bfloat16", "a CPU with native bfloat16 (avx512_bf16 or amx_bf16)"
    return "float32", "neither a recent GPU nor a CPU with native bfloat16 found"


import tensorflow as tf

gpu_details = map(tf.config.experimental.get_device_details, tf.config.list_physical_devices("GPU"))
capabilities = [details.get("compute_capability", (0, 0)) for details in gpu_details]
cpu_flags = open("/proc/cpuinfo").read().split() if os.path.exists("/proc/cpuinfo") else []
precision, reason = choose_precision(capabilities, cpu_flags)
if PRECISION != "auto":
    precision, reason = PRECISION, "set by PRECISION"
print(f"Precision: {precision} ({reason})")
keras.mixed_precision.set_global_policy(precision)
keras.utils.set_random_seed(SEED)  # same settings, same run
autoencoder = build_autoencoder()
autoencoder.summary(expand_nested=True)

# %% [markdown]
# ### Where the run's files go (plumbing, safe to skip)
#
# Everything this run writes goes into a private folder inside `OUTPUT_DIR` first and moves in at
# the end, so the folder never holds half a file or the files of two runs. Ctrl-C during training
# stops training and the run goes on; after it, Ctrl-C (or `kill`) stops the run at once and
# leaves `OUTPUT_DIR` as it was. A run that fails after training keeps its model and says where.


# %%
def on_stop_signals(handler):  # Ctrl-C and `kill` (SIGTERM); a notebook keeps its own handling
    for stop_signal in [] if in_notebook else [signal.SIGINT, signal.SIGTERM]:
        signal.signal(stop_signal, handler)


save_error = None  # or why the model could not be saved
run_folder = tempfile.mkdtemp(prefix=".run-", dir=OUTPUT_DIR)  # a new name, only ours
run_id = time.strftime("%Y%m%d-%H%M%S-") + os.path.basename(run_folder).removeprefix(".run-")


def stop_now(signal_number, frame):  # a second Ctrl-C or a `kill`: stop, OUTPUT_DIR untouched
    shutil.rmtree(run_folder, ignore_errors=True)
    fail(f"interrupted: stopped; {OUTPUT_DIR} keeps the files it had", 130)


@atexit.register
def clean_up():  # at exit: the run's folder goes, unless it holds a model that was not moved in
    if not save_error and os.path.exists(os.path.join(run_folder, "autoencoder.h5")):
        return print(f"error: the run stopped; its files are in {run_folder}", file=sys.stderr)
    shutil.rmtree(run_folder, ignore_errors=True)


on_stop_signals(signal.default_int_handler)  # `kill` stops training the way Ctrl-C does

# %% [markdown]
# ## Training
#
# Input and target are the same images (or noisy input, clean target); the loss is the mean
# squared error over the pixels. Both losses should fall and stay close; a validation loss that
# rises while the training loss falls would mean overfitting. Ctrl-C (or interrupting the kernel)
# stops training early and the run goes on with the model as it is; a second Ctrl-C stops the run.


# %%
total_steps = EPOCHS * math.ceil(len(train_inputs) / BATCH_SIZE)  # batches per epoch, rounded up
cosine = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, total_steps)  # big steps, then 0
optimizer = keras.optimizers.Adam(cosine if LR_SCHEDULE == "cosine" else LEARNING_RATE)
autoencoder.compile(optimizer, loss="mse", steps_per_execution=STEPS_PER_EXECUTION)
history = keras.callbacks.History()  # filled epoch by epoch, so an interruption keeps it
started = time.perf_counter()
try:
    autoencoder.fit(
        train_inputs,
        train_images,
        validation_data=(val_inputs, val_images),
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        callbacks=[history, keras.callbacks.TerminateOnNaN()],
        verbose=2,  # a line per epoch (Keras's bar overshoots with STEPS_PER_EXECUTION > 1)
    )
except KeyboardInterrupt:
    print(f"\nInterrupted: {len(history.epoch)} full epoch(s) kept; saving and measuring them.")
on_stop_signals(stop_now)  # from here on, Ctrl-C or `kill` stop the whole run at once
train_seconds, epochs_trained = time.perf_counter() - started, len(history.epoch)
interrupted = epochs_trained < EPOCHS  # by Ctrl-C (a NaN loss stops the run below)
if not np.isfinite(history.history.get("loss", [])).all():  # TerminateOnNaN stopped training
    fail("training diverged (the loss became nan); try a smaller --LEARNING_RATE", exit_code=1)
if precision != "float32":  # a float32 copy with the same weights, to measure and save
    trained_weights = autoencoder.get_weights()
    keras.mixed_precision.set_global_policy("float32")
    autoencoder = build_autoencoder()
    autoencoder.set_weights(trained_weights)
encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")

# %% [markdown]
# ## Saving
#
# The model is saved without its optimizer, for predictions, in the HDF5 file the post saves:
# `keras.models.load_model("outputs/autoencoder.h5", compile=False)` reloads it. Without
# `compile=False` it loads too, with a warning that it is not compiled (compile it to train more).
# If saving fails (a full disk), the run still measures the model and reports, then says so.

# %%
try:
    autoencoder.save(os.path.join(run_folder, "autoencoder.h5"), include_optimizer=False)
except Exception as error:  # a full disk, a quota...
    save_error = " ".join(str(error).split())[:300]
with open(os.path.join(run_folder, "history.csv"), "w", newline="") as file:  # epochs from 1
    rows = zip(range(1, epochs_trained + 1), *history.history.values())
    csv.writer(file).writerows([["epoch", *history.history], *rows])

# %% [markdown]
# ## Measuring on the test set
#
# Test images were never seen in training. Two baselines put the error in context: **PCA** with
# `LATENT_DIM` components is the best *linear* code of that size, so an autoencoder earns its
# non-linearity only if it beats PCA; the **mean training image** is what learning nothing scores.
# PSNR (peak signal-to-noise ratio, in dB) says the same as MSE on a log scale; higher is better.


# %%
def per_image_mse(images, reconstructions):
    return np.mean(np.square(images - reconstructions), axis=(1, 2, 3), dtype=np.float64)


def psnr(mse):
    return float(10 * np.log10(1 / mse)) if mse > 0 else math.inf  # for pixels in [0, 1]


def pca_rebuild(train_images, images, n_components):
    """Project on the training images' top principal directions and back, clipped to [0, 1]."""
    flat = train_images.reshape(len(train_images), -1)
    mean = flat.mean(axis=0, dtype=np.float64)
    centred = (flat - mean).astype(np.float32)  # float32: 4x faster here, the same directions
    _, eigenvectors = np.linalg.eigh((centred.T @ centred).astype(np.float64))  # ascending
    components = eigenvectors[:, ::-1][:, :n_components]
    rebuilt = (images.reshape(len(images), -1) - mean) @ components @ components.T + mean
    return np.clip(rebuilt, 0, 1).reshape(images.shape)


print("\nMeasuring: test images, PCA, nearest neighbours, upside-down images...", flush=True)
started = time.perf_counter()
test_codes = encoder.predict(test_inputs, batch_size=512, verbose=0)  # image -> code
reconstructions = decoder.predict(test_codes, batch_size=512, verbose=0)  # code -> image
test_errors = per_image_mse(test_images, reconstructions)
test_mse = float(test_errors.mean())
pca_mse = per_image_mse(test_images, pca_rebuild(train_images, test_inputs, LATENT_DIM)).mean()
mean_image_mse = float(per_image_mse(test_images, train_images.mean(axis=0)).mean())
noisy_input_psnr_db = psnr(per_image_mse(test_images, test_inputs).mean()) if NOISE_FACTOR else None

# %% [markdown]
# ## Feature extraction
#
# Codes learned without labels are features: images of one class should land near each other.
# The labels measure it: how often is an image's nearest neighbour among the validation images,
# in code space or in pixel space, of the same class? Often in code space means the code kept
# what tells classes apart, in far fewer numbers than the 784 pixels.


# %%
def nearest_neighbour_accuracy(reference, reference_labels, queries, query_labels):
    reference, queries = reference.reshape(len(reference), -1), queries.reshape(len(queries), -1)
    reference_norms, hits = np.sum(reference**2, axis=1), 0
    for start in range(0, len(queries), 1000):  # 1000 queries at a time keeps memory small
        distances = reference_norms - 2 * queries[start : start + 1000] @ reference.T  # - |query|^2
        nearest_labels = reference_labels[distances.argmin(axis=1)]
        hits += np.sum(nearest_labels == query_labels[start : start + 1000])
    return float(hits / len(queries))


val_codes = encoder.predict(val_inputs, batch_size=512, verbose=0)
code_1nn_accuracy = nearest_neighbour_accuracy(val_codes, val_labels, test_codes, test_labels)
pixel_1nn_accuracy = nearest_neighbour_accuracy(val_inputs, val_labels, test_inputs, test_labels)

# %% [markdown]
# ## Anomaly detection
#
# An image unlike the training data is rebuilt badly, so a large error flags an anomaly. Ours: the
# test images turned upside down. The threshold is set on normal validation images (1% of them
# lie above it). AUROC is the chance that a random upside-down image has a larger error than a
# random upright one: 0.5 is chance, 1.0 perfect separation.


# %%
def auroc(normal_errors, anomaly_errors):
    """Mann-Whitney AUROC, ties counted as half."""
    sorted_normal = np.sort(normal_errors)
    below = np.searchsorted(sorted_normal, anomaly_errors, "left")
    below += np.searchsorted(sorted_normal, anomaly_errors, "right")
    return float(below.sum() / (2 * len(normal_errors) * len(anomaly_errors)))


val_errors = per_image_mse(val_images, decoder.predict(val_codes, batch_size=512, verbose=0))
anomaly_threshold = float(np.percentile(val_errors, 99))  # 1% of validation images lie above
upside_down_images = np.rot90(test_images, 2, axes=(1, 2))
upside_down_inputs = np.rot90(test_inputs, 2, axes=(1, 2))
upside_down_rebuilt = autoencoder.predict(upside_down_inputs, batch_size=512, verbose=0)
upside_down_errors = per_image_mse(upside_down_images, upside_down_rebuilt)
anomaly_auroc = auroc(test_errors, upside_down_errors)
test_share_above_threshold = float(np.mean(test_errors > anomaly_threshold))
anomaly_share_above_threshold = float(np.mean(upside_down_errors > anomaly_threshold))
measure_seconds = time.perf_counter() - started

# %% [markdown]
# ## The report
#
# Everything measured, with the settings that produced it, goes to `metrics.json`, under the
# names printed here. Read `ae_over_pca` first: below 1, the autoencoder beats the best linear
# code of its size. The `_seconds` lines say where the time went; drawing comes next.

# %%
psnr_db, seconds_per_epoch = psnr(test_mse), train_seconds / max(epochs_trained, 1)
ae_over_pca = test_mse / pca_mse if pca_mse else math.inf
names = "test_mse pca_mse ae_over_pca mean_image_mse psnr_db noisy_input_psnr_db code_1nn_accuracy"
names += " pixel_1nn_accuracy anomaly_auroc anomaly_threshold test_share_above_threshold"
names += " anomaly_share_above_threshold epochs_trained interrupted precision seconds_per_epoch"
names += " load_seconds train_seconds measure_seconds run_id"
metrics = {name: globals()[name] for name in names.split()}
metrics = {k: None if v in (math.inf, -math.inf) or v != v else v for k, v in metrics.items()}
metrics["settings"] = {name: globals()[name] for name in SETTINGS}
print(f"\nMeasured after {epochs_trained} epoch(s), on test images (as in metrics.json):")
print("\n".join(f"  {k:30} {v:.5g}" for k, v in metrics.items() if isinstance(v, float)))
if not test_mse < mean_image_mse:
    print("warning: this model rebuilds test images no better than the mean training image does")

# %% [markdown]
# ## Pictures
#
# `loss.png`: the training loss is averaged over each epoch while the model still learns; the
# validation loss is measured at its end, so it can sit a little below.

# %%
import matplotlib

if not in_notebook and not SHOW_PLOTS:
    matplotlib.use("Agg")  # draw into files only: no window, nothing blocks
import matplotlib.pyplot as plt

plt.rcParams["figure.constrained_layout.use"] = True  # titles and labels never overlap
fashion = "T-shirt/top trouser pullover dress coat sandal shirt sneaker bag boot".split()
label_names = dict(enumerate(fashion)) if DATASET == "fashion_mnist" else {}  # else the numbers


epochs = np.arange(1, epochs_trained + 1)
figure, axes = plt.subplots(figsize=(6, 4))
axes.plot(epochs, history.history.get("loss", []), "o-", label="training (mean over the epoch)")
axes.plot(epochs, history.history.get("val_loss", []), "o-", label="validation (at its end)")
axes.set(xlabel="epoch", ylabel="mean squared error per pixel", title="Loss per epoch")
axes.set_xticks(epochs[:: math.ceil(len(epochs) / 12)] if len(epochs) else [])  # whole epochs
axes.legend()
figure.savefig(os.path.join(run_folder, "loss.png"), dpi=120)

# %% [markdown]
# `reconstructions.png`: a few test images, what goes in, the code it is squeezed into (drawn as
# a small image: red positive, blue negative, white 0) and what comes out.


# %%
def code_grid_shape(latent_dim):
    """The most nearly square rows x columns grid that holds the code: 8 x 16 for 128."""
    rows = max(r for r in range(1, int(latent_dim**0.5) + 1) if latent_dim % r == 0)
    return rows, latent_dim // rows


def plot_image_rows(rows, title):
    """rows: (label, images or codes, captions); a row is one strip, a code a small grid in it."""
    shapes = [(28, 28) if s.ndim == 4 else code_grid_shape(s.shape[1]) for _, s, _ in rows]
    heights = [1.6 * r / (c + 1) for r, c in shapes]  # inches, each picture 1.6 inches wide
    size = (1.6 * len(rows[0][1]), sum(heights) + 0.5 * len(rows) + 0.6)  # + the captions
    figure, axes = plt.subplots(len(rows), figsize=size, height_ratios=heights)
    for ax, (label, stack, captions), (r, c) in zip(axes, rows, shapes):
        limit = np.percentile(np.abs(stack), 99)  # one large code value doesn't wash out the rest
        style = dict(cmap="RdBu_r", vmin=-limit, vmax=limit)  # codes: red +, blue -, white 0
        if stack.ndim == 4:  # images
            style = dict(cmap="gray", vmin=0, vmax=1)
        pictures = np.pad(stack.reshape(-1, r, c), ((0, 0), (0, 0), (0, 1)), constant_values=np.nan)
        drawn = ax.imshow(np.hstack(pictures), **style)  # side by side, a blank column between
        ax.set_xticks(np.arange(len(stack)) * (c + 1) + c / 2 if captions else [], captions or [])
        ax.set(yticks=[], ylabel=label)  # a caption under each picture, the row's name beside it
        if stack.ndim == 2:
            figure.colorbar(drawn, ax=ax, label="code value")
    figure.suptitle(title)
    return figure


shown = np.sort(np.random.default_rng(SEED).choice(len(test_images), N_EXAMPLES, replace=False))
titles = [f"#{i}: {label_names.get(test_labels[i], test_labels[i])}" for i in shown]
rows = [("original", test_images[shown], titles)]
rows += [("noisy input", test_inputs[shown], None)] if NOISE_FACTOR else []
rows += [("code", test_codes[shown], None), ("reconstruction", reconstructions[shown], None)]
title = "Test images: " + ", ".join(row[0] for row in rows)
plot_image_rows(rows, title).savefig(os.path.join(run_folder, "reconstructions.png"), dpi=120)

# %% [markdown]
# `latent.png`: every test image's code as a point, coloured by its class. A code of two numbers
# is drawn as it is; a longer one is projected on its two principal components (the rotation that
# shows the most spread). Classes in clouds of their own are what the 1-NN number measures.

# %%
points, axis_names = test_codes, ("code number 1", "code number 2")
if LATENT_DIM > 2:
    centred_codes = test_codes - test_codes.mean(axis=0)
    points = centred_codes @ np.linalg.svd(centred_codes, full_matrices=False)[2][:2].T
    axis_names = ("first principal component of the codes", "second principal component")
figure, axes = plt.subplots(figsize=(7, 6))
for label in np.unique(test_labels):
    name = label_names.get(label, label)
    axes.scatter(*points[test_labels == label].T, s=4, alpha=0.5, label=name)
axes.set(xlabel=axis_names[0], ylabel=axis_names[1])
axes.set_title(f"{len(test_codes)} test images' {LATENT_DIM}-number codes, coloured by class")
axes.legend(markerscale=4)
figure.savefig(os.path.join(run_folder, "latent.png"), dpi=120)

# %% [markdown]
# `anomalies.png`: the normal test images the model rebuilds worst (busy patterns, rare shapes),
# typical ones (median error), and upside-down ones, the anomalies the AUROC is about, each with
# its error; "flagged" means above the threshold.

# %%
order, rows = np.argsort(test_errors), []
median = order[(len(order) - N_EXAMPLES) // 2 :][:N_EXAMPLES]
for kind, picked, images, rebuilt, errors in (
    ("worst", order[::-1][:N_EXAMPLES], test_images, reconstructions, test_errors),
    ("typical", median, test_images, reconstructions, test_errors),
    ("upside-down", shown, upside_down_images, upside_down_rebuilt, upside_down_errors),
):
    flags = ["\nflagged" if errors[i] > anomaly_threshold else "" for i in picked]
    names = [label_names.get(test_labels[i], test_labels[i]) for i in picked]
    titles = [f"{name}\nMSE {errors[i]:.4f}{flag}" for name, i, flag in zip(names, picked, flags)]
    rows += [(f"{kind}: original", images[picked], titles), ("rebuilt", rebuilt[picked], None)]
title = f"Test images rebuilt worst, typically, and upside down (threshold {anomaly_threshold:.4f})"
plot_image_rows(rows, title).savefig(os.path.join(run_folder, "anomalies.png"), dpi=120)
draw_seconds = metrics["draw_seconds"] = time.perf_counter() - started - measure_seconds
# %% [markdown]
# ## Comparing runs
#
# Every finished run adds a row to `runs.csv` in its folder, and `runs.png` draws the last ones.
# Change one thing at a time, rerun, and read `runs.png`: each run is labelled with what it changed
# from the constants at the top, its error stands beside PCA's, and the ratio of the two is what
# tells a better model from an easier task (a longer code makes both errors smaller).


# %%
def numbers(run, keys):  # numbers from a row of runs.csv; nan where it has none
    return [float(run.get(key) or "nan") for key in keys]


def applied(settings):
    """The settings that shaped a run: all but where it wrote to, and a conv's DECODER_HIDDEN."""
    unused = {"OUTPUT_DIR", "SHOW_PLOTS", "DECODER_HIDDEN" if settings["DECODER"] == "conv" else ""}
    return [name for name in SETTINGS if name not in unused]


def run_label(run):
    """What a run changed from the constants at the top of this file: "LATENT_DIM=16", "defaults"."""
    changed = [k for k in applied(run) if str(run.get(k, "")) not in ("", str(SETTINGS[k]))]
    return ", ".join(f"{k}={os.path.basename(str(run[k]))}" for k in changed) or "defaults"


def plot_runs(runs, current_run_id):
    """Test MSE beside PCA's for the last 20 runs, oldest at the top, the current one in bold."""
    errors = np.array([numbers(run, ("test_mse", "pca_mse")) for run in runs])
    shown = np.flatnonzero((errors > 0).all(axis=1))[-20:]  # runs with both numbers
    figure, axes = plt.subplots(figsize=(11, 1.5 + 0.55 * len(shown)))
    for offset, (name, errors_shown) in enumerate(zip(("autoencoder", "PCA"), errors[shown].T)):
        axes.barh(np.arange(len(shown)) + 0.4 * offset - 0.2, errors_shown, 0.4, label=name)
    labels = [f"{run_label(runs[i])}: {errors[i, 0] / errors[i, 1]:.2f}x PCA" for i in shown]
    axes.set_yticks(range(len(shown)), [re.sub(r"(.{30,}?), ", r"\1,\n", x) for x in labels])
    for i, label in zip(shown, axes.get_yticklabels()):
        label.set_fontweight("bold" if runs[i].get("run_id") == current_run_id else "normal")
    axes.set_xscale("log")  # equal ratios, equal distances; and errors can span decades
    axes.invert_yaxis()  # oldest at the top
    axes.set(xlabel="test MSE per pixel (lower is better)", title=f"The last runs in {OUTPUT_DIR}")
    axes.legend(loc="upper left", bbox_to_anchor=(1, 1))
    return figure


# %% [markdown]
# ## Writing the run's files (plumbing, safe to skip)
#
# Under a lock, so that runs finishing together into one folder take turns: the run's row joins
# `runs.csv` (a damaged one is kept as it is, the row goes beside it), `runs.png` is drawn, and
# every file moves into `OUTPUT_DIR` with one atomic rename each.

# %%
with open(os.path.join(run_folder, "metrics.json"), "w") as file:
    json.dump(metrics, file, indent=2, allow_nan=False)  # strict JSON: no NaN, no Infinity
if save_error:
    fail(f"could not save the model in {OUTPUT_DIR} ({save_error}); nothing changed there", 1)
on_stop_signals(signal.SIG_IGN)  # moving the files in takes a moment: nothing may cut it in half
lock = open(os.path.join(OUTPUT_DIR, ".lock"), "a")  # released when closed, or if the run dies
if os.name == "posix":  # runs finishing together take turns (Windows has no flock: no lock there)
    import fcntl

    fcntl.flock(lock, fcntl.LOCK_EX)
runs_name, runs = "runs.csv", []
table_columns = ("test_mse", "pca_mse", "psnr_db", "seconds_per_epoch")
try:
    with open(os.path.join(OUTPUT_DIR, runs_name), newline="", encoding="utf-8-sig") as file:
        runs = list(csv.DictReader(file))  # utf-8-sig: Excel's byte-order mark is no column name
    if any(None in run or None in run.values() for run in runs):
        raise ValueError("a row with the wrong number of fields")
    checked = [numbers(run, table_columns) for run in runs]  # or ValueError: not a number
except FileNotFoundError:
    pass
except (OSError, ValueError, csv.Error) as error:  # not UTF-8, a ragged row...
    runs, runs_name = [], f"runs-{run_id}.csv"
    print(f"warning: runs.csv is damaged ({error}); kept as it is, the row goes to {runs_name}")
row = {"finished_at": time.strftime("%Y-%m-%d %H:%M:%S")}
row |= {name: metrics["settings"][name] for name in applied(metrics["settings"])}
row |= {k: f"{v:.5g}" if isinstance(v, float) else v for k, v in metrics.items() if k != "settings"}
runs.append(row)
with open(os.path.join(run_folder, runs_name), "w", newline="", encoding="utf-8") as file:
    columns = list(dict.fromkeys(key for run in runs for key in run))  # every column any row has
    csv.writer(file).writerows([columns, *([run.get(key, "") for key in columns] for run in runs)])
plot_runs(runs, run_id).savefig(os.path.join(run_folder, "runs.png"), dpi=120)
run_files = sorted(os.listdir(run_folder), key=lambda name: name != "autoencoder.h5")  # model 1st
blocked = [name for name in run_files if os.path.isdir(os.path.join(OUTPUT_DIR, name))]
if blocked:
    fail(f"{OUTPUT_DIR}/{blocked[0]} is a folder; nothing was moved into {OUTPUT_DIR}", 1)
for name in run_files:
    os.replace(os.path.join(run_folder, name), os.path.join(OUTPUT_DIR, name))
os.rmdir(run_folder)
lock.close()
on_stop_signals(signal.default_int_handler)  # Python's own Ctrl-C again, for `python -i`
print(f"\nThe last runs in {OUTPUT_DIR}: test MSE, x PCA's, PSNR dB, s/epoch, what changed")
for run in runs[-5:]:
    mse, pca, db, speed = numbers(run, table_columns)  # an older runs.csv has no ae_over_pca
    print(f"  {mse:.5f} {mse / (pca or math.nan):6.2f} {db:6.1f} {speed:7.1f}  {run_label(run)}")
print(f"Drawing took {draw_seconds:.1f} s. Wrote {', '.join(run_files)} in {OUTPUT_DIR}")
if SHOW_PLOTS and not in_notebook:
    plt.show()
