"""Home: the story in order, with a link to each step."""

import streamlit as st

from resnet_explain import ui
from resnet_explain.content import claims
from resnet_explain.content.story import SECTIONS, STEPS, home_intro, talk
from resnet_explain.ui.share import share_hint

settings = ui.settings()

st.title("Why do residual connections let deep networks train?")
st.markdown(home_intro(settings.detail))
st.markdown(
    "**Honest up front:** the textbook story is *vanishing gradients*. That is true for "
    "sigmoid networks without normalisation, and you will measure it. But with BatchNorm + ReLU, "
    "deep plain CNNs do not vanish at initialisation: their gradients *grow* toward the input "
    "(measured here; Yang et al. 2019, arXiv [1902.08129](https://arxiv.org/abs/1902.08129), prove "
    "it for wide fully-connected BatchNorm nets), and He et al. "
    "called degradation an *optimisation* difficulty. The pages show whichever the numbers say."
)
with st.expander("Common claims, checked: where popular accounts of ResNets go wrong",
                 icon=":material/fact_check:"):
    st.markdown(claims.markdown())
with st.expander("Your notes vs the papers: the study note's own errors, each with the paper's figure",
                 icon=":material/menu_book:"):
    st.markdown(claims.notes_markdown())

st.subheader("The story, step by step")
n = 0
for section in SECTIONS:
    steps = [s for s in STEPS if s.section == section]
    if not steps:
        continue
    st.markdown(f"##### {section}")
    for s in steps:
        n += 1
        c1, c2 = st.columns([1, 3], vertical_alignment="center")
        c1.page_link(s.file, label=f"{n}. {s.title}", icon=s.icon)
        c2.markdown(s.blurb)

st.subheader("Run a workshop")
st.markdown(
    "The talk in acts, each a link that opens the page in presenter mode (larger type, full-width "
    "charts) with the network and seed already set, so the numbers on stage are the ones you "
    "rehearsed. Add `&controls=hide` to a link to fold the settings away."
)
share_hint()
files = {s.file for s in STEPS}
for act in talk():
    if act.file not in files:
        continue
    with st.container(gap=None):  # the link on its own line (never cut off), what it shows beneath
        st.page_link(act.file, label=act.title, icon=":material/slideshow:", query_params=dict(act.query))
        st.caption(act.say)

st.divider()
st.caption(
    "Also a library and a CLI: `python -m resnet_explain probe --arch cnn --depth 56 --no-skip` "
    "prints the same per-block numbers as the Gradient Flow page."
)
