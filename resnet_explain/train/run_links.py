"""What a shared link carries to find a run again, or to train it again on another server.

A run id (16 hex digits of a hash of the run's inputs, :attr:`RunRequest.run_id`) names a run.
Whoever holds the id may open the run on a server that has it, as whoever holds an unlisted
video's address may watch it: ids are never *listed* to other visitors, and 64 bits of a hash are
not guessed. A server that does not have the run (another machine; a cache that evicted it)
cannot rebuild the inputs from the hash, so a link also carries the network, the seed and the
budget's name: the same three give the same id, so "train it here" makes exactly the linked run
(on a host of the same kind: the id includes the precision this host trains in).

Nothing here reads a path from the link: an id is 16 hex digits or nothing
(:func:`~resnet_explain.train.runs.valid_run_id`), a network goes through ``NetSpec.from_query``,
a budget is a key of the host's named budgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..errors import UserError
from ..spec import NetSpec
from .budgets import Budget
from .runs import Run, RunRequest, RunStore, valid_run_id

URL_RUN, URL_NET, URL_SEED, URL_BUDGET = "run", "run_net", "run_seed", "run_budget"
LINK_KEYS = (URL_RUN, URL_NET, URL_SEED, URL_BUDGET)


def budget_name(run: Run, budgets: Mapping[str, Budget]) -> str | None:
    """The named budget whose request for the run's network and seed *is* this run (the Train
    page's and the CLI's ``train --budget``), else None (e.g. ``--epochs`` changed it)."""
    for name, b in budgets.items():
        try:
            req = b.request(run.spec, run.request.config.seed)
        except UserError:  # the network cannot take this budget's images
            continue
        if run.run_id in (req.run_id, req.twin().run_id):
            return name
    return None


def link_params(run: Run, budgets: Mapping[str, Budget]) -> dict[str, str]:
    """The query keys a link to ``run`` carries: its id, and (when a named budget made it) the
    network, seed and budget that train it again elsewhere. A shipped run needs its id only."""
    out = {URL_RUN: run.run_id}
    name = None if run.shipped else budget_name(run, budgets)
    if name is not None:
        out.update({URL_NET: run.request.spec, URL_SEED: str(run.request.config.seed), URL_BUDGET: name})
    return out


def linked_pair(run_id: str, store: RunStore) -> tuple[str, str] | None:
    """(the linked run, its twin) when this server has both, else None."""
    if not (valid_run_id(run_id) and store.has(run_id)):
        return None
    twin_id = store.get(run_id).request.twin().run_id
    return (run_id, twin_id) if store.has(twin_id) else None


@dataclass(frozen=True)
class Retrain:
    """What the link says to train again: the network (your network's side of the pair), the
    seed, the budget's name, and whether those inputs give the link's id on this host."""

    request: RunRequest
    budget: str
    same_id: bool
    budget_label: str = ""  # the Train page's budget radio is bound to the URL by its label

    @property
    def seed(self) -> int:
        return int(self.request.config.seed)

    def train_page_params(self) -> dict[str, str]:
        """The Train Your Network page's query keys for this pair: network, seed, budget."""
        return {**self.request.netspec.to_params(), "seed": str(self.seed),
                "yn_budget": self.budget_label or self.budget}


def retrain(params: Mapping[str, str], budgets: Mapping[str, Budget]) -> Retrain | None:
    """The run a link names, rebuilt from the link's network, seed and budget; None when the link
    carries no recipe or an unreadable one (a bad network, seed or budget name)."""
    net, seed, name = (params.get(k) for k in (URL_NET, URL_SEED, URL_BUDGET))
    if not (net and seed and name in budgets and str(seed).isdigit() and len(str(seed)) <= 10):
        return None
    try:
        req = budgets[name].request(NetSpec.from_query(str(net)), int(seed))
    except UserError:  # SpecError, RunError: the link's network is not one this app builds
        return None
    wanted = params.get(URL_RUN)
    return Retrain(req, name, wanted in (req.run_id, req.twin().run_id), budgets[name].label)
