"""The Training page's runs made elsewhere, when they are stored: the ``gpu`` experiment
(labelled with its machine and wall time) and He et al.'s recipe on CIFAR-10 beside their numbers;
when not, what is missing and how to make it. Words in :mod:`resnet_explain.content.cifar`."""

from __future__ import annotations

import streamlit as st

from ..content import cifar as words
from ..data.cifar import data_dir
from ..experiments import cifar_he2015, stored_elsewhere
from . import training_panel as panel


@st.cache_data(show_spinner=False, max_entries=4, ttl=600)
def _load(folder: str):
    return stored_elsewhere.load_if_there(folder)


def show(chance: float) -> None:
    """Both sections, each a stored result or a note on how to make it."""
    st.subheader("On a GPU: the `gpu` experiment")
    gpu = _load(str(stored_elsewhere.GPU_DIR))
    if gpu is None:
        st.caption(words.gpu_missing())
    else:
        st.markdown(words.machine_label(gpu.meta))
        panel.results(gpu.table, gpu.n_seeds, chance, gpu.convergence)
    st.subheader("On CIFAR-10: He et al.'s own experiment")
    run = _load(str(stored_elsewhere.CIFAR_DIR))
    if run is not None:
        st.markdown(words.machine_label(run.meta))
        st.table(words.beside_paper_display(cifar_he2015.beside_paper(run.table)), hide_index=True)
    elif (missing := cifar_he2015.missing()) is not None:
        st.info(words.cifar_missing(missing), icon=":material/download:")
    else:
        st.info(words.cifar_not_run(str(data_dir())), icon=":material/science:")
