"""So, why do residual connections work? The closing page: a few sentences, each from a number
measured in this app, with a link to the page that measured it."""

import streamlit as st

from resnet_explain.content import why_residuals as text
from resnet_explain.experiments import mechanism_runs
from resnet_explain.train import shipped


@st.cache_data(max_entries=2, ttl=3600, show_spinner=False)
def measured() -> list:
    """The reasons, made once from the stored numbers (not on every visit: ~30 ms)."""
    errors = {n: float(shipped.run(n).meta["train_error"]) for n in shipped.shipped()}
    found = mechanism_runs.load_stored()
    return text.reasons(errors, None if found is None else found[0])


st.title("So, why do residual connections work?")
for reason in measured():
    st.subheader(reason.heading)
    st.markdown(reason.text)
    st.page_link(reason.page, label=reason.link, icon=":material/arrow_forward:")
st.divider()
st.markdown(text.SUMMARY)
