"""Every colour the charts use, in one place, chosen for a projector: each reads on the light
theme's white and the dark theme's near-black (contrast at least 3:1 on both, WCAG's figure for
graphics; tests/unit/test_palette.py checks every one), and the categorical scheme is Okabe & Ito's
colour-blind-safe one (Okabe & Ito 2008, "Color Universal Design"), with its yellow and black left
out (1.1:1 on white, 1.2:1 on the dark theme) and its orange darkened to ochre (2.2:1 on white).

Streamlit's own categorical scheme pairs light and dark shades of one hue (light/dark blue,
light/dark red): side by side on a wall they read as one colour. Charts with no scale of their
own get CATEGORICAL instead (:func:`with_palette`, applied where every chart is drawn)."""

from __future__ import annotations

# One colour per concept, the same on every page: a plain network is red, a residual one blue.
PLAIN_COLOR, RESIDUAL_COLOR = "#d62728", "#1f77b4"
# A grey for lines that are no concept's colour (legend dashes, reference lines, the picked
# block's rule): 3.5:1 on #ffffff, 5.5:1 on #0e1014.
MID_GREY = "#8a8a8a"
OCHRE, GREEN, PINK, BROWN, VERMILLION, DEEP_BLUE = ("#a67c00", "#009e73", "#cc79a7", "#9c755f",
                                                    "#d55e00", "#0072b2")

# Okabe & Ito's hues in an order where neighbours differ most (stage 1, stage 2, ...).
CATEGORICAL = (DEEP_BLUE, VERMILLION, GREEN, PINK, OCHRE, MID_GREY, BROWN)

# ... each activation its own colour, none of them plain's red or residual's blue.
ACTIVATION_COLORS = {"sigmoid": "#9467bd", "tanh": PINK, "relu": "#2ca02c", "gelu": BROWN}
# The two terms of a residual block's backward pass: the identity (shortcut) term is the skip's
# blue, the residual-branch term ochre; the whole gradient at a block's output grey.
IDENTITY_TERM_COLOR, BRANCH_TERM_COLOR, TOTAL_GRAD_COLOR = RESIDUAL_COLOR, OCHRE, MID_GREY
# Residual variants beside "residual" on one chart (α = 0, 0.5, …): hues, not shades of blue.
RESIDUAL_SHADES = (GREEN, OCHRE, PINK, BROWN)
NEUTRAL_COLORS = (MID_GREY, PINK, BROWN, GREEN)


def with_palette(chart):
    """``chart`` with CATEGORICAL as the scheme of every colour channel that has no scale of its own."""
    return chart.configure_range(category=list(CATEGORICAL))
