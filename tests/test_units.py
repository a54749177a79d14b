"""The pieces of a run, and what a learner finds after one: the script is run top to bottom inside
this process (as `python -i autoencoder_mnist.py` does) and its functions and names are used."""
import json

import numpy as np
import pytest

from conftest import SAMPLE


def test_after_a_run_the_names_a_learner_pokes_at_are_there(script_names):
    names = script_names
    for name in ("autoencoder", "encoder", "decoder", "history", "metrics", "test_codes",
                 "reconstructions", "train_images", "test_images", "test_errors"):
        assert name in names, name
    assert names["test_codes"].shape == (200, names["LATENT_DIM"])
    assert names["reconstructions"].shape == (200, 28, 28, 1)
    assert names["history"].history["loss"] and names["metrics"]["epochs_trained"] == 1
    assert names["encoder"] is names["autoencoder"].get_layer("encoder")
    # The constants edited in the copy took effect: a conv decoder trained on noisy inputs.
    assert names["metrics"]["settings"]["DECODER"] == "conv"
    assert names["metrics"]["noisy_input_psnr_db"] is not None
    assert any(layer.name.startswith("conv2d_transpose") for layer in names["decoder"].layers)
    with open(f"{names['OUTPUT_DIR']}/metrics.json") as file:
        written = json.load(file)
    assert written["run_id"] == names["metrics"]["run_id"]


def test_the_saved_model_computes_in_float32_and_its_output_layer_always_does(script_names):
    keras = script_names["keras"]
    assert all(layer.dtype_policy.name == "float32" for layer in script_names["decoder"].layers)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = script_names["build_autoencoder"]()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    output_layer = mixed.get_layer("decoder").layers[-1]
    assert output_layer.dtype_policy.name == "float32"  # the sigmoid: never in 16-bit
    assert mixed.get_layer("encoder").layers[0].dtype_policy.name == "mixed_bfloat16"
    assert mixed(np.zeros((2, 28, 28, 1), "float32")).dtype == "float32"


@pytest.mark.parametrize("gpus, flags, expected", [
    ([(9, 0)], ["avx2"], "mixed_float16"),  # an H100-class GPU
    ([(7, 0)], [], "mixed_float16"),  # V100: the first with tensor cores
    ([(6, 1)], ["avx2"], "float32"),  # a Pascal GPU: float16 would be slower
    ([], ["fpu", "avx512f", "avx512_bf16"], "mixed_bfloat16"),  # a CPU with AVX512_BF16
    ([], ["amx_bf16", "amx_tile"], "mixed_bfloat16"),  # a CPU with AMX
    ([], ["fpu", "avx2", "avx512f"], "float32"),  # no native bfloat16
    ([(6, 0)], ["avx512_bf16"], "mixed_bfloat16"),  # an old GPU beside a bfloat16 CPU
    ([], [], "float32"),  # no /proc/cpuinfo (macOS, Windows)
])
def test_auto_precision_picks_what_the_hardware_does_fast(script_names, gpus, flags, expected):
    precision, reason = script_names["choose_precision"](gpus, flags)
    assert precision == expected and reason


def test_pca_baseline_matches_an_svd_reference_and_improves_with_more_components(script_names):
    pca_rebuild, per_image_mse = script_names["pca_rebuild"], script_names["per_image_mse"]
    rng = np.random.default_rng(0)
    # Low-rank images plus a little noise, so the first components matter most; pixels in [0, 1].
    basis = rng.random((20, 784)) / 20
    train = (rng.random((300, 20)) @ basis + 0.01 * rng.random((300, 784))).reshape(-1, 28, 28, 1)
    test = (rng.random((50, 20)) @ basis + 0.01 * rng.random((50, 784))).reshape(-1, 28, 28, 1)
    flat_train, flat_test = train.reshape(300, -1), test.reshape(50, -1)
    mean = flat_train.mean(axis=0)
    _, _, vt = np.linalg.svd(flat_train - mean, full_matrices=False)  # written independently
    errors = []
    for k in (1, 5, 20, 100):
        reference = np.mean((np.clip((flat_test - mean) @ vt[:k].T @ vt[:k] + mean, 0, 1) - flat_test) ** 2)
        mse = per_image_mse(test, pca_rebuild(train, test, k)).mean()
        assert mse == pytest.approx(reference, rel=1e-4)
        errors.append(mse)
    assert errors == sorted(errors, reverse=True)


@pytest.mark.parametrize("latent_dim, shape", [(128, (8, 16)), (2, (1, 2)), (7, (1, 7)), (784, (28, 28)), (32, (4, 8))])
def test_code_grid_is_the_most_nearly_square_grid(script_names, latent_dim, shape):
    assert script_names["code_grid_shape"](latent_dim) == shape


def test_auroc_is_the_chance_an_anomaly_scores_above_a_normal_image(script_names):
    auroc = script_names["auroc"]
    assert auroc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert auroc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 0.0
    assert auroc(np.array([1.0, 3.0]), np.array([2.0, 4.0])) == 0.75  # 3 of 4 pairs ordered
    assert auroc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5  # ties count half
    rng = np.random.default_rng(0)
    normal, anomaly = rng.random(300), rng.random(200) + 0.3
    pairwise = np.mean(anomaly[:, None] > normal[None, :])  # the definition, pair by pair
    assert auroc(normal, anomaly) == pytest.approx(pairwise)


def test_nearest_neighbour_accuracy_uses_the_closest_reference(script_names):
    accuracy = script_names["nearest_neighbour_accuracy"]
    reference = np.array([[0.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    labels = np.array([0, 1, 2])
    queries = np.array([[1.0, 1.0], [9.0, 9.5], [1.0, 9.0], [6.0, 6.0]])
    assert accuracy(reference, labels, queries, np.array([0, 1, 2, 1])) == 1.0
    assert accuracy(reference, labels, queries, np.array([0, 1, 0, 0])) == 0.5
    many = np.random.default_rng(1).random((2500, 3))  # more queries than one chunk
    assert accuracy(many, np.arange(2500), many, np.arange(2500)) == 1.0


def test_psnr_of_a_perfect_rebuild_is_infinite_not_a_crash(script_names):
    assert script_names["psnr"](0.01) == pytest.approx(20.0)
    assert script_names["psnr"](0.0) == float("inf")


def test_a_run_is_labelled_with_what_it_changed_from_the_constants(script_names):
    run_label, settings = script_names["run_label"], script_names["SETTINGS"]
    row = {name: str(value) for name, value in settings.items()}
    assert run_label(row) == "defaults"
    assert run_label({**row, "LATENT_DIM": "16", "NOISE_FACTOR": "0.3"}) == "LATENT_DIM=16, NOISE_FACTOR=0.3"
    assert run_label({**row, "DATASET": "/data/my.npz"}) == "DATASET=my.npz"
    # Where the files went is no change to the model, nor is the hidden size of a conv decoder.
    assert run_label({**row, "OUTPUT_DIR": "elsewhere", "SHOW_PLOTS": "True"}) == "defaults"
    assert "DECODER_HIDDEN" not in run_label({**row, "DECODER": "conv", "DECODER_HIDDEN": "64"})
    assert "DECODER_HIDDEN=64" in run_label({**row, "DECODER": "dense", "DECODER_HIDDEN": "64"})
    # A row of an older runs.csv without a newer setting's column, or with an empty cell.
    assert run_label({k: v for k, v in row.items() if k != "PRECISION"} | {"SEED": ""}) == "defaults"


def test_runs_csv_numbers_are_read_as_numbers_or_nan(script_names):
    numbers = script_names["numbers"]
    assert numbers({"test_mse": "0.0048", "psnr_db": ""}, ("test_mse", "psnr_db", "absent"))[0] == 0.0048
    assert np.isnan(numbers({"psnr_db": ""}, ("psnr_db",))[0])
    with pytest.raises(ValueError):
        numbers({"test_mse": "not a number"}, ("test_mse",))


def test_the_sample_holds_real_digits(script_names):
    # Guard against a broken test set-up: the in-process run read the committed sample.
    assert script_names["DATASET"] == str(SAMPLE)
    assert script_names["metrics"]["pixel_1nn_accuracy"] > 0.5  # 10 classes: chance is 0.1
