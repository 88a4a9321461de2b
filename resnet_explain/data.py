"""Image datasets for the training lab: a generated one (always available) and CIFAR-10 (online).

Generated "shapes" data
-----------------------
He et al. 2015 (arXiv 1512.03385, fig. 1 and 6) show degradation on CIFAR-10: a 56-layer plain net
has *higher training error* than a 20-layer one. CIFAR needs a download and hours of CPU, so the
app also has a dataset it can make on the spot: 10 classes of shapes, textures and orientations,
each drawn with a random colour, position, scale and small rotation, on a coloured background
with clutter (distractor strokes) and per-pixel Gaussian noise. Everything is vectorised torch
code working on whole chunks of images at once, deterministic in ``seed``, and every image comes
with a per-pixel ground-truth mask of its object (the attribution lab scores saliency maps against
it). ``difficulty`` in [0, 1] turns up noise, clutter, clutter size and rotation and turns down
contrast and scale, so the task can be made hard enough that depth matters.

The classes are chosen in confusable pairs (disc/ring, square/disc, plus/X, horizontal/vertical/
diagonal stripes) so a classifier must combine local edges into shapes and orientations: shallow
features alone do not separate them.

CIFAR-10
--------
The official *binary* archive (https://www.cs.toronto.edu/~kriz/cifar.html): 6 files of records,
each 1 label byte followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue, row-major).
Parsed with numpy (no pickle), downloaded once with a progress callback, checked against its
published MD5, cached in the user's cache folder. Offline, :func:`load_dataset` says so and falls
back to the generated data.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import tarfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

SHAPE_CLASSES = ("disc", "square", "triangle", "ring", "plus", "cross",
                 "h-stripes", "v-stripes", "diag-stripes", "checker")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"  # published on the CIFAR page
CIFAR10_DIR = "cifar-10-batches-bin"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
_RECORD = 1 + 3 * 32 * 32

_CHUNK = 1024  # images generated per vectorised step (each chunk has its own seed)
MAX_IMAGES = 1_000_000
MIN_SIZE, MAX_SIZE = 8, 128


class DataError(ValueError):
    """A dataset request that cannot be honoured (bad argument, bad archive, no network)."""


@dataclass
class ImageSet:
    """Images kept compact as uint8 (N, C, H, W); labels int64 (N,); object masks bool (N, H, W).

    ``mask`` is None for real photographs (CIFAR has no masks). ``meta`` says how it was made.
    """

    x: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor | None
    classes: tuple[str, ...]
    name: str
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def size(self) -> int:
        return int(self.x.shape[-1])

    def to(self, device) -> "ImageSet":
        m = None if self.mask is None else self.mask.to(device)
        return ImageSet(self.x.to(device), self.y.to(device), m, self.classes, self.name, dict(self.meta))

    def subset(self, n: int) -> "ImageSet":
        """The first ``n`` images (classes stay interleaved, see :func:`balanced_labels`)."""
        m = None if self.mask is None else self.mask[:n]
        return ImageSet(self.x[:n], self.y[:n], m, self.classes, self.name, dict(self.meta))

    def float_images(self) -> torch.Tensor:
        """x as float32 in [0, 1]."""
        return self.x.float().div(255.0)

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the [0, 1] images (for input normalisation)."""
        xs = self.x[: min(len(self), 10_000)].float().div(255.0)
        mean = xs.mean(dim=(0, 2, 3))
        std = xs.std(dim=(0, 2, 3)).clamp_min(1e-3)
        return [float(v) for v in mean], [float(v) for v in std]


# ---------------------------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------------------------
def sub_seed(seed: int, *names) -> int:
    """A stable 63-bit seed derived from ``seed`` and a path of names (same scheme as model.py)."""
    s = int(seed)
    for name in names:
        s = (s * 1_000_003 + zlib.crc32(str(name).encode())) % (2**63 - 1)
    return s


def balanced_labels(n: int, classes: int, seed: int) -> torch.Tensor:
    """Exactly balanced labels (counts differ by at most one), in a seeded random order.

    Each run of ``classes`` consecutive labels is a permutation of all classes, so every prefix is
    balanced too (a subset of the first n images stays fair).
    """
    g = torch.Generator().manual_seed(sub_seed(seed, "labels"))
    rounds = -(-n // classes)
    keys = torch.rand(rounds, classes, generator=g)
    return keys.argsort(dim=1).reshape(-1)[:n].contiguous()


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShapeParams:
    """What ``difficulty`` means, in numbers (so a page can show it)."""

    noise: float  # std of the per-pixel Gaussian noise, in [0, 1] intensity units
    clutter: int  # distractor strokes per image
    contrast: float  # distance between object and background colour (RGB, [0, 1] units)
    scale_min: float  # object radius as a fraction of half the image side
    scale_max: float
    shift: float  # the centre moves up to this fraction of half the side
    rotation_deg: float  # +- rotation jitter (kept < 45 so orientations stay distinct classes)


def shape_params(difficulty: float) -> ShapeParams:
    d = float(difficulty)
    if not (math.isfinite(d) and 0.0 <= d <= 1.0):
        raise DataError(f"difficulty must be a number from 0 to 1, got {difficulty!r}")
    return ShapeParams(noise=0.03 + 0.37 * d, clutter=int(round(10 * d)), contrast=0.75 - 0.5 * d,
                       scale_min=0.45 - 0.2 * d, scale_max=0.7, shift=0.15 + 0.35 * d,
                       rotation_deg=30.0 * d)


def _shape_masks(c: int, X: torch.Tensor, Y: torch.Tensor, freq: torch.Tensor):
    """(region, paint) for class ``c`` in the object's own unit coordinates.

    ``region`` is the object's silhouette (the ground-truth mask); ``paint`` says which region
    pixels get the first colour (textures alternate two colours inside a disc).
    """
    R2 = X * X + Y * Y
    ax, ay = X.abs(), Y.abs()
    if c == 0:  # disc
        reg = R2 < 1.0
        return reg, reg
    if c == 1:  # square
        reg = torch.maximum(ax, ay) < 0.8
        return reg, reg
    if c == 2:  # triangle, apex up (image rows grow downward)
        reg = (Y < 0.7) & (ax < (Y + 0.85) * 0.7)
        return reg, reg
    if c == 3:  # ring
        reg = (R2 < 1.0) & (R2 > 0.36)
        return reg, reg
    if c == 4:  # plus
        reg = ((ax < 0.24) & (ay < 0.95)) | ((ay < 0.24) & (ax < 0.95))
        return reg, reg
    if c == 5:  # cross (the plus turned 45 degrees)
        p, q = (X + Y).abs() * 0.7071, (X - Y).abs() * 0.7071
        reg = ((p < 0.22) & (q < 0.95)) | ((q < 0.22) & (p < 0.95))
        return reg, reg
    reg = R2 < 1.0  # textures: a disc filled with a two-colour pattern
    f = freq * math.pi
    if c == 6:
        paint = torch.sin(Y * f) > 0
    elif c == 7:
        paint = torch.sin(X * f) > 0
    elif c == 8:
        paint = torch.sin((X + Y) * f * 0.7071) > 0
    else:  # checkerboard
        paint = (torch.sin(X * f) * torch.sin(Y * f)) > 0
    return reg, reg & paint


def _random_colour_pair(g: torch.Generator, b: int, contrast: float):
    """Background colour and an object colour ``contrast`` away from it, inside [0, 1]^3."""
    bg = 0.25 + 0.5 * torch.rand(b, 3, generator=g)
    d = torch.randn(b, 3, generator=g)
    d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-6)
    fg = (bg + contrast * d).clamp(0.0, 1.0)
    # Clamping can eat contrast; push along the brightness axis where it did.
    short = (fg - bg).norm(dim=1) < 0.5 * contrast
    flip = torch.where(bg.mean(dim=1, keepdim=True) > 0.5, -1.0, 1.0)
    fg = torch.where(short[:, None], (bg + flip * contrast * 0.7).clamp(0.0, 1.0), fg)
    return bg, fg


def _make_chunk(y: torch.Tensor, size: int, p: ShapeParams, seed: int):
    """Draw the images for labels ``y`` (one chunk); returns uint8 (B,3,S,S) and bool (B,S,S).

    Speed matters (the live page makes data on the spot), so every per-pixel quantity that is a
    sum of a row term and a column term (rotated coordinates) is built from two (B, S) vectors
    with one broadcast add, and colours are painted once, at the end, from an index map.
    """
    g = torch.Generator().manual_seed(seed)
    b = y.shape[0]
    S = size
    lin = (torch.arange(S, dtype=torch.float32) + 0.5) * (2.0 / S) - 1.0  # pixel centres in [-1, 1]
    col_u = lin.view(1, 1, S)  # u: column coordinate (right)
    row_v = lin.view(1, S, 1)  # v: row coordinate (down)

    def rnd(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(b, *shape, generator=g)

    def rotated(cx, cy, ang, scale):
        """((u-cx)cos + (v-cy)sin)/scale and (-(u-cx)sin + (v-cy)cos)/scale as (B,S,S)."""
        c, s = torch.cos(ang)[:, None, None] / scale, torch.sin(ang)[:, None, None] / scale
        du, dv = col_u - cx[:, None, None], row_v - cy[:, None, None]
        return du * c + dv * s, dv * c - du * s  # (B,1,S)+(B,S,1): one broadcast add each

    # Palette per image: 0 background, 1 object, 2 object's second tone, 3.. clutter strokes.
    bg, fg = _random_colour_pair(g, b, p.contrast)
    fg2 = (fg + torch.randn(b, 3, generator=g) * 0.15).clamp(0, 1) * 0.35 + bg * 0.65
    k = p.clutter
    palette = torch.cat([bg[:, :, None], fg[:, :, None], fg2[:, :, None],
                         torch.rand(b, 3, k, generator=g)], dim=2)  # (B, 3, 3+k)
    index = torch.zeros(b, S, S, dtype=torch.uint8)

    # Clutter: thin strokes of random colour, length and angle, drawn before the object so the
    # object (and its mask) is never covered. Strokes look like parts of plus/cross/stripes,
    # which is what makes clutter hard rather than just noisy. For speed the stroke *shapes* come
    # from a pool of ``b`` random strokes drawn for this chunk (one vectorised pass); each image
    # picks ``k`` of them at random and gives each its own random colour.
    if k:
        pool_along, pool_across = rotated(rnd(-1, 1), rnd(-1, 1), rnd(0, math.pi), torch.ones(1, 1, 1))
        pool = torch.lt(pool_along.abs_(), rnd(0.1, 0.45)[:, None, None])
        pool &= torch.lt(pool_across.abs_(), rnd(0.04, 0.09)[:, None, None])
        pick = torch.randint(0, b, (b, k), generator=g)
        for i in range(k):
            index = torch.where(pool[pick[:, i]], 3 + i, index)

    # The object: centre, scale, rotation, in its own unit coordinates.
    cx, cy = rnd(-p.shift, p.shift), rnd(-p.shift, p.shift)
    r = rnd(p.scale_min, p.scale_max)[:, None, None]
    th = rnd(-1, 1) * math.radians(p.rotation_deg)
    freq = rnd(2.0, 3.5)[:, None, None]  # stripe half-periods per object radius
    X, Y = rotated(cx, cy, th, r)
    region = torch.zeros(b, S, S, dtype=torch.bool)
    paint = torch.zeros(b, S, S, dtype=torch.bool)
    for c in range(len(SHAPE_CLASSES)):
        idx = (y == c).nonzero(as_tuple=True)[0]
        if idx.numel() == 0:
            continue
        reg, pt = _shape_masks(c, X[idx], Y[idx], freq[idx])
        region[idx] = reg
        paint[idx] = pt
    index.masked_fill_(region, 2)
    index.masked_fill_(paint, 1)

    # Paint: one gather from the palette, plus a gentle background gradient (so flat colour is
    # not a shortcut), then per-pixel noise.
    flat = index.view(b, 1, S * S).long().expand(b, 3, S * S)
    img = torch.gather(palette, 2, flat).view(b, 3, S, S)
    gu, gv = rnd(-0.15, 0.15), rnd(-0.15, 0.15)
    img = img + (gu[:, None, None] * col_u + gv[:, None, None] * row_v)[:, None]
    img = img * 255.0 + 0.5
    if p.noise > 0:
        # Uniform noise with the stated std (std = half-width / sqrt 3), drawn as random bytes:
        # int64 random_() gives 63 random bits, so each byte keeps its low 7 bits (uniform on
        # 0..127, unbiased). This is ~8x faster on a CPU than torch.randn and, for a network,
        # as hard as Gaussian noise of the same std.
        n_el = b * 3 * S * S
        words = torch.empty((n_el + 7) // 8, dtype=torch.int64).random_(generator=g)
        bits = words.view(torch.uint8)[:n_el].view(b, 3, S, S).bitwise_and(127)
        half = p.noise * math.sqrt(3.0) * 255.0
        img = img + (bits.float() - (64.0 - 0.5)) * (half / 64.0)
    x = img.clamp(0.0, 255.0).to(torch.uint8)
    return x, region


def make_shapes(n: int, seed: int = 0, size: int = 32, difficulty: float = 0.5,
                classes: int = 10, split: str = "train") -> ImageSet:
    """``n`` generated images (uint8, 3 x size x size) with labels and object masks.

    Deterministic in (n, seed, size, difficulty, classes, split): chunk k is drawn from its own
    generator seeded by (seed, split, k), and labels are :func:`balanced_labels`. ``split`` names
    an independent stream, so ``split="test"`` never repeats a training image's randomness.
    ``classes`` < 10 uses the first ``classes`` of :data:`SHAPE_CLASSES`.
    """
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_IMAGES:
        raise DataError(f"n must be a whole number from 1 to {MAX_IMAGES}, got {n!r}")
    if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise DataError(f"size must be a whole number from {MIN_SIZE} to {MAX_SIZE}, got {size!r}")
    if not isinstance(classes, int) or not 2 <= classes <= len(SHAPE_CLASSES):
        raise DataError(f"classes must be from 2 to {len(SHAPE_CLASSES)}, got {classes!r}")
    p = shape_params(difficulty)
    base = sub_seed(seed, "shapes", split, size, f"{float(difficulty):.6f}", classes)
    y = balanced_labels(n, classes, base)
    xs, ms = [], []
    for k, start in enumerate(range(0, n, _CHUNK)):
        x, m = _make_chunk(y[start:start + _CHUNK], size, p, sub_seed(base, "chunk", k))
        xs.append(x)
        ms.append(m)
    meta = {"kind": "generated shapes", "seed": int(seed), "split": split, "size": size,
            "difficulty": float(difficulty), "classes": classes, **p.__dict__}
    return ImageSet(torch.cat(xs), y, torch.cat(ms), SHAPE_CLASSES[:classes], "shapes", meta)


def shapes_train_test(n_train: int, n_test: int, seed: int = 0, size: int = 32,
                      difficulty: float = 0.5, classes: int = 10) -> tuple[ImageSet, ImageSet]:
    """A training set and an independent test set of the same task."""
    return (make_shapes(n_train, seed, size, difficulty, classes, split="train"),
            make_shapes(n_test, seed, size, difficulty, classes, split="test"))


# ---------------------------------------------------------------------------------------------
# CIFAR-10 (binary version)
# ---------------------------------------------------------------------------------------------
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
