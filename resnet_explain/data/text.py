"""Text that ships offline: bytes of the Python standard library's own source, and a sorting task.

**The corpus.** Every Python installation carries its standard library's source files (PSF licence),
so a character-level corpus is available on every machine without a download. We read a fixed,
recorded list of files (:data:`STDLIB_FILES`, relative to ``sysconfig.get_paths()["stdlib"]``),
concatenate their bytes in that order, and hash what we read (SHA-256): the files differ between
Python releases, so the hash is part of a run's identity (:meth:`TextRecipe.identity`) and a run
trained on 3.11.7's files is not mistaken for one on 3.12's.

**The vocabulary is bytes (256 symbols)**, not the characters present: it does not depend on which
files or which release were read (the model's shape and a run's spec stay the same everywhere), any
UTF-8 is representable without an unknown token, and the unembedding it costs (256 x width) is a few
per cent of a width-128 model. The sources are nearly all ASCII, so about 100 of the 256 occur;
:func:`unigram_entropy` gives the loss of a model that learnt only how often each byte occurs (the
floor below ln 256 = 5.55 nats that "learnt something" must beat).

**Windows and split.** The byte stream is cut into non-overlapping windows of ``context + 1`` bytes
(input = the first ``context``, target = the same shifted by one: next-byte prediction); a seeded
permutation puts ``n_val`` windows in the validation split and the rest in training. Neighbouring
windows come from the same file, so validation measures next-byte prediction on unseen windows of
seen files, not on unseen files.

**The sorting task** (:func:`make_sort_task`): ``length`` symbols drawn from ``n_symbols``, a
separator, then the same symbols sorted; the loss is scored only on the sorted half. Emitting the
k-th smallest needs the count of smaller symbols, which one attention layer can only approximate,
so depth helps (a seeded numpy generator: the same numbers on every platform).
"""

from __future__ import annotations

import hashlib
import math
import sysconfig
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .imageset import DataError

VOCAB = 256  # bytes
IGNORE = -100  # a target position not scored (torch's cross_entropy ignore_index)
CORPUS_VERSION = "stdlib-v1"  # names this list of files: a new list is a new version
# Pure-Python modules present in CPython 3.8-3.13 (1.25 MB on 3.11.7), read in this order.
STDLIB_FILES: tuple[str, ...] = (
    "abc.py", "argparse.py", "ast.py", "base64.py", "bisect.py", "calendar.py",
    "collections/__init__.py", "colorsys.py", "contextlib.py", "copy.py", "csv.py",
    "dataclasses.py", "difflib.py", "enum.py", "fnmatch.py", "fractions.py", "functools.py",
    "gettext.py", "glob.py", "heapq.py", "inspect.py", "json/decoder.py", "json/encoder.py",
    "keyword.py", "operator.py", "pprint.py", "queue.py", "random.py", "shlex.py", "shutil.py",
    "statistics.py", "string.py", "tempfile.py", "textwrap.py", "tokenize.py", "typing.py",
    "weakref.py",
)


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


@dataclass(frozen=True)
class Corpus:
    """The bytes read, what they were read from, and their SHA-256."""

    data: bytes
    root: str
    files: tuple[str, ...]  # read, in order
    missing: tuple[str, ...]  # listed but absent on this installation
    sha256: str


@lru_cache(maxsize=4)
def read_corpus(root: str | None = None, files: tuple[str, ...] = STDLIB_FILES) -> Corpus:
    """The listed ``files`` under ``root`` (default: this Python's standard library) concatenated.
    A missing file is recorded, not fatal (a distribution may leave one out; the hash then says so);
    none found is a DataError."""
    base = Path(root) if root is not None else stdlib_root()
    parts, read, missing = [], [], []
    for name in files:
        p = base / name
        try:
            parts.append(p.read_bytes())
            read.append(name)
        except OSError:
            missing.append(name)
    if not parts:
        raise DataError(f"none of the {len(files)} corpus files was found under {str(base)[:80]}")
    data = b"".join(parts)
    return Corpus(data, str(base), tuple(read), tuple(missing), hashlib.sha256(data).hexdigest())


@dataclass
class TokenSet:
    """Token windows (N, T + 1) as int16, and which targets are scored (N, T) (None: all)."""

    tokens: torch.Tensor
    scored: torch.Tensor | None
    vocab: int
    name: str
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def context(self) -> int:
        return int(self.tokens.shape[1]) - 1

    def batch(self, idx: torch.Tensor | slice, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) as int64 on ``device``; unscored targets are :data:`IGNORE`."""
        w = self.tokens[idx].to(device=device, dtype=torch.long)
        x, y = w[:, :-1], w[:, 1:]
        if self.scored is not None:
            y = y.masked_fill(~self.scored[idx].to(device), IGNORE)
        return x, y

    def subset(self, n: int) -> "TokenSet":
        s = None if self.scored is None else self.scored[:n]
        return TokenSet(self.tokens[:n], s, self.vocab, self.name, dict(self.meta))


def windows(data: bytes, context: int) -> torch.Tensor:
    """Non-overlapping windows of ``context + 1`` bytes (the ragged tail is dropped)."""
    if context < 1:
        raise DataError(f"context must be at least 1, got {context}")
    arr = np.frombuffer(data, dtype=np.uint8)
    n = len(arr) // (context + 1)
    if n < 2:
        raise DataError(f"{len(arr)} bytes make fewer than 2 windows of {context + 1}")
    return torch.from_numpy(arr[: n * (context + 1)].astype(np.int16).reshape(n, context + 1))


def split_windows(w: torch.Tensor, n_val: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation) windows: a seeded permutation's first ``n_val`` validate."""
    if not 1 <= n_val < len(w):
        raise DataError(f"n_val must be from 1 to {len(w) - 1} (windows: {len(w)}), got {n_val}")
    perm = np.random.default_rng(seed).permutation(len(w))
    val = np.sort(perm[:n_val])
    train = np.sort(perm[n_val:])
    return w[torch.from_numpy(train)], w[torch.from_numpy(val)]


def make_sort_task(n: int, length: int, n_symbols: int, seed: int) -> TokenSet:
    """``n`` sequences ``a_1..a_L SEP sort(a)``; SEP is symbol ``n_symbols``; targets scored only
    where the next token is part of the sorted half."""
    if not (1 <= length and 2 <= n_symbols < VOCAB and n >= 1):
        raise DataError(f"sort task: length >= 1, 2 <= n_symbols < {VOCAB}, n >= 1; "
                        f"got {length}, {n_symbols}, {n}")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_symbols, size=(n, length))
    seq = np.concatenate([a, np.full((n, 1), n_symbols), np.sort(a, axis=1)], axis=1)
    scored = np.zeros((n, 2 * length), dtype=bool)
    scored[:, length:] = True  # the target at position t is token t+1: the sorted half
    return TokenSet(torch.from_numpy(seq.astype(np.int16)), torch.from_numpy(scored), VOCAB,
                    f"sort {length} of {n_symbols}", {"task": "sort"})


def _unseen(rows: torch.Tensor, held_out: torch.Tensor) -> torch.Tensor:
    """Which of ``rows`` (N, L) equal none of ``held_out`` (M, L): a short sorting task draws the
    same input twice now and then (8 of 8 symbols: 8^8 sequences), and a training copy of a
    validation sequence would score memory, not sorting."""
    seen = {bytes(r) for r in held_out.numpy().astype(np.int16)}
    return torch.tensor([bytes(r) not in seen for r in rows.numpy().astype(np.int16)], dtype=torch.bool)


def unigram_entropy(ts: TokenSet) -> float:
    """Entropy in nats of the scored targets' byte frequencies: the loss of the best model that
    ignores context."""
    y = ts.tokens[:, 1:].long()
    if ts.scored is not None:
        y = y[ts.scored]
    p = torch.bincount(y.flatten(), minlength=VOCAB).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())


def _targets(ts: TokenSet) -> torch.Tensor:
    y = ts.tokens[:, 1:].long()
    return (y[ts.scored] if ts.scored is not None else y).flatten()


def unigram_loss(fit: TokenSet, on: TokenSet) -> float:
    """Loss in nats per scored target on ``on`` of the model that predicts every next byte with the
    byte frequencies of ``fit`` (half a count added to each byte, so none has probability 0): what
    a network that learnt nothing about context scores on validation."""
    counts = torch.bincount(_targets(fit), minlength=VOCAB).double() + 0.5
    logq = (counts / counts.sum()).log()
    return float(-logq[_targets(on)].mean())


UNIFORM_LOSS = math.log(VOCAB)  # the loss of a uniform guess over the 256 bytes


@dataclass(frozen=True)
class TextRecipe:
    """How a language-model run's data are made; part of the run's identity (with the corpus hash).

    ``kind="stdlib"``: the corpus of :data:`STDLIB_FILES` in windows of ``context + 1``, ``n_val``
    of them held out by ``seed``. ``kind="sort"``: :func:`make_sort_task` with ``n_train`` +
    ``n_val`` sequences of ``length`` symbols out of ``n_symbols`` (context = 2 x length).
    """

    kind: str = "stdlib"
    context: int = 64
    n_val: int = 256
    seed: int = 0
    corpus: str = CORPUS_VERSION
    n_train: int = 0  # sort: training sequences (stdlib: every window not held out)
    length: int = 0  # sort: symbols per sequence
    n_symbols: int = 0  # sort: alphabet size

    @staticmethod
    def sort(length: int = 16, n_symbols: int = 16, n_train: int = 20_000, n_val: int = 512,
             seed: int = 0) -> "TextRecipe":
        return TextRecipe("sort", 2 * length, n_val, seed, "", n_train, length, n_symbols)

    def load(self, root: str | None = None) -> tuple[TokenSet, TokenSet]:
        """(train, validation). ``root`` reads the corpus files from elsewhere (tests)."""
        if self.kind == "sort":
            ts = make_sort_task(self.n_train + self.n_val, self.length, self.n_symbols, self.seed)
            val = TokenSet(ts.tokens[: self.n_val], ts.scored[: self.n_val], VOCAB, ts.name, ts.meta)
            keep = _unseen(ts.tokens[self.n_val:, : self.length], val.tokens[:, : self.length])
            rest = torch.arange(self.n_val, len(ts))[keep]
            tr = TokenSet(ts.tokens[rest], ts.scored[rest], VOCAB, ts.name,
                          {**ts.meta, "dropped_as_in_validation": int((~keep).sum())})
            return tr, val
        if self.kind != "stdlib" or self.corpus != CORPUS_VERSION:
            raise DataError(f"unknown text data {self.kind[:20]!r}/{self.corpus[:20]!r}; "
                            f"known: stdlib/{CORPUS_VERSION}, sort")
        c = read_corpus(root)
        tr, val = split_windows(windows(c.data, self.context), self.n_val, self.seed)
        meta = {"sha256": c.sha256, "bytes": len(c.data), "files": len(c.files),
                "missing": list(c.missing)}
        return (TokenSet(tr, None, VOCAB, "Python stdlib source (train)", meta),
                TokenSet(val, None, VOCAB, "Python stdlib source (validation)", dict(meta)))

    def identity(self, root: str | None = None) -> dict:
        """The recipe's fields, and for the corpus the SHA-256 of the bytes read (a run trained
        on another Python's files is another run)."""
        d = asdict(self)
        if self.kind == "stdlib":
            d["sha256"] = read_corpus(root).sha256
        return d

    @classmethod
    def from_identity(cls, d: dict) -> "TextRecipe":
        return cls(**{k: v for k, v in d.items() if k != "sha256"})
