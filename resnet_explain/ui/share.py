"""Links that restore a page, and where they work.

On a Hugging Face Space the app runs inside huggingface.co's page, in an iframe whose address is
the Space's own ``https://<owner>-<name>.hf.space``. The parent page passes only the query string
to the iframe on first load and does not show the iframe's address changes, so deep links (a page
path, a network in the URL) restore on the direct ``*.hf.space`` address, not on the Space page.
Hugging Face sets ``SPACE_HOST`` to that host inside the Space's container.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import streamlit as st


def direct_address(env: Mapping[str, str] | None = None) -> str | None:
    """``https://<SPACE_HOST>`` when running on a Space, else None."""
    host = (os.environ if env is None else env).get("SPACE_HOST", "").strip()
    if not host or any(c in host for c in "/ \"'<>"):
        return None
    return f"https://{host}"


def share_hint(path: str = "") -> None:
    """A caption saying which address to share (the direct one, when the app knows it)."""
    direct = direct_address()
    if direct:
        st.caption(f"To share a page with its settings, use the app's direct address, "
                   f"[{direct}/{path}]({direct}/{path}) and its query string: on the Space page "
                   "the address bar does not follow the app, so a copied link opens Home.")
    else:
        st.caption("Every page keeps its settings in its address: copy it from the address bar to "
                   "share exactly what you see (on a Hugging Face Space, copy it from the app's "
                   "direct *.hf.space address, not from the Space page).")
