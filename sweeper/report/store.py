"""Read and write a study folder that may be local or behind a URI (s3://, gs://, file://).

The report is rebuilt from stored results alone, wherever Tune stored them, so every read and
write goes through pyarrow's filesystem layer (the one Ray Tune itself uses for storage).
Paths inside a store are relative, with `/` separators.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs


class Store:
    """A study folder: `Store("runs/demo")` or `Store("s3://bucket/runs/demo")`."""

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        if "://" in self.location:
            self.fs, root = pafs.FileSystem.from_uri(self.location)
        else:
            self.fs, root = pafs.LocalFileSystem(), str(Path(self.location).resolve())
        self.root = root.rstrip("/")
        self.name = self.root.rsplit("/", 1)[-1]

    def _path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def is_dir(self, rel: str = "") -> bool:
        return self.fs.get_file_info(self._path(rel)).type == pafs.FileType.Directory

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self._path(rel)).type != pafs.FileType.NotFound

    def listdir(self, rel: str = "") -> list[tuple[str, bool]]:
        """(name, is_dir) of the entries of a folder, sorted; empty if there is no folder."""
        if not self.is_dir(rel):
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(self._path(rel), allow_not_found=True))
        return sorted((i.base_name, i.type == pafs.FileType.Directory) for i in infos)

    def read_bytes(self, rel: str) -> bytes:
        with self.fs.open_input_stream(self._path(rel)) as f:
            return f.read()

    def read_text(self, rel: str) -> str:
        return self.read_bytes(rel).decode("utf-8", errors="replace")

    def write_bytes(self, rel: str, data: bytes) -> None:
        with self.fs.open_output_stream(self._path(rel)) as f:
            f.write(data)

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode("utf-8"))

    def url(self, rel: str) -> str:
        """Where a file of the store is, for messages."""
        if "://" in self.location:
            return f"{self.location.rstrip('/')}/{rel}"
        return str(Path(self.root) / rel)
