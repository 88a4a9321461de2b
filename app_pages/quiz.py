"""Self-check quiz: concept questions (options in an order fixed by the seed) and predict-then-measure
items, scored, with links to the page that proves each answer. Presenter mode reveals one item at a
time."""


import streamlit as st
from streamlit.errors import StreamlitAPIException

from resnet_explain import magnitude, ui
from resnet_explain.content.quiz import PREDICTIONS, QUESTIONS, RATIO_BINS, option_order
from resnet_explain.content.story import STEPS
from resnet_explain.experiments.quiz import ratio_bin, score_quiz
from resnet_explain.probe import ratio_of
from resnet_explain.spec import preset

settings = ui.settings()
seed = settings.seed
presenter = settings.presenter
ITEMS = [("concept", q) for q in QUESTIONS] + [("predict", p) for p in PREDICTIONS]
BIN_LABELS = [b[0] for b in RATIO_BINS]
TITLES = {s.file: s.title for s in STEPS}


def fmt(r: float | None) -> str:
    if r is None:  # the probe could not run (server busy): say so rather than fail
        return "**not measured**"
    return f"**{magnitude.fmt_ratio(r, zero=magnitude.UNDERFLOW)}** ({magnitude.judge_ratio(r).short})"


def link(page: str) -> None:
    """A link to the page that proves the answer (plain text when the page is not registered,
    e.g. when this page runs on its own)."""
    title = TITLES.get(page, page)
    try:
        st.page_link(page, label=f"See it measured: {title}", icon=":material/arrow_forward:")
    except (StreamlitAPIException, KeyError):
        st.caption(f"See it measured on the **{title}** page.")


def measure(p) -> float | None:
    """The prediction's number: the first/last block gradient ratio of its network."""
    got = ui.run_probe(preset(p.preset), settings)
    return ratio_of(got[0]["grad_norm"]) if got else None


def feedback(kind: str, item, choice: int | None, measured: float | None = None) -> bool:
    """Show whether ``choice`` is right, the explanation and the link; return correctness."""
    if kind == "concept":
        ok = choice == item.answer
        right = item.options[item.answer]
    else:
        b = ratio_bin(measured) if measured is not None else None
        ok = choice is not None and choice == b
        right = BIN_LABELS[b] if b is not None else "not finite"
        st.markdown(f"**Measured:** first/last block gradient ratio = {fmt(measured)} "
                    f"(preset `{item.preset}`, seed {seed}, batch {ui.PROBE_BATCH}, "
                    f"{settings.device.type}).")
    if choice is None:
        st.warning(f"Not answered. The answer: **{right}**.", icon=":material/help:")
    elif ok:
        st.success(f"Correct: **{right}**.", icon=":material/check_circle:")
    else:
        st.error(f"Not quite. The answer: **{right}**.", icon=":material/cancel:")
    st.markdown(item.explanation + (f" *({item.cite})*" if kind == "concept" else ""))
    link(item.page)
    return ok


def widget(kind: str, item, key: str):
    if kind == "concept":  # the values stay the options' own indices, so grading ignores the order
        return st.radio(item.prompt, option_order(item, seed), format_func=lambda i: item.options[i],
                        index=None, key=key)
    return st.radio(item.prompt, range(len(BIN_LABELS)), format_func=lambda i: BIN_LABELS[i],
                    index=None, key=key, help="The ratio ‖∂L/∂x‖ at the first block's output over the last "
                                              "block's, at initialisation. Guess first, then it is measured.")


st.title("Check yourself")
st.markdown(f"{len(QUESTIONS)} questions about the ideas, then {len(PREDICTIONS)} predictions: guess a "
            "number, then the app measures it on a real network. Every answer links to the page that "
            "proves it.")

if not presenter:
    with st.form("quiz"):
        for i, (kind, item) in enumerate(ITEMS, start=1):
            if kind == "predict" and i == len(QUESTIONS) + 1:
                st.subheader("Predict, then measure")
            widget(kind, item, f"quiz_{item.key}")
        submitted = st.form_submit_button("Check my answers", type="primary")
    if submitted or st.session_state.get("quiz_checked"):
        st.session_state["quiz_checked"] = True
        choices = {item.key: st.session_state.get(f"quiz_{item.key}") for _, item in ITEMS}
        with st.spinner("Measuring the prediction networks…"):
            measured = {p.key: measure(p) for p in PREDICTIONS}
        measured = {k: v for k, v in measured.items() if v is not None}
        scored = score_quiz(choices, measured)
        n_ok, n = int(scored["correct"].sum()), len(scored)
        st.metric("Score", f"{n_ok} / {n}")
        for kind, item in ITEMS:
            st.markdown(f"##### {item.prompt}")
            feedback(kind, item, choices[item.key], measured.get(item.key))
else:
    # Presenter mode: one item at a time; reveal, then next.
    ss = st.session_state
    ss.setdefault("quiz_step", 0)
    ss.setdefault("quiz_done", {})  # key -> (choice, measured, correct)
    step = ss["quiz_step"]
    done = ss["quiz_done"]
    score = sum(1 for v in done.values() if v[2])
    st.progress(min(step, len(ITEMS)) / len(ITEMS), text=f"Item {min(step + 1, len(ITEMS))} of {len(ITEMS)} · "
                                                          f"score so far {score} / {len(done)}")
    if step >= len(ITEMS):
        st.metric("Final score", f"{score} / {len(ITEMS)}")
        if st.button("Start over", key="quiz_restart"):
            ss["quiz_step"], ss["quiz_done"] = 0, {}
            for _, item in ITEMS:
                ss.pop(f"quiz_p_{item.key}", None)
            st.rerun()
    else:
        kind, item = ITEMS[step]
        choice = widget(kind, item, f"quiz_p_{item.key}")
        if item.key not in done:
            if st.button("Run it" if kind == "predict" else "Reveal the answer",
                         key=f"quiz_reveal_{step}", type="primary"):
                measured = measure(item) if kind == "predict" else None
                b = ratio_bin(measured) if measured is not None else None
                ok = (choice == item.answer) if kind == "concept" else (choice is not None and choice == b)
                done[item.key] = (choice, measured, ok)
                st.rerun()
        else:
            ch, measured, _ = done[item.key]
            feedback(kind, item, ch, measured)
            if st.button("Next", key=f"quiz_next_{step}", type="primary"):  # below the feedback it follows
                ss["quiz_step"] = step + 1
                st.rerun()
