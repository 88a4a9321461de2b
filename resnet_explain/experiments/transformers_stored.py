"""The Transformers page's stored results (assets/transformers/, made by
scripts/make_transformers.py): read them, say whether this machine's corpus is the one they used."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data.text import read_corpus
from ..stored_assets import assets_dir

STORED_DIR = assets_dir("transformers")
FILES = {"streams": "init_streams.csv", "params": "init_params.csv", "finals": "grid_finals.csv",
         "curves": "grid_curves.csv", "lesion": "lesion.csv", "lens": "lens.csv",
         "seeds": "grid_seeds.csv", "seeds_curves": "grid_seeds_curves.csv", "sort": "sort_finals.csv",
         "sort_curves": "sort_curves.csv", "sort_baselines": "sort_baselines.csv"}


@dataclass
class Stored:
    """Each table (empty when not stored) and meta.json."""

    streams: pd.DataFrame
    params: pd.DataFrame
    finals: pd.DataFrame
    curves: pd.DataFrame
    lesion: pd.DataFrame
    lens: pd.DataFrame
    seeds: pd.DataFrame = field(default_factory=pd.DataFrame)  # post-LN at lr 1e-3, seeds 1 and 2
    seeds_curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    sort: pd.DataFrame = field(default_factory=pd.DataFrame)  # the sorting task, one row per network
    sort_curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    sort_baselines: pd.DataFrame = field(default_factory=pd.DataFrame)
    meta: dict = field(default_factory=dict)

    @property
    def same_corpus(self) -> bool:
        """True when this Python's corpus files hash to the stored results' (else a live run here
        trains on other bytes than the stored ones did)."""
        try:
            return read_corpus().sha256 == self.meta.get("corpus_sha256")
        except ValueError:
            return False


def load_stored(folder: Path | None = None) -> Stored:
    """The stored results in ``folder`` (default: the shipped ones), read once per process while
    their files are unchanged (the Transformers page reads them on every visit). Read-only: the
    tables are shared by every caller."""
    folder = Path(folder) if folder is not None else STORED_DIR
    return _load(folder, _stamp(folder))


def _stamp(folder: Path) -> tuple:
    """Each file's modification time and size: a file written again is read again."""
    out = []
    for name in [*FILES.values(), "meta.json"]:
        try:
            st = (folder / name).stat()
            out.append((name, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((name, None, None))
    return tuple(out)


@functools.lru_cache(maxsize=8)
def _load(folder: Path, stamp: tuple) -> Stored:
    tables = {}
    for key, name in FILES.items():
        p = folder / name
        tables[key] = pd.read_csv(p) if p.is_file() else pd.DataFrame()
    meta_p = folder / "meta.json"
    meta = json.loads(meta_p.read_text()) if meta_p.is_file() else {}
    return Stored(meta=meta, **tables)
