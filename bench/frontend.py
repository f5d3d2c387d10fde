"""Benchmark: cost of the attention front-ends relative to the ResNet18 that reads their views.

For each front-end (retinal warp with nearest and bilinear sampling, the multi-gaze retinal warp
with 5 gazes per image, the STN with 5 branches) it times one compiled forward+backward pass at
320x320x3, batch 16, on CPU (gradients w.r.t. the image and the gazes/theta; nearest: the image
only), and in the same run one forward+backward of a ResNet18 on a 320x320x3 view (gradients
w.r.t. weights and input). `ratio[frontend]` = front-end time / (views x ResNet18 time); the
target is <= 0.10 for every front-end. ResNet50 is timed too, as a sanity check of the reference.

    python -m bench.frontend [--json] [--batch 16] [--size 320] [--repeats 5] [--no-jit]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

import models
from models.resnet import ResNetConfig
from models.retina import fit_retina_coefficients, retinal_warp
from models.stn import affine_grid_sample

TARGET = 0.10
VIEWS = 5  # gazes of the multi-gaze model, branches of the STN


def resnet18(input_shape: tuple[int, int, int], num_classes: int = 10) -> keras.Model:
    """The project's ResNet18 (11.19 M parameters at 320x320 with a 10-way head)."""
    return models.build(ResNetConfig(backbone="resnet18", width=64), input_shape, num_classes)


def _time(step, args, repeats: int, warmup: int = 2) -> float:
    """Median wall time (s) of `step(*args)` after `warmup` calls, results fetched to host."""
    for _ in range(warmup):
        tf.nest.map_structure(lambda t: t.numpy(), step(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), step(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cotangent(shape) -> tf.Tensor:
    """A fixed random output gradient, made outside the timed step."""
    return tf.random.stateless_normal(shape, seed=[1, 2])


def _frontend_step(frontend, differentiable: list[int]):
    """A compiled forward+backward (VJP with a given cotangent) w.r.t. the chosen arguments."""

    @tf.function
    def step(cotangent, *args):
        with tf.GradientTape() as tape:
            sources = [args[i] for i in differentiable]
            tape.watch(sources)
            out = frontend(*args)
        return tape.gradient(out, sources, output_gradients=cotangent)

    return step


def _model_step(model: keras.Model):
    @tf.function
    def step(cotangent, x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = model(x, training=True)
            logits = logits["logits"] if isinstance(logits, dict) else logits
        return tape.gradient(logits, [x, *model.trainable_variables], output_gradients=cotangent)

    return step


def run(batch: int = 16, size: int = 320, repeats: int = 5, jit_compile: bool = True) -> dict:
    """Runs every timing and returns the benchmark record (see the module docstring)."""
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(size=(batch, size, size, 3)), tf.float32)
    gazes = tf.constant(rng.uniform(-0.5, 0.5, (batch, 2)), tf.float32)
    multi = tf.constant(rng.uniform(-0.5, 0.5, (batch, VIEWS, 2)), tf.float32)
    scale = rng.uniform(0.4, 0.9, (batch, VIEWS, 1, 1)) * np.eye(2, 3)
    shift = np.concatenate(
        [np.zeros((batch, VIEWS, 2, 2)), rng.uniform(-0.5, 0.5, (batch, VIEWS, 2, 1))], -1
    )
    theta = tf.constant(scale + shift, tf.float32)
    a, b = fit_retina_coefficients(size)

    jit = jit_compile
    frontends = {  # name: (function, arguments, indices to differentiate, views)
        "retinal_nearest": (
            lambda x, g: retinal_warp(x, g, a, b, "nearest", jit),
            (images, gazes),
            [0],
            1,
        ),
        "retinal_bilinear": (
            lambda x, g: retinal_warp(x, g, a, b, "bilinear", jit),
            (images, gazes),
            [0, 1],
            1,
        ),
        "multi_gaze_retinal": (
            lambda x, g: retinal_warp(x, g, a, b, "bilinear", jit),
            (images, multi),
            [0, 1],
            VIEWS,
        ),
        "stn": (
            lambda x, t: affine_grid_sample(x, t, jit_compile=jit),
            (images, theta),
            [0, 1],
            VIEWS,
        ),
    }
    timings = {}
    for name, (fn, args, diff, views) in frontends.items():
        shape = (batch, views, size, size, 3) if views > 1 else (batch, size, size, 3)
        timings[name] = _time(_frontend_step(fn, diff), (_cotangent(shape), *args), repeats)
    logits = _cotangent((batch, 10))
    net18 = resnet18((size, size, 3))
    timings["resnet18"] = _time(_model_step(net18), (logits, images), max(3, repeats // 2 + 1))
    net50 = keras.applications.ResNet50(weights=None, input_shape=(size, size, 3), classes=10)
    timings["resnet50"] = _time(_model_step(net50), (logits, images), 3)
    ratio = {
        name: timings[name] / (views * timings["resnet18"])
        for name, (_, _, _, views) in frontends.items()
    }
    return {
        "ratio": ratio,
        "target": TARGET,
        "meets_target": all(r <= TARGET for r in ratio.values()),
        "timings_s": timings,
        "views": {name: spec[3] for name, spec in frontends.items()},
        "resnet18_vs_resnet50": timings["resnet18"] / timings["resnet50"],
        "resnet18_params": int(net18.count_params()),
        "batch": batch,
        "size": size,
        "repeats": repeats,
        "jit_compile": jit_compile,
        "device": "CPU",
        "tensorflow": tf.__version__,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.frontend", allow_abbrev=False, description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-jit", action="store_true", help="samplers without XLA (slower)")
    args = parser.parse_args(argv)
    tf.config.set_visible_devices([], "GPU")
    record = run(args.batch, args.size, args.repeats, not args.no_jit)
    if args.json:
        print(json.dumps(record))
        return
    t = record["timings_s"]
    print(f"batch {args.batch}, {args.size}x{args.size}x3, CPU, median of {args.repeats}")
    print(f"ResNet18: {t['resnet18'] * 1e3:.0f} ms fwd+bwd")
    print(
        f"ResNet50: {t['resnet50'] * 1e3:.0f} ms; ResNet18/ResNet50 = "
        f"{record['resnet18_vs_resnet50']:.2f}"
    )
    for name, r in record["ratio"].items():
        verdict = "ok" if r <= TARGET else "OVER TARGET"
        print(
            f"{name:20s} {t[name] * 1e3:7.1f} ms  {record['views'][name]} view(s)  "
            f"ratio/view {r:.3f}  {verdict}"
        )


if __name__ == "__main__":
    main()
