"""Estimate vs actual: each long page's default work, priced by THE estimator (this host measured
once) and then run, on this machine. Prints one line per page: estimate, actual, actual/estimate.

    python scripts/estimate_check.py                     # every page, 1 thread
    python scripts/estimate_check.py --only lesion,landscape --threads 2

Nothing is written to the user's run store (a temporary one); shipped runs are read. On a shared
or busy machine the actual times are longer than the estimate (measured once, at the quietest of
``--measure`` tries): report the load beside the numbers.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from resnet_explain.train import estimate as E  # noqa: E402


def quietest(tries: int) -> E.HostSpeed:
    """The fastest of ``tries`` measurements, component by component (a busy moment only slows)."""
    from resnet_explain.spec import cifar_resnet

    got, net = [E.measure_host("cpu") for _ in range(tries)], cifar_resnet(20, width=16, in_size=16)
    train = min(got, key=lambda h: h.train_step(net, 32)).train
    forward = min(got, key=lambda h: h.forward_seconds(net, 512)).forward
    return E.HostSpeed(got[0].key, train, forward, min(h.data_per_pixel for h in got))


def your_network(speed, store):
    from resnet_explain.experiments import your_network as yn
    from resnet_explain.spec import preset
    from resnet_explain.train.budgets import BUDGETS

    p = yn.plan(preset("plain20"), BUDGETS["quick"], 0, "cpu", store, 120.0,
                lambda r: E.estimate_run_seconds(r, speed))
    return p.estimate, lambda: yn.train_pair(p, store)


def learning_rates(speed, store):
    from resnet_explain.experiments import lr_sweep as sw
    from resnet_explain.spec import preset
    from resnet_explain.train.budgets import BUDGETS

    b = BUDGETS["quick"]
    base = sw.base_request(preset("plain20"), b, seed=0, device="cpu", epochs=b.config.epochs,
                           n_train=b.data.n_train)
    lrs = (b.config.lr, 0.8)
    est = sw.estimate_sweep_seconds(sw.sweep_requests(base, lrs), E.estimate_run_seconds(base, speed), store)
    return est, lambda: sw.lr_sweep(None, base, lrs, store=store)


def training(speed, store):
    from resnet_explain.experiments import degradation as dg
    from resnet_explain.train.budgets import EXPERIMENTS

    exp = EXPERIMENTS["cpu-live"].with_(device="cpu")
    archs = ("plain", "residual")
    return dg.estimate_experiment_seconds(exp, archs, speed), lambda: dg.run_degradation(exp, archs=archs)


def _shipped_pair(depth=20):
    from resnet_explain.train import shipped

    return [shipped.run(n) for n in shipped.pairs()[depth]]


def lesion(speed, store):
    from resnet_explain.experiments import lesion as les

    runs = _shipped_pair()

    def work():
        for r in runs:
            model, normalizer, _ = r.load_model(device="cpu")
            les.lesion_study(model, r.request.data.test_images(500), normalizer)

    return sum(les.estimate_seconds(r.spec, 500, speed) for r in runs), work


def landscape(speed, store):
    from resnet_explain.experiments import landscape as L

    s = L.LandscapeSettings(grid=11)  # the default (21) is stored; its smallest grid runs live
    runs = _shipped_pair()
    return (sum(L.estimate_seconds(r, s, speed) for r in runs),
            lambda: [L.landscape(r, s, device="cpu") for r in runs])


def architectures(speed, store):
    from resnet_explain.experiments import architectures as A
    from resnet_explain.spec.zoo import DEFAULT_VARIANTS

    names = list(DEFAULT_VARIANTS)  # the default depth's probes are stored: depth 32 runs live
    return (A.probe_seconds_estimate(32, names, A.PROBE_BATCH, speed),
            lambda: [A.probe_row(n, 32, batch=A.PROBE_BATCH) for n in names])


PAGES = {"your_network": your_network, "learning_rates": learning_rates, "training": training,
         "lesion": lesion, "landscape": landscape, "architectures": architectures}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--measure", type=int, default=3, help="host measurements; the quietest is kept")
    ap.add_argument("--only", default="", help="comma-separated pages")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from resnet_explain.train.runs import RunStore

    t = time.perf_counter()
    speed = quietest(a.measure)
    print(f"host {speed.key}: {a.measure} measurements in {time.perf_counter() - t:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f}; {speed}", flush=True)
    store = RunStore(root=Path(tempfile.mkdtemp(prefix="estimate_check_")))
    for name in [p for p in (a.only.split(",") if a.only else PAGES)]:
        est, work = PAGES[name](speed, store)
        load0, t = os.getloadavg()[0], time.perf_counter()
        work()
        actual = time.perf_counter() - t
        print(f"{name:15s} estimate {est:7.1f} s  actual {actual:7.1f} s  actual/estimate "
              f"{actual / est:5.2f}  (load average {load0:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
