"""Every network of an experiment at once: one runner for a list of training jobs.

The degradation experiment (depths × plain/residual × seeds), the LR sweep (a network and its twin
at each learning rate) and the architectures table hand their networks here as :class:`Job`
(spec, config with its seed and lr, data). The runner:

1. **stacks** the jobs that differ only in seed and peak learning rate (same spec, data and
   recipe otherwise) into one vmapped group (:class:`~.stacked.StackedGroup`): one kernel per
   layer for K models, which a lone small network leaves idle on a GPU (issue #23: ResNet-20 at
   batch 128 ran at 10,400 images/s on an H200, no faster than a naive loop: launch-bound);
2. on CUDA, runs the groups **concurrently**, each on its own CUDA stream, one step of each in
   turn from one Python thread (:func:`round_robin`), each group's step a captured **CUDA graph**
   after a few eager steps (:mod:`.graphs`' recipe);
3. trains what cannot be stacked (a network that draws random numbers in training, gradient
   snapshots, a constant warm-up, ``max_steps``, ``torch.compile``, a language model) alone with
   :func:`~.trainer.train`, after the groups.

Why one thread and a round-robin rather than a thread per stream: a replayed graph is one call of
a few microseconds on the host, so one thread keeps many streams fed; eager steps spend their time
in Python and ATen dispatch, which hold the GIL, so threads would take turns anyway and add
switching and the capture rules' cross-thread hazards (a capture in "global" mode refuses other
threads' unsafe calls; PyTorch's CUDA-graph notes). With one thread every step's order is fixed,
so a run is reproducible.

What is measured, and what is not yet: vmap turns K convolutions into one grouped convolution
(NCHW: channels_last does not apply to the 5-D stack), which a GPU may run slower per image than
K plain ones, while streams and graphs overlap plain ones without it. So ``max_stack=1`` (one
model per group, its slice of the stack called without vmap) is the other candidate, and
``scripts/bench_many.py --runner --variants unstacked,serial,eager`` (part of
``scripts/gpu_check.sh``) times the default against it, against groups one after another, against
eager steps, and against one network at a time. No GPU has run it yet: the default (stacked,
streams, graphs) is the design's choice, to be confirmed or changed by that measurement.

On a CPU there is nothing to overlap (one device, 1-2 cores here) and vmap turns convolutions into
slower grouped ones (train/many.py), so ``stack=None`` trains every job alone, one after
another, exactly as :func:`~.trainer.train` would; ``stack=True`` runs the stacked groups one after
another (the tests check them against lone runs there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace

import torch

from ..data import ImageSet
from ..device import choose_device
from ..spec import NetSpec
from . import trainer  # called as trainer.train: a test that swaps it out reaches this module
from .config import TrainConfig
from .many import draws_random_numbers
from .runs import Run, RunRequest, RunStore, store_trained
from .stacked import StackedGroup, on_device
from .trainer import TrainResult

MAX_STACK = 16  # models in one vmapped group at most (memory grows with it; the LR sweep has 7)


@dataclass(frozen=True)
class Job:
    """One network to train: ``spec`` with ``config`` (its seed and lr included) on ``train_set``,
    evaluated on ``test_set`` after each epoch (None: not evaluated)."""

    spec: NetSpec
    config: TrainConfig
    train_set: ImageSet
    test_set: ImageSet | None = None


def stackable(job: Job) -> bool:
    """Whether ``job`` can share a vmapped stack: an image network that draws no random numbers
    in training, with a recipe the stacked step does (no snapshots, constant warm-up, max_steps
    or torch.compile; compile="graphs" is what the stacked step does anyway)."""
    c = job.config
    return (job.spec.family == "cnn" and not draws_random_numbers(job.spec)
            and not (c.snapshot_every or c.warmup_lr or c.max_steps)
            and c.compile in (False, "graphs"))


def _key(job: Job) -> tuple:
    """Jobs with one key stack: the same network, data and recipe, any seed and peak lr."""
    return (job.spec.to_query(), replace(job.config, seed=0, lr=1.0), id(job.train_set),
            id(job.test_set))


def plan(jobs: Sequence[Job], stack: bool, max_stack: int = MAX_STACK) -> list[list[int]]:
    """Job indices in groups, in the order of their first job: stacked groups (``stack`` True:
    stackable jobs with one :func:`_key`, at most ``max_stack`` each) first, then every other job
    alone."""
    groups: dict[tuple, list[list[int]]] = {}
    alone = []
    for i, job in enumerate(jobs):
        if not (stack and stackable(job)):
            alone.append([i])
            continue
        chunks = groups.setdefault(_key(job), [[]])
        if len(chunks[-1]) >= max_stack:
            chunks.append([])
        chunks[-1].append(i)
    stacked = sorted((c for chunks in groups.values() for c in chunks), key=lambda c: c[0])
    return stacked + alone


def on_cuda(jobs: Iterable[Job]) -> bool:
    """Whether every job trains on a CUDA device (where ``stack=None`` stacks and overlaps)."""
    return all(choose_device(j.config.device).device.type == "cuda" for j in jobs)


def train_all(jobs: Sequence[Job], stack: bool | None = None, streams: bool | None = None,
              graphs: bool | None = None, progress: Callable[[int, dict], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              max_stack: int = MAX_STACK) -> list[TrainResult | None]:
    """Train every job; one result per job, in order (None: not started, a stop came first; a
    stopped job's result has ``meta["stopped"]``). ``stack``: vmapped groups (None: on CUDA);
    ``streams``: the groups concurrently on their own CUDA streams (None: on CUDA);
    ``graphs``: each group's step as a CUDA graph (None: on CUDA). ``progress(i, record)`` gets
    job i's record after each of its epochs; ``should_stop()`` ends everything."""
    jobs = list(jobs)
    cuda = on_cuda(jobs) if jobs else False
    stack = cuda if stack is None else stack
    streams = cuda if streams is None else streams and cuda
    groups = plan(jobs, stack, max_stack)
    out: list[TrainResult | None] = [None] * len(jobs)
    stacked = [g for g in groups if stack and stackable(jobs[g[0]])]
    alone = [g[0] for g in groups if not (stack and stackable(jobs[g[0]]))]
    plural = "s" if len(stacked) != 1 else ""
    how = f", {len(stacked)} group{plural} {'on their own CUDA streams' if streams else 'one after another'}"
    device_data: dict = {}
    for g in stacked:  # uploaded once per data set, on the current stream, before any group's
        j = jobs[g[0]]  # stream exists (each stream waits for it: _cuda_streams)
        on_device(j.train_set, choose_device(j.config.device).device, device_data)
    runs = [_group_steps(g, jobs, out, graphs, how, device_data, progress, should_stop) for g in stacked]
    # On CUDA every group has its own stream (a graph's warm-up and capture want a side stream,
    # PyTorch's CUDA-graph notes); ``streams`` decides whether they take turns step by step.
    contexts = _cuda_streams(len(runs)) if cuda else serial_contexts(len(runs))
    if streams:
        round_robin(runs, contexts)
    else:
        one_after_another(runs, contexts)
    if cuda:  # the models were last written on the groups' streams; callers read on theirs
        torch.cuda.synchronize()
    device_data.clear()
    for i in alone:
        if (should_stop is not None and should_stop()) or any(r is not None and r.meta.get("stopped")
                                                            for r in out):
            break
        out[i] = _alone(jobs[i], i, progress, should_stop)
    return out


def train_runs(requests: Sequence[RunRequest], store: RunStore, together: bool | None = None,
               progress: Callable[[int, dict], None] | None = None,
               should_stop: Callable[[], bool] | None = None,
               names: Sequence[str | None] | None = None,
               label: str | None = None) -> list[tuple[Run, bool] | None]:
    """:func:`~.runs.train_run` for many requests at once: (run, loaded) per request, in order;
    the stored ones load, the others train through :func:`train_all` (``together``: its
    ``stack``; None: on CUDA) and are stored. None: not finished (a stop came first; a stopped
    run is never stored). Each data recipe is made once; ``names[i]`` names run i."""
    out: list[tuple[Run, bool] | None] = [None] * len(requests)
    todo = []
    for i, req in enumerate(requests):
        if store.has(req.run_id):
            out[i] = (store.get(req.run_id), True)
        else:
            todo.append(i)
    data: dict = {}
    for i in todo:
        if requests[i].data not in data:
            data[requests[i].data] = requests[i].data.load()
    jobs = [Job(requests[i].netspec, requests[i].config, *data[requests[i].data]) for i in todo]
    report = None if progress is None else (lambda k, rec: progress(todo[k], rec))
    results = train_all(jobs, stack=together, progress=report, should_stop=should_stop)
    for i, res in zip(todo, results):
        if res is not None and not res.meta.get("stopped"):
            name = names[i] if names is not None else None
            out[i] = (store_trained(requests[i], res, store, data[requests[i].data], name, label), False)
    return out


def _group_steps(idx: list[int], jobs: list[Job], out: list, graphs, how: str, device_data: dict,
                 progress, should_stop) -> Iterator[None]:
    """One stacked group as a generator: built at its first step (on its stream), then one step
    per ``next()``; its results land in ``out`` when it ends (or stops)."""
    j0 = jobs[idx[0]]
    group = StackedGroup(j0.spec, [jobs[i].config for i in idx], j0.train_set, j0.test_set,
                         capture=graphs, device_data=device_data)
    report = None if progress is None else (lambda k, rec: progress(idx[k], rec))
    yield from group.run(should_stop, report)
    group.unstack()
    for k, i in enumerate(idx):
        out[i] = group.result(k, how)


def _alone(job: Job, i: int, progress, should_stop) -> TrainResult:
    cb = None if progress is None else (lambda rec: progress(i, rec))
    res = trainer.train(job.spec, job.train_set, job.test_set, job.config, progress=cb,
                        should_stop=should_stop)
    res.meta.setdefault("trained_with", "train (alone)")
    return res


def one_after_another(runs: Sequence[Iterator[None]], contexts: Sequence[Callable[[], object]]) -> None:
    """Each run to its end, in order, run k under ``contexts[k]()`` (the CPU's way: nothing to
    overlap)."""
    for run, ctx in zip(runs, contexts):
        with ctx():
            for _ in run:
                pass


def round_robin(runs: Sequence[Iterator[None]], contexts: Sequence[Callable[[], object]]) -> list[int]:
    """One step of each unfinished run in turn, run k's under ``contexts[k]()`` (its CUDA stream),
    until all end; returns the order the runs finished in. One thread: the host issues each
    group's next step (a graph replay) while the device still runs the others'."""
    live = list(range(len(runs)))
    finished = []
    while live:
        for k in list(live):
            with contexts[k]():
                try:
                    next(runs[k])
                except StopIteration:
                    live.remove(k)
                    finished.append(k)
    return finished


def _cuda_streams(n: int) -> list[Callable[[], object]]:
    """One new CUDA stream per run, each ordered after what the current stream has queued (the
    data uploaded before), as a context factory for :func:`round_robin`."""
    if not n:
        return []
    current = torch.cuda.current_stream()
    streams = [torch.cuda.Stream() for _ in range(n)]
    for s in streams:
        s.wait_stream(current)
    return [(lambda s=s: torch.cuda.stream(s)) for s in streams]


def serial_contexts(n: int) -> list[Callable[[], object]]:
    """:func:`round_robin` contexts that change nothing (a CPU, or a test's stand-in)."""
    return [nullcontext] * n
