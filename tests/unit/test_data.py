"""Generated shapes: determinism, balance, masks that match the drawn objects; CIFAR binary parser."""

import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch

from resnet_explain import data
from resnet_explain.data import cifar


def test_deterministic_in_seed_and_split():
    a = data.make_shapes(40, seed=3, size=16, difficulty=0.5)
    b = data.make_shapes(40, seed=3, size=16, difficulty=0.5)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and torch.equal(a.mask, b.mask)
    c = data.make_shapes(40, seed=4, size=16, difficulty=0.5)
    assert not torch.equal(a.x, c.x)
    t = data.make_shapes(40, seed=3, size=16, difficulty=0.5, split="test")
    assert not torch.equal(a.x, t.x)


def test_shapes_and_dtypes():
    s = data.make_shapes(30, seed=0, size=16)
    assert s.x.shape == (30, 3, 16, 16) and s.x.dtype == torch.uint8
    assert s.y.shape == (30,) and s.y.dtype == torch.int64
    assert s.mask.shape == (30, 16, 16) and s.mask.dtype == torch.bool
    assert s.classes == data.SHAPE_CLASSES and len(s.classes) >= 10


@pytest.mark.parametrize("n,classes", [(95, 10), (10, 10), (7, 3), (1, 10)])
def test_class_balance(n, classes):
    y = data.make_shapes(n, seed=1, size=8, classes=classes).y
    counts = torch.bincount(y, minlength=classes)
    assert int(counts.sum()) == n and int(counts.max() - counts.min()) <= 1
    # every prefix of len k*classes is exactly balanced too
    k = (n // classes) * classes
    if k:
        assert torch.bincount(y[:k], minlength=classes).unique().numel() == 1


def test_masks_align_with_objects():
    # Easiest setting: little noise, no clutter; the object's pixels differ from the background.
    s = data.make_shapes(60, seed=2, size=32, difficulty=0.0)
    x = s.x.float()
    for i in range(len(s)):
        m = s.mask[i]
        assert 0.02 < m.float().mean() < 0.8
        inside = x[i][:, m].mean(dim=1)
        outside = x[i][:, ~m].mean(dim=1)
        assert (inside - outside).norm() > 25, f"image {i} (class {s.classes[s.y[i]]})"
        if int(s.y[i]) <= 5:  # solid shapes: one colour inside (small noise only)
            assert x[i][:, m].std(dim=1).max() < 20
    # Shape semantics: a ring's mask has a hole at its centre, a disc's does not.
    for i in range(len(s)):
        m = s.mask[i]
        rows, cols = torch.nonzero(m, as_tuple=True)
        r, c = int(rows.float().mean().round()), int(cols.float().mean().round())
        if s.classes[s.y[i]] == "ring":
            assert not m[r, c]
        if s.classes[s.y[i]] == "disc":
            assert m[r, c]


def test_difficulty_changes_params_and_errors():
    assert data.shape_params(1.0).noise > data.shape_params(0.0).noise
    assert data.shape_params(1.0).clutter > data.shape_params(0.0).clutter == 0
    with pytest.raises(data.DataError):
        data.shape_params(1.5)
    with pytest.raises(data.DataError):
        data.make_shapes(0)
    with pytest.raises(data.DataError):
        data.make_shapes(4, size=4)


# ---- CIFAR-10 binary format ----------------------------------------------------------------
def _records(n, label0, seed):
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) + label0) % 10
    pix = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    return labels, pix, np.concatenate([labels[:, None].astype(np.uint8), pix], axis=1).tobytes()


def _build_archive(path, n=3):
    expected = {}
    with tarfile.open(path, "w:gz") as tar:
        for k, name in enumerate(cifar.CIFAR10_TRAIN_FILES + (cifar.CIFAR10_TEST_FILE,)):
            labels, pix, buf = _records(n, k, k)
            expected[name] = (labels, pix)
            info = tarfile.TarInfo(f"{cifar.CIFAR10_DIR}/{name}")
            info.size = len(buf)
            tar.addfile(info, io.BytesIO(buf))
    return expected


def test_cifar_parser_on_built_archive(tmp_path):
    arc = tmp_path / "cifar-10-binary.tar.gz"
    exp = _build_archive(arc)
    tr, te = cifar.read_cifar_archive(arc)
    assert tr.x.shape == (15, 3, 32, 32) and te.x.shape == (3, 3, 32, 32)
    assert tr.mask is None and tr.classes == cifar.CIFAR10_CLASSES
    labels, pix = exp["data_batch_2.bin"]
    assert tr.y[3:6].tolist() == labels.tolist()
    # 1024 red, then green, then blue, each row-major
    assert np.array_equal(tr.x[3].numpy().reshape(-1), pix[0])
    assert tr.x[3, 1, 0, 0] == pix[0][1024] and tr.x[3, 2, 31, 31] == pix[0][3071]
    assert te.y.tolist() == exp["test_batch.bin"][0].tolist()


def test_cifar_parser_rejects_bad_data(tmp_path):
    with pytest.raises(data.DataError):
        cifar.parse_cifar_records(b"\x00" * 100)
    with pytest.raises(data.DataError):
        cifar.parse_cifar_records(bytes([12]) + b"\x00" * 3072)
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(data.DataError):
        cifar.read_cifar_archive(bad)


def test_download_verifies_checksum_and_caches(tmp_path):
    src = tmp_path / "src.tar.gz"
    _build_archive(src)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    seen = []
    cache = tmp_path / "cache"
    with pytest.raises(data.DataError, match="checksum"):
        cifar.load_cifar10(cache, url=src.as_uri(), md5="0" * 32, progress=None)
    assert not any(cache.iterdir())  # a bad file is never cached
    tr, te = cifar.load_cifar10(cache, url=src.as_uri(), md5=md5, progress=lambda d, t: seen.append(d))
    assert len(tr) == 15 and seen and (cache / "cifar-10-binary.tar.gz").exists()
    src.unlink()  # the second call reads the cache
    assert len(cifar.load_cifar10(cache, url=src.as_uri(), md5=md5, progress=None)[1]) == 3


def test_offline_falls_back_to_shapes(monkeypatch):
    def offline(**kw):
        raise data.DataError("cannot download (offline?)")
    monkeypatch.setattr(cifar, "load_cifar10", offline)
    tr, te, note = data.load_dataset("cifar10", n_train=20, n_test=10, size=8)
    assert tr.name == "shapes" and "unavailable" in note and len(te) == 10
    with pytest.raises(data.DataError):
        data.load_dataset("cifar10", fallback=False)
    with pytest.raises(data.DataError):
        data.load_dataset("mnist")
