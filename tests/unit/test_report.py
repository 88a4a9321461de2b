"""report(): one self-contained HTML file (issue 26) — the probe's chart as inline SVG, its block
table, the verdict sentence from content/, a watch's charts when given; nothing fetched."""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

import resnet_explain
from resnet_explain.content.report import verdict_sentence
from resnet_explain.content.verdict import judge_blocks
from resnet_explain.report import write_report


class Res(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.lin = nn.Linear(d, d)
        self.act = nn.Tanh()

    def forward(self, x):
        return x + self.act(self.lin(x))


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 6), Res(6), Res(6), Res(6), nn.Linear(6, 2))


def test_report_is_one_self_contained_file(tmp_path):
    model = _net()
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    path = resnet_explain.report(model, x, y, tmp_path / "r.html", blocks=Res)
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert "<script" not in page and not re.search(r"(src|href)=['\"]https?:", page)
    assert page.count("<tr") == 1 + 3  # the header and one row per block
    res = resnet_explain.probe(model, x, y, blocks=Res)
    want = verdict_sentence(judge_blocks(res.blocks).markdown, 3).replace("**", "")
    assert want in re.sub(r"</?b>", "", page)


def test_a_watch_adds_its_charts(tmp_path):
    model = _net()
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with resnet_explain.watch(model, every=1, blocks=Res) as w:
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    res = resnet_explain.probe(model, x, y, blocks=Res)
    page = write_report(res, tmp_path / "w.html", watch=w, title="Mine <3").read_text()
    assert page.count("<svg") == 2 and "<title>Mine &lt;3</title>" in page


def test_verdict_sentence_golden():
    assert verdict_sentence("grows **2.1-fold** toward the input", 8) == \
        "Over 8 blocks, the gradient grows **2.1-fold** toward the input."
