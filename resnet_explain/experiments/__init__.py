"""The experiments: one module per experiment, each running models and returning tidy data
(DataFrames, dataclasses of numbers); the sentences about them live in :mod:`resnet_explain.content`.

* theory pages' live experiments: :mod:`.vanishing`, :mod:`.highway`, :mod:`.shattered`,
  :mod:`.misconceptions`; their closed-form curves: :mod:`.theory`;
* training experiments: :mod:`.degradation` (He et al. 2015's plain vs residual at depth),
  :mod:`.lr_sweep` (learning rates), :mod:`.your_network` (the builder's network and its twin);
* on trained models: :mod:`.lesion` (Veit et al. 2016), :mod:`.attribution` (Captum),
  :mod:`.explain` (one image through a method), :mod:`.landscape` (Li et al. 2018's slices:
  filter-normalised directions in :mod:`.landscape_directions`, losses at many points in
  :mod:`.landscape_points`, Hessian eigenvalues in :mod:`.landscape_hessian`, roughness in
  :mod:`.landscape_roughness`, stored views in :mod:`.landscape_store`);
* the zoo at one depth: :mod:`.architectures`; real architectures at initialisation
  (torchvision): :mod:`.real_models`; the quiz's measurements: :mod:`.quiz`.

Import the module you need (``from resnet_explain.experiments import vanishing``): nothing heavy
(Captum) is imported until a page asks for it.
"""
