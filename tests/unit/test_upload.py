"""Upload validation refuses a corpus of bad files with a clear message."""

import io
import os
import struct
import zlib

import pytest
from PIL import Image

from resnet_explain.data.upload import MAX_BYTES, UploadError, load_image


def _png(w=40, h=30, mode="RGB"):
    b = io.BytesIO()
    Image.new(mode, (w, h), 128).save(b, "PNG")
    return b.getvalue()


def _chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def _png_claiming(w, h):
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b""))


def test_good_png_and_jpeg_are_resized():
    x, info = load_image(_png(), size=32)
    assert x.shape == (3, 32, 32) and info["original_size"] == (40, 30)
    b = io.BytesIO()
    Image.new("RGB", (100, 80), (1, 2, 3)).save(b, "JPEG")
    x, info = load_image(b.getvalue(), size=16)
    assert x.shape == (3, 16, 16) and info["format"] == "JPEG"
    x, _ = load_image(_png(mode="L"))  # greyscale becomes RGB
    assert x.shape[0] == 3


BAD = {
    "zero bytes": (b"", "empty"),
    "text renamed .png": (b"just some text, not an image\n" * 20, "not a PNG or JPEG"),
    "truncated png": (_png(200, 200)[:300], "truncated or corrupt"),
    "random bytes": (os.urandom(4096), "not a PNG or JPEG"),
    "png magic then garbage": (b"\x89PNG\r\n\x1a\n" + os.urandom(600), "truncated or corrupt"),
    "huge dimensions (bomb)": (_png_claiming(60_000, 60_000), "too large"),
    "big but legal header": (_png_claiming(5000, 5000), "limit"),
    "over 5 MB": (b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_BYTES + 1), "limit is 5 MB"),
    "a gif": (b"GIF89a" + os.urandom(100), "not a PNG or JPEG"),
    "a pickle": (b"\x80\x04\x95" + os.urandom(50), "not a PNG or JPEG"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_files_are_refused_with_a_clear_message(name):
    data, words = BAD[name]
    with pytest.raises(UploadError, match=words):
        load_image(data)
