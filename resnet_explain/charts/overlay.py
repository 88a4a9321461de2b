"""Attribution heatmaps as RGB arrays (numpy only): overlay on the image, mask outline, upscaling.

Signed maps use a diverging blue-white-red scale centred on 0 (red supports the class, blue
opposes it); absolute maps a sequential white-to-dark-red scale. Each map is scaled by its own
largest magnitude (its 99.5th percentile, so one hot pixel does not wash out the rest), and the
scale is reported, so two maps are compared by shape, not by colour intensity.
"""

from __future__ import annotations

import numpy as np

OUTLINE = np.array([0.0, 0.78, 0.0])  # the ground-truth mask's outline, green
SCALE_PERCENTILE = 99.5


def _scale(a: np.ndarray) -> float:
    m = float(np.percentile(np.abs(a), SCALE_PERCENTILE)) if a.size else 0.0
    return m if m > 0 else (float(np.abs(a).max()) or 1.0)


def colorize(attr: np.ndarray, signed: bool = True) -> tuple[np.ndarray, float]:
    """(H, W) attribution -> (H, W, 3) float RGB in [0, 1], and the scale used."""
    a = np.asarray(attr, dtype=np.float64)
    s = _scale(a)
    if signed:
        t = np.clip(a / s, -1.0, 1.0)
        pos, neg = np.clip(t, 0, 1)[..., None], np.clip(-t, 0, 1)[..., None]
        white = np.ones(a.shape + (3,))
        red = np.array([0.84, 0.15, 0.16])
        blue = np.array([0.12, 0.47, 0.71])
        rgb = white * (1 - pos - neg) + red * pos + blue * neg
    else:
        t = np.clip(np.abs(a) / s, 0.0, 1.0)[..., None]
        rgb = np.ones(a.shape + (3,)) * (1 - t) + np.array([0.5, 0.0, 0.05]) * t
    return rgb, s


def outline(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a boolean mask (inside pixels with a 4-neighbour outside)."""
    m = np.asarray(mask, dtype=bool)
    p = np.pad(m, 1, constant_values=False)
    interior = p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    return m & ~interior


def upscale(rgb: np.ndarray, k: int) -> np.ndarray:
    return np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)


def overlay(image: np.ndarray, attr: np.ndarray, mask: np.ndarray | None = None, signed: bool = True,
            alpha: float = 0.65, scale_to: int = 192) -> tuple[np.ndarray, float]:
    """Blend the colourised attribution over the image, draw the mask outline, upscale
    (nearest neighbour, so pixels stay pixels). ``image`` is (3, H, W) or (H, W, 3) uint8.
    Returns uint8 (H*k, W*k, 3) and the colour scale."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[0] == 3:
        img = img.transpose(1, 2, 0)
    img = img.astype(np.float64) / 255.0
    heat, s = colorize(attr, signed)
    grey = img.mean(axis=2, keepdims=True).repeat(3, axis=2)
    out = (1 - alpha) * grey + alpha * heat
    k = max(1, scale_to // img.shape[0])
    out = upscale(out, k)
    if mask is not None:
        # a one-pixel line on the boundary of the upscaled mask: the pixels inside stay visible
        big = upscale(np.asarray(mask, dtype=bool)[..., None], k)[..., 0]
        out[outline(big)] = OUTLINE
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8), s


def image_rgb(image: np.ndarray, scale_to: int = 192) -> np.ndarray:
    """The plain image, upscaled the same way, (H*k, W*k, 3) uint8."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[0] == 3:
        img = img.transpose(1, 2, 0)
    k = max(1, scale_to // img.shape[0])
    return upscale(img, k).astype(np.uint8)


def panels(image: np.ndarray, attr: np.ndarray, mask: np.ndarray | None = None,
           scale_to: int = 192) -> list[tuple[np.ndarray, str]]:
    """The three pictures the attribution lab shows side by side, each with its caption: the image,
    the signed map and the absolute map (over the image, mask outlined, scale in the caption)."""
    signed, s = overlay(image, attr, mask, signed=True, scale_to=scale_to)
    absolute, a = overlay(image, attr, mask, signed=False, scale_to=scale_to)
    return [(image_rgb(image, scale_to), "image"), (signed, f"signed (±{s:.2g})"),
            (absolute, f"absolute (0–{a:.2g})")]
