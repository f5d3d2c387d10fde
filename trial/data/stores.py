"""Decoded uint8 images of one source split, in memory or as a disk cache of fixed-size records.

A store holds every example of a source split that decoded, in the source's canonical order, as
uint8 (N, H, W, C) plus int32 labels, optional float32 (N, 2) object centres, the canonical index
of each record (unreadable examples are absent) and the list of what was skipped. Reads take any
positions: a disk store reads each record with one `pread` (records are fixed-size, so record i
sits at i * H * W * C), which keeps resident memory independent of the dataset's size (the OS page
cache, not the process, holds the file).

The disk cache is written once per (dataset, split, content) into `<cache root>/<key>/`: under a
file lock (several trials on one node may start together: one writes, the others wait and then
reuse it) into a temporary folder that is renamed into place when complete, so a crash or Ctrl-C
never leaves a half-written cache that a later trial would trust.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
LOCK_POLL_S = 30.0  # how often a trial waiting for another one's cache says so


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Consecutive decoded examples of a source split (canonical indices `index`)."""

    images: np.ndarray  # uint8 (k, H, W, C)
    labels: np.ndarray  # int32 (k,)
    centres: np.ndarray | None  # float32 (k, 2) or None
    index: np.ndarray  # int64 (k,)


class Store:
    """Random access to a source split's decoded uint8 records (see the module docstring)."""

    def __init__(self, shape, labels, centres, index, skipped) -> None:
        self.shape = tuple(int(v) for v in shape)
        self.labels = np.asarray(labels, np.int32)
        self.centres = None if centres is None else np.asarray(centres, np.float32)
        self.index = np.asarray(index, np.int64)
        self.skipped = list(skipped)

    def __len__(self) -> int:
        return len(self.labels)

    def read(self, positions: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """uint8 images at `positions` (in that order), into `out` when given."""
        raise NotImplementedError

    def positions_of(self, canonical: np.ndarray) -> np.ndarray:
        """Record positions of canonical indices, in their order; skipped ones are left out."""
        canonical = np.asarray(canonical, np.int64)
        pos = np.searchsorted(self.index, canonical)
        pos = np.minimum(pos, max(len(self.index) - 1, 0))
        found = self.index[pos] == canonical if len(self.index) else np.zeros(0, bool)
        return pos[found]


class ArrayStore(Store):
    """Records held in RAM."""

    def __init__(self, images, labels, centres, index, skipped=()) -> None:
        super().__init__(images.shape[1:], labels, centres, index, skipped)
        self.images = images

    def read(self, positions: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return np.take(self.images, np.asarray(positions), axis=0, out=out)

    @classmethod
    def collect(cls, chunks: Iterable[Chunk], total: int, skipped: Iterable[str] = ()):
        """Fills one preallocated array from `chunks` of at most `total` examples in all."""
        images = labels = index = centres = None
        n = 0
        for chunk in chunks:
            if images is None:
                images = np.empty((total, *chunk.images.shape[1:]), np.uint8)
                labels, index = np.empty(total, np.int32), np.empty(total, np.int64)
                if chunk.centres is not None:
                    centres = np.empty((total, 2), np.float32)
            k = len(chunk.index)
            images[n : n + k], labels[n : n + k], index[n : n + k] = (
                chunk.images,
                chunk.labels,
                chunk.index,
            )
            if centres is not None:
                centres[n : n + k] = chunk.centres
            n += k
        if images is None or n == 0:
            raise ValueError("no example could be read")
        return cls(
            images[:n], labels[:n], None if centres is None else centres[:n], index[:n], skipped
        )


class FileStore(Store):
    """Records in `<folder>/images.u8`, read with one pread each."""

    def __init__(self, folder: Path) -> None:
        self._fd: int | None = None
        self._pid = -1
        meta = json.loads((folder / "meta.json").read_text())
        centres = np.load(folder / "centres.npy") if meta["centres"] else None
        super().__init__(
            meta["shape"],
            np.load(folder / "labels.npy"),
            centres,
            np.load(folder / "index.npy"),
            meta["skipped"],
        )
        self.folder = folder
        self.path = folder / "images.u8"
        self.record = int(np.prod(self.shape))
        size = self.path.stat().st_size
        if meta.get("version") != FORMAT_VERSION or size != len(self) * self.record:
            raise ValueError(
                f"the data cache {folder} is damaged or from another version ({size} bytes for "
                f"{len(self)} records of {self.record}); delete that folder and rerun"
            )

    def _handle(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        return self._fd

    def read(self, positions: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        positions = np.asarray(positions, np.int64)
        out = np.empty((len(positions), *self.shape), np.uint8) if out is None else out
        fd = self._handle()
        for i, p in enumerate(positions):
            got = os.preadv(fd, [out[i]], int(p) * self.record)
            if got != self.record:
                raise OSError(f"short read of record {p} in {self.path} ({got} bytes)")
        return out

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)


def disk_store(folder: Path, chunks: Iterable[Chunk], skipped: Iterable[str]) -> FileStore:
    """Opens the disk cache at `folder`, writing it first from `chunks` if it is missing.

    `chunks` is only iterated by the one process that writes; `skipped` is read after that.
    """
    if (folder / "meta.json").exists():
        return FileStore(folder)
    from filelock import FileLock, Timeout

    check_writable(folder.parent)
    lock = FileLock(str(folder) + ".lock")
    while True:
        try:
            lock.acquire(timeout=LOCK_POLL_S)
            break
        except Timeout:
            log.info("waiting for another process to finish the data cache %s", folder)
    try:
        if (folder / "meta.json").exists():  # another trial wrote it while we waited
            return FileStore(folder)
        for stale in folder.parent.glob(f"{folder.name}.tmp-*"):  # a writer that died
            shutil.rmtree(stale, ignore_errors=True)
        tmp = folder.parent / f"{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        log.info("writing the data cache %s (once; later trials and epochs reuse it)", folder)
        try:
            _write(tmp, chunks, skipped)
            os.rename(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        lock.release()
    return FileStore(folder)


def chunk_size(shape: tuple[int, ...], budget: int = 32 << 20) -> int:
    """Examples decoded per chunk: about `budget` bytes of uint8 images, 16 to 256 of them."""
    return int(max(16, min(256, budget // max(1, int(np.prod(shape))))))


def check_writable(root: Path) -> None:
    """Raises a ValueError with the fix when the cache folder `root` cannot be written."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise ValueError(
            f"cannot write the data cache under {root} ({err.strerror or err}); set "
            "data.cache_dir to a writable folder (local disk is best) or data.cache to memory "
            "or none"
        ) from None


def _write(tmp: Path, chunks: Iterable[Chunk], skipped: Iterable[str]) -> None:
    labels, index, centres, shape = [], [], [], None
    with open(tmp / "images.u8", "wb") as f:
        for chunk in chunks:
            shape = chunk.images.shape[1:]
            f.write(np.ascontiguousarray(chunk.images, np.uint8).data)  # no copy
            labels.append(chunk.labels)
            index.append(chunk.index)
            if chunk.centres is not None:
                centres.append(chunk.centres)
        f.flush()
        os.fsync(f.fileno())
    if shape is None:
        raise ValueError("no example could be read")
    np.save(tmp / "labels.npy", np.concatenate(labels).astype(np.int32))
    np.save(tmp / "index.npy", np.concatenate(index).astype(np.int64))
    if centres:
        np.save(tmp / "centres.npy", np.concatenate(centres).astype(np.float32))
    meta = {
        "version": FORMAT_VERSION,
        "shape": list(shape),
        "count": int(sum(len(v) for v in labels)),
        "centres": bool(centres),
        "skipped": sorted(skipped),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))


class Progress:
    """Logs how far a long decode has come: nothing for the first 5 s (small datasets stay
    quiet), then every 10% or 30 s with a rate and the time left, and when it is done."""

    QUIET_S = 5.0

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self.start = self.last = time.monotonic()
        self.next_share = 0.0
        self.spoke = False

    def __call__(self, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
        for chunk in chunks:
            self.done += len(chunk.index)
            now = time.monotonic()
            share = self.done / max(self.total, 1)
            if now - self.start > self.QUIET_S and (
                share >= self.next_share or now - self.last > 30
            ):
                rate = self.done / max(now - self.start, 1e-9)
                left = (self.total - self.done) / max(rate, 1e-9)
                log.info(
                    "%s: %d/%d (%.0f/s, about %.0f s left)",
                    self.what,
                    self.done,
                    self.total,
                    rate,
                    left,
                )
                self.last, self.next_share, self.spoke = now, share + 0.1, True
            yield chunk
        if self.spoke:
            log.info("%s: done, %d in %.0f s", self.what, self.done, time.monotonic() - self.start)
