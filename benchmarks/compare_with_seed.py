"""Train the seed blog post's exact configuration and the script's current default side by side.

    python benchmarks/compare_with_seed.py                       # Fashion-MNIST, 10 epochs, 128-d code
    python benchmarks/compare_with_seed.py --LATENT_DIM=32 --REPEATS=3

Both configurations are built and trained by the functions of autoencoder_mnist.py itself, on the
same data, each in a fresh process (so peak memory is its own); with REPEATS > 1 they alternate,
so a machine that drifts hurts both. Prints a Markdown table and writes the same numbers as JSON
to benchmarks/results_<DATASET>_latent<LATENT_DIM>.json. Takes minutes: never part of the tests.
"""

import datetime
import inspect
import json
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from statistics import median

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import autoencoder_mnist as ae  # noqa: E402  (the script's own functions, not a copy)

BENCHMARK_SETTINGS = {"DATASET": "fashion_mnist", "VAL_SIZE": 5000, "EPOCHS": 10, "LATENT_DIM": 128, "REPEATS": 1}
MODEL_SETTINGS = ("CODE_ACTIVATION", "DECODER", "DECODER_HIDDEN", "LEARNING_RATE", "LR_SCHEDULE", "BATCH_SIZE")
CONFIGURATIONS = {
    # The blog post's code: Dense(128, relu) code, Dense(784, sigmoid) decoder, Adam 0.001, batch 128.
    "seed": {"CODE_ACTIVATION": "relu", "DECODER": "dense", "DECODER_HIDDEN": 0,
             "LEARNING_RATE": 0.001, "LR_SCHEDULE": "constant", "BATCH_SIZE": 128, "STEPS_PER_EXECUTION": 1},
    # What the script runs today, with train()'s own steps_per_execution.
    "default": {**{name: ae.SETTINGS[name] for name in MODEL_SETTINGS},
                "STEPS_PER_EXECUTION": inspect.signature(ae.train).parameters["steps_per_execution"].default},
}


def train_one(config, dataset, val_size, epochs, latent_dim):
    """Runs in a fresh process: train one configuration, return its measurements."""
    ae.keras.utils.set_random_seed(ae.SEED)
    (train_images, _), (val_images, _), (test_images, _) = ae.split_and_scale(
        *ae.load_dataset(dataset), val_size)
    model = ae.build_autoencoder(latent_dim, config["CODE_ACTIVATION"], config["DECODER"],
                                 config["DECODER_HIDDEN"])
    epoch_ends = []
    timer = ae.keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: epoch_ends.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_ends.append(time.perf_counter()))
    with tempfile.TemporaryDirectory() as scratch:
        history, seconds, _ = ae.train(
            model, train_images, train_images, (val_images, val_images), epochs, config["BATCH_SIZE"],
            config["LEARNING_RATE"], config["LR_SCHEDULE"], os.path.join(scratch, "history.csv"), [timer],
            config["STEPS_PER_EXECUTION"])
    test_mse = float(ae.per_image_mse(test_images, ae.predict(model, test_images)).mean())
    pca_mse = float(ae.per_image_mse(test_images, ae.pca_reconstruct(train_images, test_images, latent_dim)).mean())
    return {
        "train_seconds": seconds,
        "seconds_per_epoch": seconds / epochs,
        "images_per_second": len(train_images) * epochs / seconds,
        "epoch_end_seconds": [end - epoch_ends[0] for end in epoch_ends[1:]],
        "val_mse": [float(value) for value in history["val_loss"]],
        "test_mse": test_mse, "pca_mse": pca_mse, "ae_over_pca": test_mse / pca_mse,
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
    }


def seconds_to_reach(run, target):
    """Wall time until validation MSE first reaches target (checked at the end of each epoch); nan if never."""
    return next((t for t, mse in zip(run["epoch_end_seconds"], run["val_mse"]) if mse <= target), float("nan"))


def main(argv):
    if "--help" in argv or "-h" in argv:
        print(__doc__, "\nSettings (--NAME=value):", BENCHMARK_SETTINGS)
        return
    settings = ae.parse_settings(argv, BENCHMARK_SETTINGS)
    if settings["REPEATS"] < 1:
        ae.fail(f"--REPEATS={settings['REPEATS']}: must be at least 1")
    runs = {name: [] for name in CONFIGURATIONS}
    for repeat in range(settings["REPEATS"]):
        for name, config in CONFIGURATIONS.items():  # alternate, so drift hurts both alike
            print(f"repeat {repeat + 1}/{settings['REPEATS']}: training {name} {config}", flush=True)
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                run = pool.submit(train_one, config, settings["DATASET"], settings["VAL_SIZE"],
                                  settings["EPOCHS"], settings["LATENT_DIM"]).result()
            runs[name].append(run)
            print(f"  {run['seconds_per_epoch']:.1f} s/epoch, test MSE {run['test_mse']:.5f}", flush=True)

    for seed_run, default_run in zip(runs["seed"], runs["default"]):  # same repeat, same target
        for run in (seed_run, default_run):
            run["seed_final_val_mse"] = seed_run["val_mse"][-1]
            run["seconds_to_seed_final_val_mse"] = seconds_to_reach(run, seed_run["val_mse"][-1])
            run["time_to_quality_ratio"] = (  # against the seed's whole training, on the same clock
                run["seconds_to_seed_final_val_mse"] / seed_run["epoch_end_seconds"][-1])
    keys = ["seconds_per_epoch", "images_per_second", "seconds_to_seed_final_val_mse", "time_to_quality_ratio",
            "test_mse", "pca_mse", "ae_over_pca", "peak_memory_mib"]
    summary = {name: {key: median([run[key] for run in runs[name]]) for key in keys} for name in runs}
    for name in runs:
        summary[name]["val_mse"] = [median(values) for values in zip(*(run["val_mse"] for run in runs[name]))]
    throughput_ratio = summary["default"]["images_per_second"] / summary["seed"]["images_per_second"]

    import tensorflow as tf
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, Keras {ae.keras.__version__}"
    lines = [
        f"{settings['DATASET']}, {settings['EPOCHS']} epochs, LATENT_DIM={settings['LATENT_DIM']}, "
        f"median of {settings['REPEATS']} run(s) each; {datetime.date.today()}; {machine}", "",
        "| configuration | s/epoch | images/s | s to seed's final val MSE (÷ seed's total) | test MSE | "
        "PCA MSE | AE/PCA | peak memory MiB |",
        "|---|---|---|---|---|---|---|---|"]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['seconds_per_epoch']:.1f} | {s['images_per_second']:.0f} | "
                     f"{s['seconds_to_seed_final_val_mse']:.1f} ({s['time_to_quality_ratio']:.2f}) | "
                     f"{s['test_mse']:.5f} | {s['pca_mse']:.5f} | {s['ae_over_pca']:.3f} | "
                     f"{s['peak_memory_mib']:.0f} |")
    lines += ["", f"Default/seed throughput: {throughput_ratio:.2f}", "",
              "| validation MSE after epoch | " + " | ".join(str(e + 1) for e in range(settings["EPOCHS"])) + " |",
              "|---|" + "---|" * settings["EPOCHS"]]
    lines += [f"| {name} | " + " | ".join(f"{v:.5f}" for v in s["val_mse"]) + " |" for name, s in summary.items()]
    print("\n" + "\n".join(lines))

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        f"results_{os.path.basename(settings['DATASET']).removesuffix('.npz')}"
                        f"_latent{settings['LATENT_DIM']}.json")
    with open(path, "w") as file:
        json.dump({"date": str(datetime.date.today()), "machine": machine, "settings": settings,
                   "configurations": CONFIGURATIONS, "summary": summary, "runs": runs,
                   "throughput_ratio": throughput_ratio, "table": lines}, file, indent=2)
    print(f"\nWrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
