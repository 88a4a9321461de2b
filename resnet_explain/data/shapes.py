"""Generated "shapes" data (always available, no download).

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..seeding import sub_seed
from .imageset import DataError, ImageSet, balanced_labels

SHAPE_CLASSES = ("disc", "square", "triangle", "ring", "plus", "cross",
                 "h-stripes", "v-stripes", "diag-stripes", "checker")
_CHUNK = 1024  # images generated per vectorised step (each chunk has its own seed)
MAX_IMAGES = 1_000_000
MIN_SIZE, MAX_SIZE = 8, 128

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


def _noise(g: torch.Generator, shape, std: float) -> torch.Tensor:
    """Uniform noise with the stated std (std = half-width / sqrt 3, in 0..1 units), in 0..255
    units, drawn as random bytes: int64 random_() gives 63 random bits, so each byte keeps its low
    7 bits (uniform on 0..127, unbiased). This is ~8x faster on a CPU than torch.randn and, for a
    network, as hard as Gaussian noise of the same std."""
    n_el = math.prod(shape)
    words = torch.empty((n_el + 7) // 8, dtype=torch.int64).random_(generator=g)
    bits = words.view(torch.uint8)[:n_el].view(*shape).bitwise_and(127)
    half = std * math.sqrt(3.0) * 255.0
    return (bits.float() - (64.0 - 0.5)) * (half / 64.0)


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
        img = img + _noise(g, img.shape, p.noise)
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
