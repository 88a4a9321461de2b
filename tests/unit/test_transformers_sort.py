"""The sorting experiment: its data (targets are the sorted inputs, seeded, no sequence in both
splits), the accuracy against hand counts and against greedy decoding, the baselines against hand
counts, a tiny end-to-end run, and the stored results' shape (ids recomputed by this code)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from resnet_explain.data.text import IGNORE, VOCAB, TextRecipe, TokenSet
from resnet_explain.experiments import transformers_sort as tfs
from resnet_explain.experiments import transformers_train as tfg
from resnet_explain.experiments.transformers_stored import load_stored
from resnet_explain.train.runs import RunStore


def test_targets_are_the_sorted_inputs_and_only_they_are_scored():
    tr, val = tfs.SORT_DATA.load()
    n, L = tfs.SORT_DATA.n_symbols, tfs.SORT_DATA.length
    for ts in (tr, val):
        t = ts.tokens.long()
        assert torch.equal(t[:, L + 1:], t[:, :L].sort(dim=1).values)
        assert (t[:, L] == n).all() and int(t[:, :L].max()) < n
        x, y = ts.batch(slice(0, 64))
        assert torch.equal(y[:, L:], t[:64, L + 1:]) and (y[:, :L] == IGNORE).all()
        assert torch.equal(x, t[:64, :-1])
    assert len(val) == 512 and len(tr) == 20_000 - tr.meta["dropped_as_in_validation"]


def test_the_task_is_seeded():
    a, _ = TextRecipe.sort(length=5, n_symbols=4, n_train=50, n_val=10, seed=3).load()
    b, _ = TextRecipe.sort(length=5, n_symbols=4, n_train=50, n_val=10, seed=3).load()
    c, _ = TextRecipe.sort(length=5, n_symbols=4, n_train=50, n_val=10, seed=4).load()
    assert torch.equal(a.tokens, b.tokens) and not torch.equal(a.tokens, c.tokens)


@pytest.mark.parametrize("recipe", [tfs.SORT_DATA,
                                    TextRecipe.sort(length=2, n_symbols=3, n_train=200, n_val=4, seed=0)])
def test_no_held_out_sequence_is_trained_on(recipe):
    tr, val = recipe.load()
    L = recipe.length
    held = {tuple(r) for r in val.tokens[:, :L].tolist()}
    assert not any(tuple(r) in held for r in tr.tokens[:, :L].tolist())
    if recipe.n_symbols ** L < recipe.n_train:  # 9 possible inputs: copies must have been dropped
        assert tr.meta["dropped_as_in_validation"] > 0 and len(tr) < recipe.n_train


def test_score_counts_by_hand():
    I = IGNORE
    targets = torch.tensor([[I, I, 1, 2], [I, I, 3, 3], [I, I, 0, 5], [I, I, I, I]])
    pred = torch.tensor([[9, 9, 1, 2], [0, 0, 3, 4], [1, 1, 2, 2], [5, 5, 5, 5]])
    # right: row 0 both, row 1 one, row 2 none; scored 6; exact: row 0 only; rows with a target: 3
    assert tfs.score(pred, targets) == (3, 6, 1, 3)


class RuleSorter(nn.Module):
    """Emits the smallest input symbol not yet used up by the prefix, except that it writes 7 after
    a prefix holding two 3s: a prefix-dependent model with known mistakes."""

    def __init__(self, length: int, n_symbols: int):
        super().__init__()
        self.L, self.n = length, n_symbols

    def forward(self, x):
        out = torch.full((*x.shape, VOCAB), -1.0)
        for b in range(x.shape[0]):
            for t in range(self.L, x.shape[1]):
                prefix = x[b, self.L + 1:t + 1].tolist()
                left = x[b, :self.L].tolist()
                for s in prefix:
                    if s in left:
                        left.remove(s)
                nxt = 7 if prefix.count(3) >= 2 else (min(left) if left else 0)
                out[b, t, nxt] = 1.0
        return out


def test_exact_accuracy_is_greedy_decodings_success():
    recipe = TextRecipe.sort(length=6, n_symbols=5, n_train=10, n_val=120, seed=1)
    _, val = recipe.load()
    model = RuleSorter(6, 5)
    acc = tfs.sort_accuracy(model, val, batch=50)
    out = tfs.greedy_sort(model, val.tokens[:, :6].long(), sep=5)
    greedy = (out == val.tokens[:, 7:].long()).all(dim=1).float().mean()
    twos = (val.tokens[:, 7:12] == 3).sum(dim=1) >= 2  # two 3s in a prefix it still predicts after
    assert 0 < acc["exact_acc"] < 1
    assert acc["exact_acc"] == pytest.approx(float(greedy)) == pytest.approx(1 - float(twos.float().mean()))
    assert acc["token_acc"] > acc["exact_acc"]


def _tokens(rows) -> TokenSet:
    t = torch.tensor(rows, dtype=torch.int16)
    scored = torch.zeros(len(rows), 4, dtype=torch.bool)
    scored[:, 2:] = True
    return TokenSet(t, scored, VOCAB, "hand")


def test_baselines_by_hand():
    # length 2 of 3 symbols, SEP = 3; training sorted halves: (0,1) (0,2) (0,1) (1,2) (1,1)
    train = _tokens([[1, 0, 3, 0, 1], [2, 0, 3, 0, 2], [0, 1, 3, 0, 1], [2, 1, 3, 1, 2], [1, 1, 3, 1, 1]])
    val = _tokens([[0, 2, 3, 0, 2], [1, 1, 3, 1, 1]])
    b = tfs.baselines(train, val, 3).set_index("baseline")
    assert b.loc["chance", "token_acc"] == pytest.approx(1 / 3)
    assert b.loc["chance", "exact_acc"] == pytest.approx(1 / 9)
    # position only: first 0 (3 of 5), second 1 (3 of 5, against 2 for 2) -> val: (0,1) vs (0,2), (1,1)
    assert b.loc["position only", "token_acc"] == pytest.approx(2 / 4)
    assert b.loc["position only", "exact_acc"] == 0
    # + previous token: first after SEP: 0; after 0: 1 (2 of 3); after 1: 1 (tie 1:1 with 2 -> smallest)
    assert b.loc["position + previous token", "token_acc"] == pytest.approx(2 / 4)
    assert b.loc["position + previous token", "exact_acc"] == 0


def test_a_tiny_run_gives_one_row_per_network(tmp_path):
    tiny = replace(tfs.SORT_BUDGET, config=replace(tfs.SORT_CONFIG, max_steps=2, eval_every=1, warmup_steps=1))
    cells = tfs.sort_cells(depths=(1,), variants=("pre-LN", "no skips"))
    runs = tfs.train_sort(cells, RunStore(root=tmp_path), device="cpu", budget=tiny,
                          sizes={"width": 16, "heads": 2})
    _, val = tfs.SORT_DATA.load()
    finals, curves = tfs.sort_frames(runs, val.subset(40))
    assert list(finals.columns) == tfs.SORT_COLUMNS and len(finals) == 2
    assert finals[["token_acc", "exact_acc"]].stack().between(0, 1).all()
    assert set(curves["step"]) == {0, 1, 2}


def test_stored_sort_results_have_their_shape_and_are_this_code_s_runs():
    s = load_stored()
    if not len(s.sort):
        pytest.skip("no stored sorting results")
    assert list(s.sort.columns) == tfs.SORT_COLUMNS
    planned = {(c.variant, c.depth) for c in tfs.sort_cells()}
    later = {(c.variant, c.depth) for c in tfs.sort_cells(tfs.FOLLOW_UP_DEPTHS)}
    have = set(zip(s.sort["variant"], s.sort["depth"]))
    assert planned <= have <= planned | later and len(s.sort) == len(have)
    assert (s.sort["planned"] == s.sort["depth"].isin(tfs.SORT_DEPTHS)).all()
    assert s.sort[["token_acc", "exact_acc"]].stack().between(0, 1).all()
    for r in s.sort.itertuples():
        cell = tfg.Cell(r.variant, r.lr, r.warmup_steps, r.depth, r.seed)
        assert cell.request(tfs.SORT_BUDGET, "cpu").run_id == r.run_id
    assert set(s.sort_curves["step"]) == set(range(0, tfs.SORT_CONFIG.max_steps + 1, 100))
    assert list(s.sort_baselines["baseline"]) == ["chance", "position only", "position + previous token"]


def test_stored_seeds_are_post_ln_at_lr_1e3_with_seeds_1_and_2():
    s = load_stored()
    if not len(s.seeds):
        pytest.skip("no stored seeds")
    assert set(s.seeds["variant"]) == {"post-LN"} and np.allclose(s.seeds["lr"], 1e-3)
    assert set(zip(s.seeds["warmup_steps"], s.seeds["seed"])) == {(w, k) for w in (0, 15, 60) for k in (1, 2)}
    if s.same_corpus:
        for r in s.seeds.itertuples():
            assert tfg.Cell(r.variant, r.lr, r.warmup_steps, r.depth, r.seed).request(device="cpu").run_id == r.run_id
    assert isinstance(s.seeds_curves, pd.DataFrame) and len(s.seeds_curves) == 7 * len(s.seeds)
