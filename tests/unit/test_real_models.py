"""Block selection on any model (type, name pattern, depth, predicate; a clear error when nothing
matches) and torchvision's real architectures at initialisation: the probe finds the expected
blocks, its numbers equal an independent torch.autograd computation on torchvision's ResNet-18
(in-place ReLU and ``out += identity`` included), the input sizes keep BatchNorm honest, memory
is estimated before allocating, and the CLI prints it all as JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_explain import cli
from resnet_explain.block_select import NoBlocksFound, glob_regex, select_blocks
from resnet_explain.errors import UserError
from resnet_explain.experiments import real_models as R
from resnet_explain.model import Block, build_model, make_batch
from resnet_explain.probe import probe
from resnet_explain.spec import cifar_resnet

tv = R.import_torchvision()
RTOL = 1e-5

# What the probe must find in each registered model (torchvision's block modules, counted from
# the architectures: ResNet-18 2+2+2+2 basic blocks, the 50-layer ResNets 3+4+6+3 bottlenecks,
# VGG-11's 8 conv + 2 hidden FC layers and VGG-16's 13 + 2, DenseNet-121's 6+12+24+16 dense
# layers, ConvNeXt-T's 3+3+9+3 blocks, ViT-B/16's 12 encoder blocks).
EXPECTED_BLOCKS = {"resnet18": 8, "resnet50": 16, "resnext50_32x4d": 16, "wide_resnet50_2": 16,
                   "vgg11": 10, "vgg11_bn": 10, "vgg16": 15, "vgg16_bn": 15, "densenet121": 58,
                   "convnext_tiny": 18, "vit_b_16": 12}


def test_registry_covers_the_issue_list():
    assert set(EXPECTED_BLOCKS) == set(R.REAL_MODELS)
    for m in R.REAL_MODELS.values():
        assert "arXiv" in m.about and m.connection in ("sum", "concat", "none")


@pytest.mark.parametrize("name", sorted(EXPECTED_BLOCKS))
def test_probe_finds_the_expected_blocks(name):
    model = R.build(name, device="meta")  # shapes only: no memory, no init cost
    blocks = select_blocks(model, R.block_types(R.REAL_MODELS[name]))
    assert len(blocks) == EXPECTED_BLOCKS[name]
    assert len({n for n, _ in blocks}) == len(blocks)


def _bn_inputs(name: str, size: int) -> list[tuple[int, int]]:
    """(H, W) that every train-mode BatchNorm2d sees at input ``size`` (on the meta device)."""
    model = R.build(name, device="meta").train()
    seen = []
    hooks = [m.register_forward_pre_hook(lambda _m, a: seen.append(tuple(a[0].shape[-2:])))
             for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.device("meta"):
        model(torch.empty(2, 3, size, size))
    for h in hooks:
        h.remove()
    return seen


@pytest.mark.parametrize("name", sorted(EXPECTED_BLOCKS))
def test_input_size_is_the_smallest_that_keeps_batchnorm_honest(name):
    size = R.REAL_MODELS[name].size
    seen = _bn_inputs(name, size)
    if name == "vit_b_16":
        assert size == 224 and not seen
    elif not seen:  # no BatchNorm: the smallest input the architecture takes
        assert size == 32
    else:
        assert min(h * w for h, w in seen) >= 4  # at least a 2x2 map at every BatchNorm
        assert size == 32 or min(h * w for h, w in _bn_inputs(name, size - 32)) == 1


def test_memory_estimate_counts_weights_grads_and_saved_tensors():
    params = sum(p.numel() for p in R.build("resnet18", device="meta").parameters())
    two, four = R.estimate_memory("resnet18", 2), R.estimate_memory("resnet18", 4)
    assert two > 8 * params  # float32 weights and their gradients, plus activations
    assert four - 8 * params > 1.8 * (two - 8 * params)  # activations scale with the batch
    for name in R.REAL_MODELS:  # every model fits the page's budget at the smallest batch
        assert R.estimate_memory(name, 2) < 2 * 2**30, name


def test_over_budget_is_refused_before_building():
    with pytest.raises(UserError, match="MiB"):
        R.probe_real("resnet18", batch=2, max_memory_bytes=2**20)
    with pytest.raises(UserError, match="unknown torchvision model"):
        R.probe_real("resnet1800")
    with pytest.raises(UserError, match="batch"):
        R.probe_real("resnet18", batch=1)


def _manual_block_grads(model, x, y):
    """ResNet forward written out block by block (no hooks): the loss and dL/d(block output)."""
    h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    outs = []
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for blk in layer:
            h = blk(h)
            outs.append(h)
    loss = F.cross_entropy(model.fc(torch.flatten(model.avgpool(h), 1)), y)
    return loss, torch.autograd.grad(loss, outs)


def test_probe_equals_autograd_on_torchvision_resnet18():
    """torchvision's BasicBlock reuses one in-place ReLU and adds in place; the probe's numbers
    must still be the gradient at each block's output."""
    model = R.build("resnet18", seed=3)
    x, y = R.make_input("resnet18", 2, seed=3)
    ref = R.build("resnet18", seed=3)  # same weights, its own BatchNorm running statistics
    loss, grads = _manual_block_grads(ref.train(), x, y)
    res = probe(model, x, y, blocks=tv.models.resnet.BasicBlock)
    assert list(res.blocks["block"]) == [f"layer{i}.{j}" for i in range(1, 5) for j in (0, 1)]
    want = np.array([g.norm().item() for g in grads])
    np.testing.assert_allclose(res.blocks["grad_norm"].to_numpy(), want, rtol=RTOL)
    assert res.meta["loss"] == pytest.approx(loss.item(), rel=1e-6)
    assert res.ratio == pytest.approx(want[0] / want[-1], rel=RTOL)


def test_probe_real_matches_probe_and_reports_the_setup():
    res = R.probe_real("resnet18", batch=2, seed=0)
    again = R.probe_real("resnet18", batch=2, seed=0)
    np.testing.assert_array_equal(res.blocks["grad_norm"], again.blocks["grad_norm"])  # seeded
    m = res.meta
    assert (m["model"], m["input_size"], m["n_blocks"], m["block_types"]) == \
        ("resnet18", 64, 8, ["BasicBlock"])
    assert m["n_params"] == sum(p.numel() for p in R.build("resnet18").parameters())
    assert list(res.blocks["stage"].unique()) == ["layer1", "layer2", "layer3", "layer4"]
    assert res.blocks["skip"].all() and (res.blocks["grad_norm"] > 0).all()
    other = R.probe_real("resnet18", batch=2, seed=1)
    assert not np.allclose(other.blocks["grad_norm"], res.blocks["grad_norm"])


def test_build_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    R.build("resnet18", seed=0)
    assert torch.equal(torch.rand(3), want)


# --- selection on any model ------------------------------------------------------------------

@pytest.fixture(scope="module")
def resnet18_meta():
    return R.build("resnet18", device="meta")


RESNET18_BLOCKS = [f"layer{i}.{j}" for i in range(1, 5) for j in (0, 1)]


def _names(blocks):
    return [n for n, _ in blocks]


def test_select_by_type_pattern_depth_and_predicate(resnet18_meta):
    m = resnet18_meta
    assert _names(select_blocks(m, tv.models.resnet.BasicBlock)) == RESNET18_BLOCKS
    assert _names(select_blocks(m, "layer*.*")) == RESNET18_BLOCKS  # * stays in one dotted part
    assert _names(select_blocks(m, r"re:layer[12]\.\d")) == RESNET18_BLOCKS[:4]
    assert _names(select_blocks(m, 2)) == RESNET18_BLOCKS  # the children's children
    assert _names(select_blocks(m, 1)) == [n for n, _ in m.named_children()]
    assert _names(select_blocks(m, lambda n, mod: n.count(".") == 1 and n.endswith(".1"))) \
        == RESNET18_BLOCKS[1::2]
    both = select_blocks(m, (nn.Linear, nn.MaxPool2d))
    assert _names(both) == ["maxpool", "fc"]
    assert len(select_blocks(m, "layer1.**")) == len([n for n, _ in m.named_modules()
                                                      if n.startswith("layer1.")])
    given = [("fc", m.fc)]
    assert select_blocks(m, given) is given


def test_glob_is_dot_aware():
    rx = glob_regex("features.[0-3]")
    assert rx.fullmatch("features.2") and not rx.fullmatch("features.5")
    assert not glob_regex("layer*").fullmatch("layer1.0")
    assert glob_regex("layer**").fullmatch("layer1.0.conv1")
    assert not glob_regex("features.[!0-3]").fullmatch("features.2")


def test_none_is_find_blocks_for_our_models():
    spec = cifar_resnet(8, width=4, in_size=8)
    model = build_model(spec, seed=0)
    x, y = make_batch(spec, batch=4, seed=0)
    default = probe(model, x, y)
    by_type = probe(model, x, y, blocks=Block)
    assert list(default.blocks["block"]) == list(by_type.blocks["block"]) == \
        [n for n, _ in model.named_blocks()]
    np.testing.assert_allclose(default.blocks["grad_norm"], by_type.blocks["grad_norm"], rtol=1e-6)


@pytest.mark.parametrize("by, tried", [
    (nn.LSTM, "no modules of type LSTM"),
    ((nn.LSTM, nn.GRU), "no modules of type LSTM or GRU"),
    ("block*", "no names matching the glob 'block*'"),
    ("re:stage\\d", "no names matching the regular expression 'stage\\\\d'"),
    (7, "no modules at nesting depth 7"),
    (lambda n, m: False, "for which <lambda>(name, module) is true"),
])
def test_nothing_matches_says_what_was_tried_and_what_is_there(resnet18_meta, by, tried):
    with pytest.raises(NoBlocksFound) as err:
        select_blocks(resnet18_meta, by)
    msg = str(err.value)
    assert isinstance(err.value, UserError)
    assert tried in msg and "no blocks in ResNet" in msg
    assert "names: conv1, bn1, relu" in msg and "BasicBlock ×8" in msg and "Conv2d ×20" in msg


@pytest.mark.parametrize("by, match", [(0, "depth must be 1 or more"), ("", "must not be empty"),
                                       ("re:(", "cannot read the block name pattern"),
                                       (2.5, "cannot select blocks by float")])
def test_bad_selections_are_user_errors(resnet18_meta, by, match):
    with pytest.raises(UserError, match=match):
        select_blocks(resnet18_meta, by)


def test_probe_raises_the_selection_error():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(NoBlocksFound, match="types: Linear ×2, ReLU ×1"):
        probe(model, torch.randn(2, 3), torch.tensor([0, 1]), blocks=nn.Conv2d)


def test_probe_at_in_place_relu_boundaries_equals_autograd():
    """Blocks at in-place ReLU modules (as in torchvision's VGG): the hook must see the gradient
    of the activation's output."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(inplace=True), nn.Linear(6, 6),
                          nn.ReLU(inplace=True), nn.Linear(6, 3))
    x, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 0])
    res = probe(model, x, y, blocks=nn.ReLU)
    h1 = torch.relu(model[0](x))
    h2 = torch.relu(model[2](h1))
    grads = torch.autograd.grad(F.cross_entropy(model[4](h2), y), (h1, h2))
    np.testing.assert_allclose(res.blocks["grad_norm"], [g.norm().item() for g in grads], rtol=RTOL)


# --- the CLI ---------------------------------------------------------------------------------

def test_cli_probe_torchvision_json(capsys):
    assert cli.main(["probe", "--torchvision", "resnet18", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    blocks, meta = out["blocks"], out["meta"]
    assert [b["name"] for b in blocks] == RESNET18_BLOCKS
    assert all(b["kind"] == "BasicBlock" and b["skip"] and b["grad_norm"] > 0 for b in blocks)
    assert meta["model"] == "resnet18" and meta["input_size"] == 64 and meta["batch"] == 2
    assert meta["weights"].startswith("none")
    assert meta["ratio_first_last"] == pytest.approx(blocks[0]["grad_norm"] / blocks[-1]["grad_norm"])
    assert meta["log10_ratio_first_last"] == pytest.approx(math.log10(meta["ratio_first_last"]))
    direct = R.probe_real("resnet18", batch=2, seed=0)
    np.testing.assert_allclose([b["grad_norm"] for b in blocks], direct.blocks["grad_norm"], rtol=1e-6)


def test_cli_lists_torchvision_models(capsys):
    assert cli.main(["probe", "--list-torchvision", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["torchvision"]
    assert [r["name"] for r in rows] == list(R.REAL_MODELS)
    assert {r["name"]: r["input_size"] for r in rows}["vit_b_16"] == 224


@pytest.mark.parametrize("args, said", [
    (["--torchvision", "resnet1800"], "unknown torchvision model 'resnet1800'"),
    (["--torchvision", "resnet18", "--preset", "plain20"], "does not take"),
    (["--torchvision", "resnet18", "--dtype", "float64"], "float32 only"),
])
def test_cli_torchvision_errors_exit_2(capsys, args, said):
    assert cli.main(["probe", *args]) == 2
    assert said in capsys.readouterr().err


# --- every other block family, really run (each a few seconds on 2 cores) -------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "vgg11_bn", "densenet121", "convnext_tiny", "vit_b_16"])
def test_real_model_probes_finite_nonzero(name):
    res = R.probe_real(name, batch=2, seed=0)
    g = res.blocks["grad_norm"].to_numpy()
    assert len(g) == EXPECTED_BLOCKS[name] and np.isfinite(g).all() and (g > 0).all()
    assert math.isfinite(res.ratio) and res.ratio > 0


def test_vit_head_is_not_left_at_zero():
    """torchvision zero-initialises ViT's head (so no gradient would reach any block); ours gets
    the pre_logits init, and the note says so."""
    assert torch.count_nonzero(tv.models.vit_b_16(weights=None).heads.head.weight) == 0
    head = R.build("vit_b_16").heads.head.weight
    assert torch.count_nonzero(head) == head.numel()
    assert head.std().item() == pytest.approx(math.sqrt(1 / 768), rel=0.15)  # trunc. normal
    assert "zero" in R.REAL_MODELS["vit_b_16"].note


def test_chart_keeps_every_block_with_short_unique_labels():
    from resnet_explain.charts.real_models import real_chart, real_long, short_names

    assert short_names(["features.denseblock1.denselayer1", "features.denseblock4.denselayer16"]) \
        == ["denseblock1.denselayer1", "denseblock4.denselayer16"]
    assert short_names(["features.1.0", "features.7.2"]) == ["features.1.0", "features.7.2"]
    blocks = R.probe_real("resnet18", batch=2, seed=0).blocks
    blocks.loc[3, ["grad_norm", "log10_grad_norm", "underflow"]] = [0.0, float("nan"), True]
    long = real_long(blocks)
    assert len(long) == 8 and long["label"].is_unique
    assert list(long["status"]).count("0 in float32 (underflow)") == 1  # kept, drawn at the floor
    assert long["y"].iloc[3] < long["log10_grad_norm"].drop(3).min()
    spec = real_chart(long).to_dict()
    assert len(spec["layer"]) == 4  # line, points, the ▼ marker and its label
