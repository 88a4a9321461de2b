"""Benchmark: the quick-budget Transformer pair (issue #25: depth 6 + its twin in <= 60 s, 1 CPU thread).

Reports, on one thread: training steps per second of the depth-6 pre-LN network at the budget's
batch and context (the fastest of ``--repeats`` timed steps after a warm one, as Python's timeit
keeps the minimum), the same for a bare forward + backward + AdamW step written here (the baseline:
what the trainer adds is the ratio), and then the whole pair under the budget through
``train_run`` (the page's path: training, its evaluations, the final losses), wall and CPU seconds,
beside the one estimator's figure for it (:func:`~resnet_explain.train.estimate.measure_host` here).
On a loaded machine the CPU seconds (``time.process_time``) are closer to what an idle core takes.

    PYTHONPATH=. python scripts/bench_lm_pair.py [--budget lm-quick] [--repeats 20] [--no-pair]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import torch


def _step_seconds(spec, config, repeats: int) -> tuple[float, float]:
    """(fastest wall seconds of a trainer step, of a bare step) in turns."""
    from resnet_explain.model import build_model
    from resnet_explain.train import lm_trainer as L

    nets = [build_model(spec, seed=0).train() for _ in range(2)]
    opts = [L.make_optimizer(n, config) for n in nets]
    x = torch.randint(0, 256, (config.batch_size, spec.context))
    state = {"loss": torch.zeros(()), "gmax": torch.zeros(()), "n": 0}

    def trainer_step():
        L._step(nets[0], opts[0], config, config.lr, x, x, False, state)

    def bare_step():
        loss = torch.nn.functional.cross_entropy(nets[1](x).flatten(0, 1), x.flatten())
        opts[1].zero_grad(set_to_none=True)
        loss.backward()
        opts[1].step()

    times = {"trainer": [], "bare": []}
    for _ in range(repeats + 1):
        for name, fn in (("trainer", trainer_step), ("bare", bare_step)):
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return min(times["trainer"][1:]), min(times["bare"][1:])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", default="lm-quick")
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-pair", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    from resnet_explain.spec.transformer import transformer_spec
    from resnet_explain.train.budgets import LM_BUDGETS
    from resnet_explain.train.runs import RunStore, train_run

    b = LM_BUDGETS[a.budget]
    spec = transformer_spec(depth=a.depth, context=b.data.context)
    trainer_s, bare_s = _step_seconds(spec, b.config, a.repeats)
    out = {"budget": a.budget, "depth": a.depth, "threads": torch.get_num_threads(),
           "load_avg": os.getloadavg(), "step_s": trainer_s, "bare_step_s": bare_s,
           "steps_per_s": 1 / trainer_s, "trainer_over_bare": trainer_s / bare_s,
           "max_steps": b.config.max_steps}
    from resnet_explain.train.estimate import measure_host

    req = b.request(spec, 0, "cpu")
    speed = measure_host("cpu")  # the one estimator, timed here and now (1 thread)
    out["estimate_pair_s"] = speed.run_seconds(req) + speed.run_seconds(req.twin())
    if not a.no_pair:
        with tempfile.TemporaryDirectory() as d:
            store = RunStore(root=d)
            b.data.load()  # read the corpus once, outside the timing (the page has it cached)
            t, c = time.perf_counter(), time.process_time()
            runs = [train_run(r, store)[0] for r in (req, req.twin())]
            out.update(pair_wall_s=time.perf_counter() - t, pair_cpu_s=time.process_time() - c,
                       val_loss=[r.meta["val_loss"] for r in runs],
                       run_seconds=[r.meta["seconds"] for r in runs])
            out["pair_cpu_over_estimate"] = out["pair_cpu_s"] / out["estimate_pair_s"]
    out["load_avg_end"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
