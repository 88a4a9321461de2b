"""resnet-explain: the app shell. Declares the pages (from the story) and the shared sidebar."""

from pathlib import Path

import streamlit as st

from resnet_explain import ui
from resnet_explain.content.story import SECTIONS, STEPS
from resnet_explain.ui import heap, warmup

st.set_page_config(page_title="resnet-explain", page_icon=str(Path(__file__).parent / "assets" / "favicon.png"), layout="wide")

pages: dict[str, list] = {"": [st.Page("app_pages/home.py", title="Home", icon=":material/home:",
                                       default=True)]}
for section in SECTIONS:
    in_section = [st.Page(s.file, title=s.title, icon=s.icon, url_path=s.url_path)
                  for s in STEPS if s.section == section]
    if in_section:
        pages[section] = in_section

nav = st.navigation(pages, expanded=True)  # every step of the story visible, no "View more"
# the background warm-up holds back while a visitor's page runs; then what new imports brought is
# frozen out of the collector's walk (ui/heap.py: most of a cached visit's cost before)
with warmup.visitor_run(), heap.frozen_imports():
    ui.remember_settings(ui.sidebar())
    warmup.start()  # once per server: the pages' default views, in the background, while idle
    nav.run()
    ui.next_step_footer(nav.url_path)
