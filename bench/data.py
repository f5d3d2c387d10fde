"""Benchmark: does the data pipeline keep training fed, and is its memory flat in dataset size?

In one process, with data and training sharing the machine's cores:

- `ratio.cluttered_digits`: ResNet20 training steps/s on the embedded 40x40 digits fed by
  `Data.train_batches` (shuffle + augmentation) / steps/s on one batch already in memory.
- `ratio.folder`: the same for ResNet18 at 320x320 on a generated ImageNet-layout folder of at
  least 2,000 JPEGs (`imagenet10`, all training images, the disk cache prepared first).
  Rounds of the two feeds alternate and `ratio` is the median of the paired rounds' ratios, so
  a burst of load from elsewhere that hits one round does not decide it (`ratio_total` is the
  ratio of the summed times). Target >= 0.95.
- `images_per_s_one_core`: the pipeline alone from that disk cache (320x320, shuffled, augmented,
  float32 out), with tf.data on one thread and the process pinned to the idlest core; the best
  of `--passes` epochs (load from elsewhere only ever slows a pass down). Target >= 1,200.
  `images_per_cpu_s_one_core` is the same per CPU-second the process used (what an idle core
  would give on a shared machine).
- `ratio_memory`: peak resident memory of a trial's data loading (load and write the disk cache,
  one augmented training epoch, walk validation and test) for 4,000 images / for 1,000, each in
  a fresh child process, counting what it adds above the process's footprint once TensorFlow and
  the project are imported. Target <= 1.2.

    python -m bench.data [--json] [--workdir DIR] [--images 2000] [--memory-images 1000,4000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"ratio": 0.95, "images_per_s_one_core": 1200.0, "ratio_memory": 1.2}


def _tree(workdir: Path, images: int, size: int) -> Path:
    """A generated imagenet10-layout folder with `images` training JPEGs (made once, reused)."""
    from trial.data.imagenet10 import SYNSETS
    from trial.data.testing import make_imagenet_tree

    root = workdir / f"imagenet10-{images}-{size}px"
    if not (root / "done").exists():
        per_class = -(-images // len(SYNSETS))
        make_imagenet_tree(
            root,
            SYNSETS,
            train_per_class=per_class,
            val_per_class=5,
            size=(size, size),
            box_share=0.0,
        )
        (root / "done").touch()
    return root


def _folder_cfg(root: Path, cache_dir: Path | None = None, **extra):
    from trial.config import TrialConfig

    images = int(root.name.split("-")[1])  # imagenet10-<images>-<size>px
    flat = {
        "data.name": "imagenet10",
        "data.imagenet.root": str(root),
        "data.imagenet.train_images": "all",
        "data.val_size": max(1, min(50, images // 10)),
        "data.cache": "disk",
        **({"data.cache_dir": str(cache_dir)} if cache_dir else {}),
        **extra,
    }
    return TrialConfig.from_dict(flat)


def _trainer(cfg, data):
    import models
    from trial import train as T

    model = models.build(cfg.model, data.input_shape, data.num_classes)
    return T.Trainer(model, T.make_optimizer(cfg, 100), cfg)


def _ratio(cfg, data, batch: int, steps: int, rounds: int) -> dict:
    """Alternating rounds: `steps` train steps on one in-memory batch, then fed by the pipeline."""
    import tensorflow as tf

    trainer = _trainer(cfg, data)
    x, y = next(iter(data.train_batches(batch, seed=0, augment=True)))
    x, y = tf.constant(x.numpy()), tf.constant(y.numpy())
    for _ in range(2):  # compile and warm up
        float(trainer.step(x, y)["total"])
    memory, fed = [], []
    for r in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            float(trainer.step(x, y)["total"])
        memory.append(time.perf_counter() - start)
        start = time.perf_counter()  # an epoch's start (iterator, first batch) counts too
        it = iter(data.train_batches(batch, seed=r + 1, augment=True))
        for _ in range(steps):
            images, labels = next(it)
            float(trainer.step(images, labels)["total"])
        fed.append(time.perf_counter() - start)
    pairs = [m / f for m, f in zip(memory, fed, strict=True)]
    return {
        "ratio": statistics.median(pairs),
        "ratio_total": sum(memory) / sum(fed),
        "steps_per_s_in_memory": steps * rounds / sum(memory),
        "steps_per_s_pipeline": steps * rounds / sum(fed),
        "batch": batch,
        "steps": steps * rounds,
        "round_ratios": pairs,
    }


def digits_ratio(args) -> dict:
    from trial.config import TrialConfig
    from trial.data import load

    cfg = TrialConfig.from_dict(
        {
            "model.backbone": "resnet20",
            "model.width": args.width,
            "model.blocks": args.blocks,
            "data.image_size": args.digits_size,
            "data.digit_size": min(20, args.digits_size),
            "data.train_size": args.digits_batch * (args.steps + 2),
            "data.test_size": 100,
            "data.val_size": 100,
        }
    )
    return _ratio(cfg, load(cfg.data), args.digits_batch, args.steps, args.rounds)


def folder_ratio(args, root: Path) -> dict:
    from trial.data import load

    model = {"model.backbone": "resnet18", "model.width": args.width, "model.blocks": args.blocks}
    cfg = _folder_cfg(root, **model, **{"data.image_size": args.size})
    start = time.perf_counter()
    data = load(cfg.data)  # writes the disk cache on the first run
    prepared = time.perf_counter() - start
    out = _ratio(cfg, data, args.folder_batch, max(1, args.steps // 4), args.rounds)
    return {**out, "train_images": data.train_size, "load_s": prepared}


def _idlest_core(cores: list[int], wait: float = 0.5) -> int:
    """The core with the most idle time over `wait` seconds (other people share the machine)."""

    def idle() -> dict[int, int]:
        out = {}
        for line in Path("/proc/stat").read_text().splitlines():
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit():
                out[int(name[3:])] = int(fields[3]) + int(fields[4])  # idle + iowait
        return out

    try:
        before = idle()
        time.sleep(wait)
        after = idle()
        return max(cores, key=lambda c: after.get(c, 0) - before.get(c, 0))
    except OSError:  # no /proc
        return cores[-1]


def one_core(args, root: Path) -> dict:
    """The pipeline alone, tf.data on one thread, the process pinned to one core."""
    import tensorflow as tf

    from trial.data import load

    data = load(_folder_cfg(root, **{"data.image_size": args.size}).data)
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.threading.max_intra_op_parallelism = 1
    cores = sorted(os.sched_getaffinity(0))
    core = _idlest_core(cores)
    os.sched_setaffinity(0, {core})
    try:
        passes = []
        for seed in range(args.passes):
            ds = data.train_batches(args.pipeline_batch, seed=seed, augment=True)
            ds = ds.with_options(options)
            n, start, cpu = 0, time.perf_counter(), time.process_time()
            for _, labels in ds:
                n += int(labels.shape[0])
            passes.append((n / (time.perf_counter() - start), n / (time.process_time() - cpu)))
    finally:
        os.sched_setaffinity(0, set(cores))
    return {
        "images_per_s": max(p[0] for p in passes),
        "images_per_cpu_s": max(p[1] for p in passes),
        "passes": passes,
        "images": n,
        "batch": args.pipeline_batch,
        "core": core,
    }


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    """Restarts the peak-RSS count from the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def memory_child(root: str, size: int, batch: int) -> dict:
    """Peak RSS of one trial's data loading (run in a fresh process by `memory`)."""
    import tensorflow as tf  # noqa: F401  (counted in the baseline, as in a trial)

    from trial.config import TrialConfig
    from trial.data import load

    with tempfile.TemporaryDirectory() as cache:
        cfg = _folder_cfg(Path(root), Path(cache), **{"data.image_size": size})
        del TrialConfig  # imported above so that the baseline holds the whole project
        base = _status_mb("VmRSS")
        _reset_peak()
        data = load(cfg.data)
        for _ in data.train_batches(batch, seed=0, augment=True):
            pass
        for split in (data.val, data.test):
            for _ in split.batches(batch):
                pass
        data.val.take(batch)
        return {"base_mb": base, "peak_mb": _status_mb("VmHWM"), "train_images": data.train_size}


def memory(args, roots: dict[int, Path]) -> dict:
    """`memory_child` for each folder size, in parallel child processes."""
    procs = {
        n: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.data",
                "--memory-child",
                str(root),
                "--size",
                str(args.size),
                "--pipeline-batch",
                str(args.pipeline_batch),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n, root in roots.items()
    }
    out = {}
    for n, proc in procs.items():
        stdout, _ = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"memory child for {n} images failed ({proc.returncode})")
        out[n] = json.loads(stdout.strip().splitlines()[-1])
    small, large = min(out), max(out)
    added = {n: max(r["peak_mb"] - r["base_mb"], 1e-9) for n, r in out.items()}
    return {
        "ratio_memory": added[large] / added[small],
        "ratio_memory_total": out[large]["peak_mb"] / out[small]["peak_mb"],
        "images": [small, large],
        "children": {str(n): r for n, r in out.items()},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="python -m bench.data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--workdir",
        default=str(Path(tempfile.gettempdir()) / "bench-data"),
        help="where the generated folders and their caches live (reused)",
    )
    p.add_argument("--images", type=int, default=2000, help="JPEGs in the ratio folder")
    p.add_argument("--memory-images", default="1000,4000", help="the two memory folder sizes")
    p.add_argument("--size", type=int, default=320, help="image side of the folders")
    p.add_argument("--digits-size", type=int, default=40)
    p.add_argument("--digits-batch", type=int, default=128)
    p.add_argument("--folder-batch", type=int, default=16)
    p.add_argument("--pipeline-batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=12, help="steps per round (folder: a quarter)")
    p.add_argument("--rounds", type=int, default=5, help="paired rounds of the ratios")
    p.add_argument("--passes", type=int, default=3, help="one-core passes over the folder")
    p.add_argument("--width", type=int, default=0, help="model width; 0 = the original's")
    p.add_argument("--blocks", type=int, default=0, help="blocks per stage; 0 = the original's")
    p.add_argument("--memory-child", default="", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.size, args.pipeline_batch)))
        return 0
    sizes = sorted(int(v) for v in args.memory_images.split(","))
    if len(sizes) != 2 or sizes[0] < 1:
        raise SystemExit("--memory-images takes two sizes, e.g. 1000,4000")
    workdir = Path(args.workdir)
    load_before = os.getloadavg()
    roots = {n: _tree(workdir, n, args.size) for n in sizes}
    folder = roots[sizes[1]] if sizes[1] >= args.images else _tree(workdir, args.images, args.size)
    digits = digits_ratio(args)
    folder_result = folder_ratio(args, folder)
    core = one_core(args, folder)
    mem = memory(args, roots)
    record = {
        "ratio": {"cluttered_digits": digits["ratio"], "folder": folder_result["ratio"]},
        "images_per_s_one_core": core["images_per_s"],
        "images_per_cpu_s_one_core": core["images_per_cpu_s"],
        "ratio_memory": mem["ratio_memory"],
        "targets": TARGETS,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "details": {
            "cluttered_digits": digits,
            "folder": folder_result,
            "one_core": core,
            "memory": mem,
        },
    }
    record["meets_targets"] = bool(
        min(record["ratio"].values()) >= TARGETS["ratio"]
        and core["images_per_s"] >= TARGETS["images_per_s_one_core"]
        and mem["ratio_memory"] <= TARGETS["ratio_memory"]
    )
    if args.json:
        print(json.dumps(record))
    else:
        print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
