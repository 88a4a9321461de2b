"""Pick a pair of runs to study: a network and its twin (every skip toggled).

The pairs offered are the shipped twins (by depth) and the pairs trained in THIS browser session.
The session contract: a page that trains the visitor's network and its twin calls
:func:`remember_pair` with both run ids; the picker then lists that pair as
"your network: residual-20 (1fb939) vs its twin". The run store is shared by every visitor of a
Space (one process), the list of pairs is not: another visitor's runs are never *listed*. A
``?run=<id>`` link is a capability (:mod:`resnet_explain.train.run_links`): when this server has
that run and its twin, the pair opens for whoever holds the link and joins their session's list;
when it has not, a warning says so, offers to train it here from the network, seed and budget the
link carries, and the shipped twins are shown meanwhile.

The pair comes back plain first, residual second, the order of the charts' colours (plain red,
residual blue). Models are read once per process per run id, read-only (:func:`shared_model`),
and each computation runs on its own copy (:func:`private_model`): Captum and the lesion study
hook the model they work on.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from urllib.parse import urlencode

from ..content.story import STEPS
from ..errors import UserError
from ..train import run_links, shipped
from ..train.budgets import host_budgets
from ..train.runs import Run, RunError, RunStore, valid_run_id

SESSION_KEY = "run_pairs"  # st.session_state[SESSION_KEY]: [(yours_id, twin_id), ...], oldest first
URL_KEY = run_links.URL_RUN
TRAIN_PATH = next(s.url_path for s in STEPS if s.file == "app_pages/your_network.py")  # relative link
LESION_PATH = next(s.url_path for s in STEPS if s.file == "app_pages/lesion.py")  # takes both families


def remember_pair(yours_id: str, twin_id: str) -> None:
    """Offer the pair (the visitor's network, its twin) to the pickers of this session."""
    pair = (str(yours_id), str(twin_id))
    pairs = [tuple(p) for p in st.session_state.get(SESSION_KEY, []) if tuple(p) != pair]
    st.session_state[SESSION_KEY] = pairs + [pair]


# ---------------------------------------------------------------------------------------------
# Pure parts (tested without a browser)
# ---------------------------------------------------------------------------------------------
def run_variant(run: Run) -> str:
    """"residual" when any block has a skip, else "plain" (of a pair, exactly one has skips)."""
    return run.spec.arch


def plain_first(a: Run, b: Run) -> tuple[Run, Run]:
    """The pair in the charts' order: plain, then residual (as given when both are one kind)."""
    return (b, a) if run_variant(a) == "residual" and run_variant(b) == "plain" else (a, b)


def run_title(run: Run) -> str:
    """"Plain-20" for a shipped twin; "Residual-8 (1fb939)" for a session's run."""
    t = f"{run_variant(run).capitalize()}-{run.spec.depth}"
    return t if run.shipped else f"{t} ({run.run_id[:6]})"


def pair_label(yours: Run) -> str:
    return f"your network: {run_variant(yours)}-{yours.spec.depth} ({yours.run_id[:6]}) vs its twin"


def describe_run(run: Run) -> str:
    """One caption line: which run, its data recipe, its budget, where it ran, its errors."""
    d, c, m = run.request.data, run.request.config, run.meta
    errs = ", ".join(f"{k.replace('_', ' ')} {m[k]:.1%}" for k in ("train_error", "test_error")
                     if isinstance(m.get(k), (int, float)))
    secs = f" in {m['seconds']:.0f} s" if isinstance(m.get("seconds"), (int, float)) else ""
    where = f" on {m['device']}{secs}" if m.get("device") else secs
    return (f"**{run.name}** (run `{run.run_id}`, {'shipped' if run.shipped else 'trained here'}): "
            f"{d.n_train:,} training and {d.n_test:,} test images of the generated {d.kind}, "
            f"{d.size}×{d.size}, difficulty {d.difficulty:g}, data seed {d.seed}; {c.epochs} epochs, "
            f"batch {c.batch_size}, lr {c.lr:g}, seed {c.seed}{where}"
            + (f"; {errs}." if errs else "."))


@dataclass(frozen=True)
class Choice:
    key: int | str  # a shipped depth, or the session pair's first run id
    label: str
    ids: tuple[str, str]  # (yours, twin) or (plain, residual): ordered later by plain_first


def choices(session_pairs, store: RunStore, family: str = "cnn") -> list[Choice]:
    """This session's pairs of the ``family`` (newest first; pairs whose runs were evicted are
    left out), then, for image networks, the shipped twins by depth."""
    out = []
    for yours, twin in reversed([tuple(p) for p in session_pairs]):
        if store.has(yours) and store.has(twin) and yours not in {c.key for c in out}:
            run = store.get(yours)
            if run.spec.family == family:  # a Transformer pair goes to its own picker (Lesion Study)
                out.append(Choice(yours, pair_label(run), (yours, twin)))
    if family != "cnn":
        return out
    for depth, names in sorted(shipped.pairs().items()):
        out.append(Choice(depth, f"shipped twins, depth {depth}",
                          tuple(shipped.run(n).run_id for n in names)))
    return out


def choice_for(url_id: str | None, options: list[Choice]) -> Choice | None:
    """The offered pair a ``?run=<id>`` link names (either run of it), else None."""
    return next((c for c in options if url_id and url_id in c.ids), None)


# ---------------------------------------------------------------------------------------------
# The widget and the per-process caches
# ---------------------------------------------------------------------------------------------
def pick_pair(key: str, label: str = "Twins") -> tuple[Run, Run]:
    """A selectbox of the pairs this session may study; returns (plain run, residual run).
    The widget's value is a shipped depth (int) or a session pair's run id (str)."""
    store = RunStore()
    url, missing_key = st.query_params.get(URL_KEY), f"_{key}_link_missing"
    options = choices(st.session_state.get(SESSION_KEY, []), store)
    first_visit = url and key not in st.session_state
    if first_visit and not choice_for(url, options) and (pair := run_links.linked_pair(url, store)):
        remember_pair(*pair)  # the link's pair: this server has it, so whoever holds the id sees it
        options = choices(st.session_state.get(SESSION_KEY, []), store)
    if not options:
        st.error("No trained twins: none are shipped in assets/runs (run scripts/make_assets.py) "
                 "and none were trained in this session (the Train page).")
        st.stop()
    by_key = {c.key: c for c in options}
    if first_visit:
        chosen = choice_for(url, options)
        shipped_first = next((c.key for c in options if isinstance(c.key, int)), options[0].key)
        st.session_state[key] = chosen.key if chosen else shipped_first
        st.session_state[missing_key] = None if chosen else (url, st.session_state[key])
    pick = st.selectbox(label, list(by_key), format_func=lambda k: by_key[k].label, key=key,
                        help="Twins: the same network with and without skips, trained on the same "
                             "data with the same budget and seed. Your own pairs come from the "
                             "Train page and stay in this browser session; a link to them opens "
                             "them for whoever holds it, on this server.")
    missing = st.session_state.get(missing_key)
    if missing and missing[1] == pick:  # still the stand-in for a link's run: say so, keep the link
        missing_notice(missing[0], store)
    else:
        st.session_state[missing_key] = None
        write_link(by_key[pick], store)
    try:
        a, b = (store.get(i) for i in by_key[pick].ids)
    except RunError as exc:
        st.error(str(exc))
        st.stop()
    return plain_first(a, b)


def write_link(choice: Choice, store: RunStore) -> None:
    """Mirror the picked pair into the URL: a shipped pair's residual id (or the link's own id when
    it already names this pair: a shared link is left as it was); a session pair's first run (your
    network) with the network, seed and budget that train it again elsewhere."""
    qp, known = st.query_params, st.session_state.setdefault("_run_link_params", {})
    if isinstance(choice.key, int):
        want = {URL_KEY: qp.get(URL_KEY) if qp.get(URL_KEY) in choice.ids else choice.ids[-1]}
    elif (want := known.get(choice.ids[0])) is None:  # read once per run and session
        run = store.get(choice.ids[0])
        try:
            budgets = host_budgets(family=run.spec.family)
        except UserError:  # an unreadable host budget: the Train page says so; the id still links
            budgets = {}
        want = known[choice.ids[0]] = run_links.link_params(run, budgets)
    for k in run_links.LINK_KEYS:
        if k in want and qp.get(k) != want[k]:
            qp[k] = want[k]
        elif k not in want and k in qp:
            del qp[k]


def missing_notice(url: str, store: RunStore, family: str = "cnn") -> None:
    """A visible warning for a link whose pair this server does not have, and the offer to train
    it here (the Train page with the link's network, seed and budget)."""
    if not valid_run_id(url):
        st.warning(f"This link's run `{url[:20]}` is not a run id (16 hex digits). Showing the "
                   "shipped twins instead.", icon=":material/link_off:")
        return
    has_it = store.has(url)
    if has_it and store.get(url).spec.family != family:
        other_family(url, store.get(url).spec.family)
        return
    st.warning(f"This link names run `{url}`, but this server has "
               + ("that run and not its twin." if has_it else
                  "no such run: it was trained on another server, or this one's cache made room.")
               + " Showing the **shipped twins** instead until you pick another pair.",
               icon=":material/link_off:")
    try:
        again = run_links.retrain(dict(st.query_params.to_dict()), host_budgets(family=family))
    except UserError:  # an unreadable host budget (the Train page says which)
        again = None
    if again is None:
        st.caption("The link carries no network, seed and budget to train it again from.")
        return
    spec = again.request.netspec
    text = (f"Train it here: {spec.arch}-{spec.depth} and its twin, {again.budget} budget, seed {again.seed}"
            + (" (the same inputs give the same run id)" if again.same_id else
               f" (here they make run {again.request.run_id[:6]}…, not the link's: a link from "
               "another kind of machine, such as a GPU training in bf16, or an edited link)"))
    # A link to a new tab, not st.page_link: a session keeps its own Seed (the sidebar's widget)
    # and budget over a link's query string; a fresh session takes them from the URL.
    st.link_button(text + " (opens a new tab)", f"{TRAIN_PATH}?{urlencode(again.train_page_params())}",
                   icon=":material/model_training:")


def other_family(url: str, other: str) -> None:
    """A link to a run this server has, of the family this page does not study (a Transformer
    pair on Attribution or Loss Landscape, an image network on the Transformer side): say so, and
    send it where that family's pair is studied."""
    what = "a Transformer" if other == "transformer" else "an image network (CNN)"
    page = "image networks (CNNs)" if other == "transformer" else "Transformers"
    st.info(f"This link names run `{url}`, {what}: this part of the page studies {page}, so the "
            "**shipped twins** are shown instead. Its pair's lesion is on Lesion Study.",
            icon=":material/swap_horiz:")
    st.link_button("Open it on Lesion Study (opens a new tab)", f"{LESION_PATH}?{urlencode({'run': url})}",
                   icon=":material/content_cut:")


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def shared_model(run_id: str, dev: str):
    """(model, normalizer, meta) of a run, read once per process and device, gradients off: read
    it, never run a computation on it (use :func:`private_model`)."""
    return shipped.load_readonly(RunStore().get(run_id), device=dev)


def private_model(run_id: str, dev: str):
    """A copy of the run's model for one computation (hooks set on it meet no one else's)."""
    return shipped.private_copy(shared_model(run_id, dev))


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def run_test_images(run_id: str):
    """The run's whole test split (with object masks); pages take ``.subset(n)`` of it."""
    return RunStore().get(run_id).test_images()
