"""The network in the URL: the URL is the truth for anything a shared link must restore.

The network is one NetSpec, mirrored to its own query keys (``fam``, ``net``, ``act``, ...) by
``current_spec`` / ``set_spec``; a link with a bad spec shows a warning and the default.
"""

from __future__ import annotations

import streamlit as st

from ..spec import SPEC_KEYS, NetSpec, SpecError, preset
from .url_keys import NON_SPEC_KEYS

DEFAULT_PRESET = "plain20"


def _url_spec_params() -> dict[str, list[str]]:
    qp = st.query_params
    return {k: qp.get_all(k) for k in qp.keys() if k in SPEC_KEYS or k not in NON_SPEC_KEYS}


def current_spec(default: str | NetSpec = DEFAULT_PRESET) -> NetSpec:
    """The session's NetSpec: from the URL when it carries one (a shared link), else the session's
    last spec, else ``default``. Unreadable URLs give a warning and fall back, never an error."""
    url = _url_spec_params()
    written = st.session_state.get("_spec_written")
    spec = st.session_state.get("spec")
    if url and url != written:
        try:
            spec = NetSpec.from_query(url)
        except SpecError as exc:
            st.warning(f"The link's network could not be read — {exc}. Showing the default network.")
            spec = None
    if spec is None:
        spec = default if isinstance(default, NetSpec) else preset(default)
    set_spec(spec)
    return spec


def set_spec(spec: NetSpec) -> None:
    """Make ``spec`` the session's network and mirror it into the URL."""
    st.session_state["spec"] = spec
    params = spec.to_params()
    qp = st.query_params
    for k in list(qp.keys()):
        if (k in SPEC_KEYS or k not in NON_SPEC_KEYS) and k not in params:
            del qp[k]
    for k, v in params.items():
        if qp.get(k) != v:
            qp[k] = v
    st.session_state["_spec_written"] = {k: [v] for k, v in params.items()}


def apply_edit(edit, where: str) -> None:
    """Run ``edit`` (a function returning a new NetSpec, usually a NetSpec method); if the result
    is valid make it the session's network and rerun, else keep the reason for
    :func:`edit_error` to show next to the control named ``where``."""
    try:
        new = edit()
    except SpecError as exc:
        st.session_state["_edit_error"] = (where, str(exc))
        return
    st.session_state.pop("_edit_error", None)
    set_spec(new)
    st.session_state["_editor_version"] = editor_version() + 1  # fresh widgets for the new spec
    st.rerun()


def edit_error(where: str) -> None:
    """Show the last refused edit's reason, if it came from the control named ``where``."""
    err = st.session_state.get("_edit_error")
    if err and err[0] == where:
        st.error(err[1], icon=":material/error:")


def editor_version() -> int:
    """Bumped by every applied edit: part of per-spec widget keys, so they start from the spec."""
    return st.session_state.get("_editor_version", 0)
