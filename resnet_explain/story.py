"""The guided story, in order: one list that both the navigation (app.py) and the home page read.

Each step: page file, title, icon, sidebar section, url path, and one line of what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    file: str
    title: str
    icon: str
    section: str
    url_path: str
    blurb: str


STEPS: tuple[Step, ...] = (
    Step("pages/builder.py", "Network Builder", ":material/construction:", "Experiment", "builder",
         "Build a network block by block: stages, block kinds, skips on or off, shortcut kinds, "
         "activation, normalisation, initialisation. See its diagram, size and cost."),
    Step("pages/gradient_flow.py", "Gradient Flow", ":material/timeline:", "Experiment",
         "gradient-flow",
         "Run a real forward and backward pass on your network and on its twin with the skips "
         "toggled, and see how the gradient's size changes from the output back to the input."),
)

SECTIONS = ("Learn", "Experiment", "Check yourself")
