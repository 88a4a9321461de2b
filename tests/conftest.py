import os

import torch
from hypothesis import HealthCheck, settings

# The app's background warm-up (resnet_explain/ui/warmup.py) would compete with the tests for the
# 2 cores; servers the tests start inherit this. tests/e2e/test_warmup_server.py turns it on.
os.environ.setdefault("RESNET_EXPLAIN_WARMUP", "off")

# One intra-op thread: the test networks are tiny, and on a 2-core machine torch's OpenMP threads
# slow down by 10-100x whenever anything else (the e2e server, Chromium) wants a core.
torch.set_num_threads(1)

settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=15, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
