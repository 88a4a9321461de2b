"""Validate an uploaded image before anything else touches it.

Refused, each with a clear message: empty files, files over the size limit, anything that is not a
PNG or JPEG by its magic bytes (a text file renamed .png), truncated or corrupt images, and
decompression bombs (dimensions checked from the header, before the pixels are decoded). Nothing
uploaded is ever unpickled or written to disk.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch

from ..errors import UserError

MAX_BYTES = 5 * 2**20
MAX_SIDE = 4096
MAX_PIXELS = 16_000_000
_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}


class UploadError(UserError):
    """An upload that was refused; the message says why, in words a visitor understands."""


def _kind(data: bytes) -> str | None:
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    return None


def load_image(data: bytes, size: int = 32) -> tuple[torch.Tensor, dict]:
    """Validate ``data`` and return it as a uint8 tensor (3, size, size) plus what was done."""
    from PIL import Image, UnidentifiedImageError  # lazy: Pillow only when a visitor uploads an image

    if not isinstance(data, (bytes, bytearray)):
        raise UploadError("no file data")
    n = len(data)
    if n == 0:
        raise UploadError("the file is empty")
    if n > MAX_BYTES:
        raise UploadError(f"the file is {n / 2**20:.1f} MB; the limit is {MAX_BYTES / 2**20:.0f} MB")
    kind = _kind(bytes(data[:8]))
    if kind is None:
        raise UploadError("this is not a PNG or JPEG image (its first bytes say otherwise)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                w, h = probe.size  # read from the header; no pixels decoded yet
                if probe.format not in ("PNG", "JPEG"):
                    raise UploadError(f"unsupported image format {probe.format}")
                if w < 1 or h < 1 or w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
                    raise UploadError(f"the image is {w}×{h} pixels; the limit is {MAX_SIDE}×{MAX_SIDE}")
                probe.verify()  # structure and checksums
            with Image.open(io.BytesIO(data)) as im:
                im.load()  # decodes: a truncated file fails here
                rgb = im.convert("RGB")
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError("the image's dimensions are too large (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UploadError(f"the image could not be read: it is truncated or corrupt ({type(exc).__name__})") from None
    small = rgb.resize((size, size), Image.Resampling.BILINEAR)
    arr = np.asarray(small, dtype=np.uint8).copy()
    x = torch.from_numpy(arr).permute(2, 0, 1).contiguous()
    return x, {"format": kind, "original_size": (w, h), "resized_to": (size, size)}
