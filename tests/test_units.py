"""Unit tests of the pieces a run is made of, imported from the script itself."""
import csv

import numpy as np
import pytest

import autoencoder_mnist as ae


def test_split_holds_out_the_first_val_size_training_images_and_scales_to_unit_floats():
    train_images = np.arange(10 * 28 * 28, dtype=np.int64).reshape(10, 28, 28) % 256
    train = (train_images.astype(np.uint8), np.arange(10))
    test = (np.full((3, 28, 28), 255, np.uint8), np.array([7, 8, 9]))
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = ae.split_and_scale(train, test, 4)
    assert x_train.shape == (6, 28, 28, 1) and x_val.shape == (4, 28, 28, 1)
    assert x_train.dtype == x_val.dtype == x_test.dtype == np.float32
    assert list(y_val) == [0, 1, 2, 3] and list(y_train) == [4, 5, 6, 7, 8, 9]
    np.testing.assert_allclose(x_val[..., 0], train[0][:4] / 255.0)
    assert x_test.max() == 1.0 and list(y_test) == [7, 8, 9]


def test_split_refuses_a_validation_set_as_big_as_the_training_set():
    train = (np.zeros((5, 28, 28), np.uint8), np.zeros(5))
    with pytest.raises(SystemExit) as stop:
        ae.split_and_scale(train, train, 5)
    assert stop.value.code == 2


def pca_reference_mse(train, test, k):
    """PCA by SVD, written independently of the script's eigendecomposition."""
    flat_train, flat_test = train.reshape(len(train), -1), test.reshape(len(test), -1)
    mean = flat_train.mean(axis=0)
    _, _, vt = np.linalg.svd(flat_train - mean, full_matrices=False)
    rebuilt = np.clip((flat_test - mean) @ vt[:k].T @ vt[:k] + mean, 0, 1)
    return np.mean((rebuilt - flat_test) ** 2)


def test_pca_baseline_matches_an_svd_reference_and_improves_with_more_components():
    rng = np.random.default_rng(0)
    # Low-rank images plus a little noise, so the first components matter most; pixels in [0, 1].
    basis = rng.random((20, 784)) / 20
    train = (rng.random((300, 20)) @ basis + 0.01 * rng.random((300, 784))).reshape(-1, 28, 28, 1)
    test = (rng.random((50, 20)) @ basis + 0.01 * rng.random((50, 784))).reshape(-1, 28, 28, 1)
    assert 0 <= train.min() and train.max() <= 1
    errors = []
    for k in (1, 5, 20, 100):
        mse = ae.per_image_mse(test, ae.pca_reconstruct(train, test, k)).mean()
        assert mse == pytest.approx(pca_reference_mse(train, test, k), rel=1e-6)
        errors.append(mse)
    assert errors == sorted(errors, reverse=True)
    assert ae.per_image_mse(test, ae.pca_reconstruct(train, test, 784)).mean() < 1e-20


@pytest.mark.parametrize("latent_dim, shape", [(128, (8, 16)), (2, (1, 2)), (7, (1, 7)), (784, (28, 28)), (32, (4, 8))])
def test_code_grid_is_the_most_nearly_square_grid(latent_dim, shape):
    assert ae.code_grid_shape(latent_dim) == shape


def test_settings_take_the_type_of_their_default():
    settings = ae.parse_settings(
        ["--EPOCHS=3", "--LEARNING_RATE=2e-3", "--SHOW_PLOTS=false", "--DATASET=x.npz"], ae.SETTINGS)
    assert settings["EPOCHS"] == 3 and settings["LEARNING_RATE"] == 0.002
    assert settings["SHOW_PLOTS"] is False and settings["DATASET"] == "x.npz"
    assert settings["LATENT_DIM"] == ae.LATENT_DIM  # untouched settings keep their default


def test_runs_csv_gains_a_column_when_a_run_has_a_new_one(tmp_path):
    path = tmp_path / "runs.csv"
    ae.append_run(str(path), {"EPOCHS": 1, "test_mse": 0.5})
    ae.append_run(str(path), {"EPOCHS": 2, "test_mse": 0.25, "NEW_SETTING": "x"})
    rows = list(csv.DictReader(open(path)))
    assert [row["EPOCHS"] for row in rows] == ["1", "2"]
    assert rows[0]["NEW_SETTING"] == "" and rows[1]["NEW_SETTING"] == "x"


def test_auroc_is_the_chance_an_anomaly_scores_above_a_normal_image():
    assert ae.auroc(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert ae.auroc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 0.0
    assert ae.auroc(np.array([1.0, 3.0]), np.array([2.0, 4.0])) == 0.75  # 3 of 4 pairs ordered
    assert ae.auroc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5  # ties count half
    rng = np.random.default_rng(0)
    normal, anomaly = rng.random(300), rng.random(200) + 0.3
    pairwise = np.mean(anomaly[:, None] > normal[None, :])  # the definition, pair by pair
    assert ae.auroc(normal, anomaly) == pytest.approx(pairwise)


def test_nearest_neighbour_accuracy_uses_the_closest_reference():
    reference = np.array([[0.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    labels = np.array([0, 1, 2])
    queries = np.array([[1.0, 1.0], [9.0, 9.5], [1.0, 9.0], [6.0, 6.0]])
    assert ae.nearest_neighbour_accuracy(reference, labels, queries, np.array([0, 1, 2, 1])) == 1.0
    assert ae.nearest_neighbour_accuracy(reference, labels, queries, np.array([0, 1, 0, 0])) == 0.5
    many = np.random.default_rng(1).random((2500, 3))  # more queries than one chunk
    assert ae.nearest_neighbour_accuracy(many, np.arange(2500), many, np.arange(2500)) == 1.0


def test_noise_stays_in_the_pixel_range_and_has_the_asked_spread():
    images = np.full((200, 28, 28, 1), 0.5, np.float32)
    noisy = ae.add_noise(images, 0.1, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and 0 <= noisy.min() and noisy.max() <= 1
    assert np.std(noisy - images) == pytest.approx(0.1, rel=0.02)
    assert ae.add_noise(images, 2.0, np.random.default_rng(0)).max() == 1.0  # clipped
