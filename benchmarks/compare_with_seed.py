"""Run the blog post's configuration, today's defaults (PRECISION auto and float32) and an older
version of the script side by side, each as a user runs it, and compare.

    python benchmarks/compare_with_seed.py                          # Fashion-MNIST, 10 epochs, 128
    python benchmarks/compare_with_seed.py --LATENT_DIM=32 --CONFIGS=default --REPEATS=1

Every configuration is `python autoencoder_mnist.py --NAME=value ...` in a fresh process (so its
peak memory is its own), on the same data; with REPEATS > 1 they alternate, so a machine that
drifts hurts all alike, and the table shows medians. Numbers come from the run's own metrics.json
and history.csv; epoch ends are timed as their lines reach this script. The older version is
taken from git (`git show OLD_COMMIT:autoencoder_mnist.py`). Prints a Markdown table and writes
it with every run's raw numbers to benchmarks/results_<DATASET>_latent<LATENT_DIM>.json.
Takes many minutes: never part of the tests.
"""

import csv
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from statistics import median

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = {"DATASET": "fashion_mnist", "VAL_SIZE": 5000, "EPOCHS": 10, "LATENT_DIM": 128,
            "REPEATS": 1, "CONFIGS": "seed,default,default_float32,old", "OLD_COMMIT": "a9b22ee"}
CONFIGURATIONS = {
    # The blog post's code: Dense(128, relu) code, Dense(784, sigmoid) decoder, Adam 0.001 with a
    # constant rate, batch 128, one batch per call into TensorFlow, float32.
    "seed": ["--CODE_ACTIVATION=relu", "--DECODER_HIDDEN=0", "--LEARNING_RATE=0.001",
             "--LR_SCHEDULE=constant", "--BATCH_SIZE=128", "--STEPS_PER_EXECUTION=1",
             "--PRECISION=float32"],
    "default": [],  # what the script runs today, PRECISION "auto" included
    "default_float32": ["--PRECISION=float32"],
    "default_bfloat16": ["--PRECISION=mixed_bfloat16"],  # forced, whatever "auto" would pick
    "old": [],  # the script at OLD_COMMIT, its own defaults (float32, its own measuring)
}


def parse_settings(argv):
    settings = dict(SETTINGS)
    for arg in argv:
        name, _, text = arg.removeprefix("--").partition("=")
        if name not in SETTINGS or not arg.startswith("--"):
            sys.exit(f"error: {arg!r}: settings are {', '.join('--' + s for s in SETTINGS)}")
        settings[name] = type(SETTINGS[name])(text)
    unknown = set(settings["CONFIGS"].split(",")) - set(CONFIGURATIONS)
    if unknown or settings["REPEATS"] < 1:
        sys.exit(f"error: --CONFIGS must name some of {', '.join(CONFIGURATIONS)}; --REPEATS >= 1")
    return settings


def run_one(name, settings, old_script):
    """One run in a fresh process; its measurements, with wall-clock times seen from outside."""
    script = old_script if name == "old" else os.path.join(ROOT, "autoencoder_mnist.py")
    with tempfile.TemporaryDirectory() as output_dir:
        command = [sys.executable, script, *CONFIGURATIONS[name], f"--OUTPUT_DIR={output_dir}",
                   *(f"--{key}={settings[key]}" for key in ("DATASET", "VAL_SIZE", "EPOCHS", "LATENT_DIM"))]
        started, epoch_ends, training_started, train_images = time.perf_counter(), [], None, None
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for line in process.stdout:  # a line per epoch: "860/860 - 9s - ... - val_loss: ..."
            found = re.search(r"(\d+) training, ", line)
            train_images = train_images or (found and int(found.group(1)))
            if line.startswith("Epoch 1/") and training_started is None:
                training_started = time.perf_counter()
            if " - val_loss: " in line:
                epoch_ends.append(time.perf_counter())
        if process.wait():
            raise RuntimeError(f"{name} failed: exit code {process.returncode}")
        finished = time.perf_counter()
        metrics = json.load(open(os.path.join(output_dir, "metrics.json")))
        history = list(csv.DictReader(open(os.path.join(output_dir, "history.csv"))))
    train_seconds = metrics["train_seconds"]
    return {
        "precision": metrics.get("precision", "float32"),
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / settings["EPOCHS"],
        "images_per_second": train_images * settings["EPOCHS"] / train_seconds,
        "epoch_end_seconds": [end - training_started for end in epoch_ends],
        "val_mse": [float(row["val_loss"]) for row in history],
        "test_mse": metrics["test_mse"], "pca_mse": metrics["pca_mse"],
        "ae_over_pca": metrics["test_mse"] / metrics["pca_mse"],
        "after_training_seconds": finished - epoch_ends[-1],  # measuring, figures, files
        "whole_run_seconds": finished - started,
    }


def seconds_to_reach(run, target):
    """Wall time until validation MSE first reaches target (at epoch ends); nan if never."""
    return next((t for t, mse in zip(run["epoch_end_seconds"], run["val_mse"]) if mse <= target),
                float("nan"))


def main(argv):
    if "--help" in argv or "-h" in argv:
        print(__doc__, "\nSettings (--NAME=value):", SETTINGS)
        return
    settings = parse_settings(argv)
    names = settings["CONFIGS"].split(",")
    old_script = os.path.join(tempfile.mkdtemp(), "autoencoder_mnist_old.py")
    with open(old_script, "w") as file:
        file.write(subprocess.run(["git", "show", f"{settings['OLD_COMMIT']}:autoencoder_mnist.py"],
                                  cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    runs = {name: [] for name in names}
    for repeat in range(settings["REPEATS"]):
        for name in names:  # alternate, so that drift hurts all alike
            print(f"repeat {repeat + 1}/{settings['REPEATS']}: {name} {CONFIGURATIONS[name]}", flush=True)
            run = run_one(name, settings, old_script)
            runs[name].append(run)
            print(f"  {run['seconds_per_epoch']:.1f} s/epoch, test MSE {run['test_mse']:.5f}, "
                  f"whole run {run['whole_run_seconds']:.0f} s", flush=True)

    keys = ["seconds_per_epoch", "images_per_second", "test_mse", "pca_mse", "ae_over_pca",
            "after_training_seconds", "whole_run_seconds", "train_seconds"]
    summary = {name: {key: median(run[key] for run in runs[name]) for key in keys} for name in names}
    for name in names:
        summary[name]["precision"] = runs[name][0]["precision"]
        summary[name]["val_mse"] = [median(v) for v in zip(*(run["val_mse"] for run in runs[name]))]
        if "seed" in runs:  # the same repeat's seed run sets the target, on the same clock
            reach = [seconds_to_reach(run, seed["val_mse"][-1]) / seed["epoch_end_seconds"][-1]
                     for run, seed in zip(runs[name], runs["seed"])]
            summary[name]["time_to_seed_quality_ratio"] = median(reach)

    import tensorflow as tf  # only for the record of versions

    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.processor() or '?'}, "
               f"TensorFlow {tf.__version__}")
    lines = [f"{settings['DATASET']}, {settings['EPOCHS']} epochs, LATENT_DIM={settings['LATENT_DIM']}, "
             f"median of {settings['REPEATS']} run(s) each; {datetime.date.today()}; {machine}", "",
             "| configuration | precision | s/epoch | images/s | time to seed's final val MSE (÷ seed's) "
             "| test MSE | PCA MSE | AE/PCA | after training, s | whole run, s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['precision']} | {s['seconds_per_epoch']:.1f} | "
                     f"{s['images_per_second']:.0f} | {s.get('time_to_seed_quality_ratio', float('nan')):.2f} | "
                     f"{s['test_mse']:.5f} | {s['pca_mse']:.5f} | {s['ae_over_pca']:.3f} | "
                     f"{s['after_training_seconds']:.1f} | {s['whole_run_seconds']:.0f} |")
    ratios = []
    if {"default", "default_float32"} <= set(summary):
        ratios.append(f"auto/float32 images per second: "
                      f"{summary['default']['images_per_second'] / summary['default_float32']['images_per_second']:.2f}; "
                      f"test MSE auto/float32: {summary['default']['test_mse'] / summary['default_float32']['test_mse']:.3f}")
    if {"default", "old"} <= set(summary):
        ratios.append(f"whole run, default / {settings['OLD_COMMIT']}: "
                      f"{summary['default']['whole_run_seconds'] / summary['old']['whole_run_seconds']:.2f}")
    if "default" in summary:
        ratios.append(f"after training / training, default: "
                      f"{summary['default']['after_training_seconds'] / summary['default']['train_seconds']:.3f}")
    lines += ["", *ratios]
    print("\n" + "\n".join(lines))
    path = os.path.join(ROOT, "benchmarks", f"results_{os.path.basename(settings['DATASET']).removesuffix('.npz')}"
                        f"_latent{settings['LATENT_DIM']}.json")
    with open(path, "w") as file:
        json.dump({"date": str(datetime.date.today()), "machine": machine, "settings": settings,
                   "configurations": CONFIGURATIONS, "summary": summary, "runs": runs, "table": lines},
                  file, indent=2)
    print(f"\nWrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
