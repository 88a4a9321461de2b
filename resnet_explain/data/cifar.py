"""CIFAR-10, when online or cached.

The official *binary* archive (https://www.cs.toronto.edu/~kriz/cifar.html): 6 files of records,
each 1 label byte followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major).
Parsed with numpy (no pickle), downloaded once with a progress callback, checked against its
published MD5, cached in the user's cache folder. Offline, :func:`load_dataset` says so and falls
back to the generated data.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .imageset import DataError, ImageSet
from .shapes import shapes_train_test

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # published on the CIFAR page
CIFAR10_DIR = "cifar-10-batches-bin"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
_RECORD = 1 + 3 * 32 * 32


def cache_dir() -> Path:
    """``$RESNET_EXPLAIN_CACHE``, else ``$XDG_CACHE_HOME/resnet_explain``, else ~/.cache/..."""
    env = os.environ.get("RESNET_EXPLAIN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "resnet_explain"


def md5_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def text_progress(done: int, total: int | None) -> None:
    """A one-line progress bar on stderr (the default download progress)."""
    if total:
        frac = min(1.0, done / total)
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\rCIFAR-10 [{bar:<30}] {frac * 100:5.1f}% of {total / 2**20:.0f} MiB")
    else:
        sys.stderr.write(f"\rCIFAR-10 {done / 2**20:.1f} MiB")
    if total and done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def download(url: str, dest: Path, md5: str | None,
             progress: Callable[[int, int | None], None] | None = text_progress,
             timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` (via a .part file), reporting bytes; verify the MD5.

    Raises DataError with a one-line reason when offline or when the checksum does not match
    (the bad file is deleted, never cached).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(part, "wb") as f:
            total = r.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            done = 0
            while True:
                block = r.read(1 << 16)
                if not block:
                    break
                f.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise DataError(f"cannot download {url} (offline?): {reason}") from None
    if md5 is not None:
        got = md5_of(part)
        if got != md5:
            part.unlink(missing_ok=True)
            raise DataError(f"checksum mismatch for {url}: expected md5 {md5}, got {got}")
    part.replace(dest)
    return dest


def parse_cifar_records(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Records of the binary CIFAR-10 format -> (uint8 images (N,3,32,32), int64 labels (N,))."""
    if len(buf) == 0 or len(buf) % _RECORD:
        raise DataError(f"a CIFAR-10 binary file holds {_RECORD}-byte records; got {len(buf)} bytes")
    a = np.frombuffer(buf, dtype=np.uint8).reshape(-1, _RECORD)
    labels = a[:, 0].astype(np.int64)
    if labels.max() >= 10:
        raise DataError(f"label {int(labels.max())} out of range 0-9: not a CIFAR-10 binary file")
    images = a[:, 1:].reshape(-1, 3, 32, 32).copy()
    return images, labels


def read_cifar_archive(path: Path) -> tuple[ImageSet, ImageSet]:
    """Parse ``cifar-10-binary.tar.gz`` (no extraction to disk) into train and test sets."""
    want = {f"{CIFAR10_DIR}/{n}" for n in CIFAR10_TRAIN_FILES + (CIFAR10_TEST_FILE,)}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.name in want and member.isfile():
                    found[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"cannot read CIFAR-10 archive {path}: {exc}") from None
    missing = sorted(want - set(found))
    if missing:
        raise DataError(f"CIFAR-10 archive {path} lacks {', '.join(missing)}")
    parts = [parse_cifar_records(found[f"{CIFAR10_DIR}/{n}"]) for n in CIFAR10_TRAIN_FILES]
    xtr = np.concatenate([p[0] for p in parts])
    ytr = np.concatenate([p[1] for p in parts])
    xte, yte = parse_cifar_records(found[f"{CIFAR10_DIR}/{CIFAR10_TEST_FILE}"])
    meta = {"kind": "CIFAR-10 (binary version)", "source": CIFAR10_URL, "size": 32}
    return (ImageSet(torch.from_numpy(xtr), torch.from_numpy(ytr), None, CIFAR10_CLASSES, "cifar10",
                     {**meta, "split": "train"}),
            ImageSet(torch.from_numpy(xte), torch.from_numpy(yte), None, CIFAR10_CLASSES, "cifar10",
                     {**meta, "split": "test"}))


def load_cifar10(root: Path | None = None, url: str = CIFAR10_URL, md5: str | None = CIFAR10_MD5,
                 progress=text_progress) -> tuple[ImageSet, ImageSet]:
    """CIFAR-10 from the cache, downloading (and verifying) it first if needed."""
    root = Path(root) if root is not None else cache_dir()
    path = root / "cifar-10-binary.tar.gz"
    if not path.exists():
        download(url, path, md5, progress)
    return read_cifar_archive(path)


def load_dataset(name: str = "shapes", n_train: int = 5000, n_test: int = 2000, seed: int = 0,
                 size: int = 32, difficulty: float = 0.5, fallback: bool = True,
                 progress=text_progress) -> tuple[ImageSet, ImageSet, str]:
    """(train, test, note). ``name`` is "shapes" or "cifar10". When CIFAR-10 is unavailable and
    ``fallback`` is set, the note says so and the generated shapes are returned instead."""
    if name == "shapes":
        tr, te = shapes_train_test(n_train, n_test, seed, size, difficulty)
        return tr, te, ""
    if name != "cifar10":
        raise DataError(f"unknown dataset {name[:20]!r}; choose shapes or cifar10")
    try:
        tr, te = load_cifar10(progress=progress)
    except DataError as exc:
        if not fallback:
            raise
        note = f"CIFAR-10 unavailable ({exc}); using the generated shapes data instead"
        tr, te = shapes_train_test(n_train, n_test, seed, size, difficulty)
        return tr, te, note
    return tr.subset(min(n_train, len(tr))), te.subset(min(n_test, len(te))), ""
