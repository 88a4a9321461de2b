"""Pure chart functions: tidy DataFrame -> alt.Chart (no streamlit, no torch), one module per topic:
:mod:`.gradflow`, :mod:`.theory`, :mod:`.training`, :mod:`.grad_history`, :mod:`.lr_sweep`,
:mod:`.lesion`, :mod:`.landscape`, :mod:`.attribution`, :mod:`.architectures`, :mod:`.real_models`, the
network :mod:`.diagram` (DOT), attribution :mod:`.overlay` images, and :mod:`.export` (PNG/SVG/CSV).

Shared conventions (:mod:`.axes`): values spanning decades are log10 computed in the data
(float64), and a value that is 0 in float32 keeps its place at a floor, marked ▼ with its status
(:mod:`resnet_explain.magnitude`), never dropped.
"""
