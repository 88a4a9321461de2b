"""Measurements on models, one concept per module, DataFrames out (no streamlit):

* theory pages' live experiments: :mod:`.vanishing`, :mod:`.highway`, :mod:`.shattered`,
  :mod:`.misconceptions`; their closed-form curves: :mod:`.theory`;
* on trained models: :mod:`.lesion` (Veit et al. 2016), :mod:`.attribution` (Captum),
  :mod:`.explain` (one image through a method), :mod:`.landscape` (Li et al. 2018's slices,
  Hessian eigenvalues, roughness);
* real architectures at initialisation (torchvision): :mod:`.real_models`.

Import the module you need (``from resnet_explain.lab import vanishing``): nothing heavy (Captum)
is imported until a page asks for it.
"""
