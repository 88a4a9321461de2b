"""The URL keys that belong to the pages, not to the network: one query string is shared by the
spec (:data:`resnet_explain.spec.SPEC_KEYS`) and every page's controls, so reading a spec from a
URL skips these (``NetSpec.from_query(url, ignore=NON_SPEC_KEYS)``)."""

from __future__ import annotations

# Page controls bound to the URL (``bind="query-params"``: the widget key is the query key). One
# query string is shared by every page, so each key is unique across pages (a page prefix).
PAGE_KEYS = {"gf_batch", "gf_f64",                                      # Gradient Flow
             "van_depth", "van_cnn_depth",                              # Vanishing
             "hw_alpha", "hw_zil", "hw_init", "hw_depth",               # Highway
             "sh_depth", "sh_points", "sh_alpha",                       # Shattered
             "mc_net",                                                  # Misconceptions
             "at_method", "at_baseline", "at_nt", "at_target", "at_tclass", "at_layer", "at_n",
             "at_src", "at_cls", "at_idx",                              # Attribution
             "ls_n", "ls_family", "ls_unit",                            # Lesion
             "tr_depths", "tr_archs", "tr_epochs", "tr_ntrain", "tr_ntest",  # Training
             "lrs_lrs", "lrs_epochs", "lrs_ntrain",                     # Learning Rates
             "yn_budget", "yn_q",                                       # Your Network
             "ll_grid", "ll_span", "ll_images",                         # Loss Landscape
             "rm_model", "rm_batch",                                    # Real Architectures
             "ar_depth", "ar_variants", "ar_batch",                     # Architectures
             "mech_depth", "mech_q",                                    # Why plain nets fail
             "tf_depth", "tf_init", "tf_lr", "tf_live_lr", "tf_live_warm"}  # Transformers
# The sidebar's and the app's own keys, and every page's.
NON_SPEC_KEYS = frozenset({"seed", "device", "batch", "presenter", "theme", "controls", "preset", "view",
                           "block", "dtype", "depth", "page", "embed", "embed_options", "run",
                           "run_net", "run_seed", "run_budget"} | PAGE_KEYS)  # train/run_links.py
