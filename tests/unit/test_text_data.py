"""The offline text data: the corpus loader on a tiny file, windows, the seeded split, the hash
in the recipe's identity, and the sorting task."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from resnet_explain.data.text import (IGNORE, STDLIB_FILES, TextRecipe, make_sort_task, read_corpus,
                                      split_windows, unigram_entropy, windows)
from resnet_explain.errors import UserError


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "a.py").write_bytes(b"def f(x):\n    return x + 1\n" * 20)
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "b.py").write_bytes(b"import os\n" * 30)
    return tmp_path


def test_corpus_reads_listed_files_in_order_and_hashes_them(tiny):
    read_corpus.cache_clear()
    c = read_corpus(str(tiny), ("a.py", "json/b.py", "gone.py"))
    want = (tiny / "a.py").read_bytes() + (tiny / "json" / "b.py").read_bytes()
    assert c.data == want
    assert c.files == ("a.py", "json/b.py") and c.missing == ("gone.py",)
    assert c.sha256 == hashlib.sha256(want).hexdigest()


def test_no_file_found_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="none of the"):
        read_corpus(str(tmp_path), ("nothing.py",))


def test_windows_are_next_byte_pairs():
    data = bytes(range(50))
    w = windows(data, context=4)
    assert w.shape == (10, 5)  # 50 // 5
    from resnet_explain.data.text import TokenSet
    x, y = TokenSet(w, None, 256, "t").batch(slice(0, 2))
    assert x.dtype == torch.long and x.tolist()[0] == [0, 1, 2, 3] and y.tolist()[0] == [1, 2, 3, 4]


def test_split_is_seeded_disjoint_and_complete():
    w = torch.arange(128 * 8).reshape(128, 8)  # 128 distinct windows
    tr, va = split_windows(w, 16, seed=3)
    tr2, va2 = split_windows(w, 16, seed=3)
    _, va3 = split_windows(w, 16, seed=4)
    assert torch.equal(va, va2) and torch.equal(tr, tr2) and not torch.equal(va, va3)
    rows = {tuple(r) for r in torch.cat([tr, va]).tolist()}
    assert len(va) == 16 and len(tr) == 112 and len(rows) == 128


def test_recipe_on_a_tiny_root_reads_the_recorded_list(tmp_path):
    """The recipe reads STDLIB_FILES under the root it is given; what is absent is recorded."""
    (tmp_path / "abc.py").write_bytes(b"class A:\n    pass\n" * 40)
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "decoder.py").write_bytes(b"x = 1\n" * 40)
    read_corpus.cache_clear()
    r = TextRecipe(context=8, n_val=4, seed=0)
    tr, va = r.load(root=str(tmp_path))
    data = (tmp_path / "abc.py").read_bytes() + (tmp_path / "json" / "decoder.py").read_bytes()
    assert len(tr) + len(va) == len(data) // 9 and len(va) == 4
    assert tr.meta["sha256"] == hashlib.sha256(data).hexdigest() == r.identity(str(tmp_path))["sha256"]
    assert tr.meta["files"] == 2 and len(tr.meta["missing"]) == len(STDLIB_FILES) - 2
    x, y = tr.batch(slice(0, 1))
    assert bytes(x[0].tolist()) + bytes(y[0, -1:].tolist()) in data
    read_corpus.cache_clear()


def test_recipe_identity_carries_the_corpus_hash():
    read_corpus.cache_clear()
    r = TextRecipe(context=16, n_val=8)
    ident = r.identity()
    assert ident["sha256"] == read_corpus().sha256 and ident["context"] == 16
    assert TextRecipe.from_identity(ident) == r
    tr, va = r.load()
    assert tr.meta["sha256"] == ident["sha256"] and len(va) == 8 and tr.context == 16
    assert set(read_corpus().files) | set(read_corpus().missing) == set(STDLIB_FILES)
    # a model that knows only byte frequencies: well below the uniform guess
    assert 2.0 < unigram_entropy(tr) < math.log(256)


def test_sort_task_scores_only_the_sorted_half():
    ts = make_sort_task(5, length=4, n_symbols=6, seed=1)
    assert ts.tokens.shape == (5, 9) and ts.context == 8
    seq = ts.tokens[0].tolist()
    assert seq[4] == 6 and seq[5:] == sorted(seq[:4])
    x, y = ts.batch(slice(0, 5))
    assert (y[:, :4] == IGNORE).all() and torch.equal(y[:, 4:], ts.tokens[:, 5:].long())
    assert torch.equal(make_sort_task(5, 4, 6, seed=1).tokens, ts.tokens)


def test_sort_recipe_splits_and_names_itself():
    r = TextRecipe.sort(length=4, n_symbols=6, n_train=20, n_val=5, seed=2)
    tr, va = r.load()
    assert len(tr) == 20 and len(va) == 5 and r.context == 8
    assert "sha256" not in r.identity() and TextRecipe.from_identity(r.identity()) == r


def test_unknown_kind_is_a_user_error():
    with pytest.raises(UserError, match="unknown text data"):
        TextRecipe(kind="novels").load()


def test_unigram_loss_is_the_cross_entropy_of_the_fitted_frequencies():
    from resnet_explain.data.text import TokenSet, unigram_loss
    fit = TokenSet(torch.tensor([[0, 1, 1, 1]], dtype=torch.int16), None, 256, "f")  # targets 1, 1, 1
    on = TokenSet(torch.tensor([[5, 1, 2]], dtype=torch.int16), None, 256, "o")  # targets 1, 2
    total = 3 + 0.5 * 256
    want = -(math.log(3.5 / total) + math.log(0.5 / total)) / 2
    assert unigram_loss(fit, on) == pytest.approx(want)
