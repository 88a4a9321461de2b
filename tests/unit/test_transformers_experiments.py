"""The Transformer experiments on tiny models: the init measurements against an independent
autograd computation, the lesion and the logit lens against hand-made forwards, the grid as stored
runs (loaded, not retrained, the second time; the corpus hash in their identity)."""

from __future__ import annotations

import pytest
import torch

from resnet_explain.data.text import TextRecipe
from resnet_explain.experiments import transformers as tfx
from resnet_explain.experiments import transformers_trained as tft
from resnet_explain.experiments import transformers_train as tfg
from resnet_explain.model import build_model
from resnet_explain.spec.transformer import transformer_spec
from resnet_explain.train.budgets import Budget
from resnet_explain.train.config import TrainConfig
from resnet_explain.train.runs import RunStore

SIZES = dict(width=16, heads=2, context=8)
RECIPE = TextRecipe(context=8, n_val=16)


def test_init_gradients_match_an_independent_autograd_computation():
    streams, params = tfx.init_measurements(depths=(2,), variants=("pre-LN", "post-LN"), batch=4,
                                            recipe=RECIPE, **SIZES)
    assert len(streams) == 2 * 4 and set(params["matrix"]) >= {"mlp output projection", "attn output projection"}
    x, y = tfx.corpus_batch(RECIPE, 4, 0)
    for variant, norm in (("pre-LN", "pre"), ("post-LN", "post")):
        model = build_model(transformer_spec(depth=2, norm=norm, **SIZES), seed=0)
        logits, stream = model(x, return_stream=True)
        for h in stream.values():
            h.retain_grad()
        model.loss(logits, y).backward()
        mine = streams[streams["variant"] == variant].set_index("block")
        for name, h in stream.items():
            if name != "embed":
                assert mine.loc[name, "grad_norm"] == pytest.approx(float(h.grad.norm()), rel=1e-4)
                assert mine.loc[name, "stream_norm"] == pytest.approx(float(h.detach().norm(dim=-1).mean()), rel=1e-5)
        w2 = model.layer1.mlp.body.out.weight.grad.norm()
        got = params[(params["variant"] == variant) & (params["param"] == "layer1.mlp.body.out.weight")]
        assert float(got["grad_norm"].iloc[0]) == pytest.approx(float(w2), rel=1e-4)


def test_branch_share_is_the_added_part_over_the_stream_it_reads():
    model = build_model(transformer_spec(depth=1, norm="pre", **SIZES), seed=0)
    x, _ = tfx.corpus_batch(RECIPE, 2, 0)
    _, stream = model(x, return_stream=True)
    added = stream["layer0.attn"] - stream["embed"]  # pre-LN: x + F(LN x)
    want = float((added.norm(dim=-1) / stream["embed"].norm(dim=-1)).mean())
    assert tfx.stream_stats(model, x).set_index("block").loc["layer0.attn", "branch_share"] == pytest.approx(want, rel=1e-4)


def test_first_last_reads_the_first_and_last_layers():
    _, params = tfx.init_measurements(depths=(3,), variants=("pre-LN",), batch=2, recipe=RECIPE, **SIZES)
    fl = tfx.first_last(params)
    g = params[params["matrix"] == "mlp output projection"].set_index("layer")["grad_norm"]
    assert fl["first_over_last"].iloc[0] == pytest.approx(g[0] / g[2])


@pytest.mark.parametrize("norm,skips", [("pre", True), ("post", True), ("pre", False)])
def test_lesion_of_a_layer_equals_the_model_without_it(norm, skips):
    model = build_model(transformer_spec(depth=3, norm=norm, skips=skips, **SIZES), seed=1).eval()
    _, val = RECIPE.load()
    les = tft.lesion(model, val, windows=8)
    x, y = val.batch(slice(0, 8))
    with torch.no_grad():
        h = model.layer0(model.embed(x))
        if skips:  # layer1's branches deleted, its skips kept: x -> out_act(x) (post-LN: LN(x + 0))
            h = model.layer1.mlp.out_act(model.layer1.attn.out_act(h))
        want = model.loss(model.decode(model.layer2(h)), y)  # without skips: its input passed on
    row = les[(les["unit"] == "layer") & (les["removed"] == "layer1")]
    assert float(row["val_loss"].iloc[0]) == pytest.approx(float(want), rel=1e-5)
    assert set(les["unit"]) == {"none", "layer", "sublayer"} and len(les) == 1 + 3 + 6
    assert les.loc[les["unit"] == "none", "delta"].iloc[0] == 0.0


def test_logit_lens_ends_at_the_models_own_loss():
    model = build_model(transformer_spec(depth=2, norm="pre", **SIZES), seed=0)
    _, val = RECIPE.load()
    lens = tft.logit_lens(model, val, windows=8)
    x, y = val.batch(slice(0, 8))
    with torch.no_grad():
        own = float(model.loss(model(x), y))
    assert lens["after"].tolist() == ["embed", "layer0.mlp", "layer1.mlp"]
    assert lens["val_loss"].iloc[-1] == pytest.approx(own, rel=1e-5)


def test_grid_cells_are_stored_runs_loaded_the_second_time(tmp_path):
    budget = Budget("tiny", "tiny", RECIPE, TrainConfig(epochs=1, batch_size=4, lr=1e-3, optimizer="adamw",
                                                         schedule="cosine", max_steps=3, eval_every=3,
                                                         amp="off", device="cpu"))
    cells = [tfg.Cell("pre-LN", 1e-3, 0, depth=1), tfg.Cell("post-LN", 1e-3, 2, depth=1)]
    store = RunStore(root=tmp_path)
    sizes_request = [c.request(budget, "cpu", width=16, heads=2) for c in cells]
    assert len({r.run_id for r in sizes_request}) == 2
    assert sizes_request[0].identity()["data"]["sha256"] == RECIPE.identity()["sha256"]
    tiny = dict(width=16, heads=2)
    runs = tfg.train_cells(cells, store, budget=budget, device="cpu", sizes=tiny)
    # loaded, not retrained: a stop asked before any step would raise if anything trained
    again = tfg.train_cells(cells, store, budget=budget, device="cpu", sizes=tiny, should_stop=lambda: True)
    finals, curves = tfg.grid_frames(runs)
    assert finals["run_id"].tolist() == [r.run_id for _, r in again]
    assert list(finals.columns) == tfg.FINAL_COLUMNS and (finals["steps"] == 3).all()
    assert curves.groupby("variant").size().to_dict() == {"pre-LN": 2, "post-LN": 2}  # steps 0 and 3
    assert len(tfg.grid_cells()) == 2 * 4 * 3 + 4


def test_stored_results_are_read_once_and_again_when_a_file_changes(tmp_path):
    """load_stored serves one read per process (the page asks on every visit) until a file changes."""
    import shutil

    from resnet_explain.experiments import transformers_stored as ts

    folder = tmp_path / "tf"
    shutil.copytree(ts.STORED_DIR, folder)
    first = ts.load_stored(folder)
    assert ts.load_stored(folder) is first
    finals = first.finals.copy()
    finals.loc[0, "val_loss"] = 9.0
    finals.to_csv(folder / ts.FILES["finals"], index=False)
    again = ts.load_stored(folder)
    assert again is not first and again.finals.loc[0, "val_loss"] == 9.0
