"""CIFAR-10, when online or cached.

The official *binary* archive (https://www.cs.toronto.edu/~kriz/cifar.html): 6 files of records,
each 1 label byte followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major).
Parsed with numpy (no pickle), downloaded once with a progress callback, checked against its
published MD5, cached in the data folder (``RESNET_EXPLAIN_DATA``, else the user's cache folder),
where an extracted ``cifar-10-batches-bin/`` folder is read too. Offline, :func:`load_dataset` says
so and falls back to the generated data; :class:`CifarRecipe` (He et al. 2015 sec. 4.2's CIFAR-10
splits, for the training experiments) says what is missing and how to get it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
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
ARCHIVE = "cifar-10-binary.tar.gz"
DATA_ENV = "RESNET_EXPLAIN_DATA"


def cache_dir() -> Path:
    """``$RESNET_EXPLAIN_CACHE``, else ``$XDG_CACHE_HOME/resnet_explain``, else ~/.cache/..."""
    env = os.environ.get("RESNET_EXPLAIN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "resnet_explain"


def data_dir() -> Path:
    """The data folder: ``$RESNET_EXPLAIN_DATA`` (a Space bakes CIFAR-10 in there at build),
    else :func:`cache_dir`."""
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else cache_dir()


def missing_text(root: Path, reason: str) -> str:
    """What is missing for CIFAR-10 and how to get it (a DataError's message)."""
    return (f"CIFAR-10 is not in the data folder {root} ({reason}). Get it: be online (it downloads "
            f"once, 163 MiB, md5-checked), or put {ARCHIVE} from {CIFAR10_URL} (md5 {CIFAR10_MD5}) "
            f"or its extracted {CIFAR10_DIR}/ folder there; {DATA_ENV} names another folder.")


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
    return _sets({name.split("/", 1)[1]: buf for name, buf in found.items()}, path)


def _sets(found: dict[str, bytes], where: Path) -> tuple[ImageSet, ImageSet]:
    """Train and test ImageSets from the six files' bytes (keyed by their names)."""
    parts = [parse_cifar_records(found[n]) for n in CIFAR10_TRAIN_FILES]
    xtr = np.concatenate([p[0] for p in parts])
    ytr = np.concatenate([p[1] for p in parts])
    xte, yte = parse_cifar_records(found[CIFAR10_TEST_FILE])
    meta = {"kind": "CIFAR-10 (binary version)", "source": CIFAR10_URL, "size": 32, "path": str(where)}
    return (ImageSet(torch.from_numpy(xtr), torch.from_numpy(ytr), None, CIFAR10_CLASSES, "cifar10",
                     {**meta, "split": "train"}),
            ImageSet(torch.from_numpy(xte), torch.from_numpy(yte), None, CIFAR10_CLASSES, "cifar10",
                     {**meta, "split": "test"}))


def read_cifar_folder(folder: Path) -> tuple[ImageSet, ImageSet]:
    """The extracted archive's ``cifar-10-batches-bin/`` folder into train and test sets."""
    names = CIFAR10_TRAIN_FILES + (CIFAR10_TEST_FILE,)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise DataError(f"CIFAR-10 folder {folder} lacks {', '.join(missing)}")
    return _sets({n: (folder / n).read_bytes() for n in names}, folder)


def load_cifar10(root: Path | None = None, url: str = CIFAR10_URL, md5: str | None = CIFAR10_MD5,
                 progress=text_progress) -> tuple[ImageSet, ImageSet]:
    """CIFAR-10 from the data folder (the archive, or its extracted folder), downloading (and
    verifying) the archive first if neither is there."""
    root = Path(root) if root is not None else data_dir()
    if (root / CIFAR10_DIR).is_dir():
        return read_cifar_folder(root / CIFAR10_DIR)
    path = root / ARCHIVE
    if not path.exists():
        download(url, path, md5, progress)
    return read_cifar_archive(path)


SPLITS = {"50k/10k": "the 50,000 training images, tested on the 10,000 test images (fig. 6, table 6)",
          "45k/5k": "45,000 training images, validated on the other 5,000 (how He et al. chose the schedule)"}


@dataclass(frozen=True)
class CifarRecipe:
    """CIFAR-10 as a run's data, in He et al. 2015 sec. 4.2's splits: ``"50k/10k"`` (train on the
    training set, test on the test set) or ``"45k/5k"`` (the last tenth of the training set held
    out as validation; a smaller archive is split in the same proportion). ``n_train``/``n_test``
    cap the two parts (the first images of each). ``root``: the data folder ("" = :func:`data_dir`);
    ``download``: fetch the archive when it is not there."""

    n_train: int = 50000
    n_test: int = 10000
    split: str = "50k/10k"
    root: str = ""
    download: bool = True
    seed: int = 0  # not used: the split is fixed (kept so every data recipe has one)
    kind: str = "cifar10"
    size: int = 32

    @property
    def difficulty(self) -> None:  # the shapes recipes' knob; CIFAR-10 has none
        return None

    def load(self) -> tuple[ImageSet, ImageSet]:
        if self.split not in SPLITS:
            raise DataError(f"split must be one of {', '.join(SPLITS)}, got {self.split[:20]!r}")
        root = Path(self.root) if self.root else data_dir()
        if not self.download and not ((root / CIFAR10_DIR).is_dir() or (root / ARCHIVE).exists()):
            raise DataError(missing_text(root, "no archive or folder, and downloading is off"))
        try:
            tr, te = load_cifar10(root, progress=text_progress if self.download else None)
        except DataError as exc:
            raise DataError(missing_text(root, str(exc))) from None
        if self.split == "45k/5k":
            n_val = round(len(tr) / 10)
            keep = len(tr) - n_val
            tr, te = (ImageSet(tr.x[:keep], tr.y[:keep], None, tr.classes, tr.name,
                               {**tr.meta, "split": "45k"}),
                      ImageSet(tr.x[keep:], tr.y[keep:], None, tr.classes, tr.name,
                               {**tr.meta, "split": "5k"}))
        return tr.subset(min(self.n_train, len(tr))), te.subset(min(self.n_test, len(te)))


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
