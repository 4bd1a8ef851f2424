"""Condition x seed runs as Dask tasks: a laptop, a workstation or a cluster, the same results.

Each run is one task, ``train_run(config, folder)``, that trains ``config`` (a TrainConfig as a dict) into
``folder`` and returns the folder. The task is idempotent, so Dask may run it again at any time:

- a folder whose metrics.json says ``complete`` (and holds the same config) is returned at once (a rerun of a
  hypothesis skips finished runs);
- a run trains in ``<folder>.partial`` and is renamed to ``<folder>`` only when complete (one ``os.replace``), so
  a reader never sees a half-written run; a task that is retried after its worker was killed resumes the
  ``.partial`` folder from its last checkpoint (``csdm train --resume`` semantics), or starts it afresh when that
  checkpoint cannot be used;
- torch runs on one thread inside a task (Dask's workers already set ``OMP_NUM_THREADS=1``), so a task gives the
  same numbers in the serial path, on a LocalCluster and on a remote worker.

Where the tasks run (:func:`execute`):

- ``workers=0`` and no scheduler: serially in this process (tests, debugging);
- ``workers=N``: a ``dask.distributed.LocalCluster`` of N worker processes with one thread each;
- ``scheduler="tcp://HOST:PORT"``: an existing cluster. By hand on one machine::

      dask scheduler --host 127.0.0.1 --port 8786 &
      dask worker tcp://127.0.0.1:8786 --nthreads 1 --nworkers 4 &
      csdm hypothesis run subtract-beats-mask --scheduler tcp://127.0.0.1:8786 --out hyp/sbm

  The workers must import this package (same environment) and see ``--out`` at the same path (a shared file
  system on a cluster). On Slurm or PBS, dask-jobqueue starts the workers as batch jobs::

      from dask_jobqueue import SLURMCluster
      cluster = SLURMCluster(cores=1, processes=1, memory="4GB", walltime="04:00:00",
                             job_extra_directives=["--gres=gpu:1"])   # one run per job; add a GPU per run
      cluster.scale(jobs=20)
      print(cluster.scheduler_address)   # pass it as --scheduler, or call run_hypothesis(..., scheduler=...)

  (``pip install dask-jobqueue``; ``PBSCluster`` for PBS.) A worker lost with its job (pre-emption, time
  limit) has its tasks rescheduled by Dask (``distributed.scheduler.allowed-failures``, 3 by default).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from experiments.rundir import RunDirError

PARTIAL = ".partial"


def config_key(config: dict) -> str:
    """A short, stable hash of a run's config (folder names, Dask keys)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def is_complete(folder: Path, config: dict | None = None) -> bool:
    """True when ``folder`` holds a finished run (of ``config``, when given)."""
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        stored = json.loads((folder / "config.json").read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if metrics.get("complete") is not True:
        return False
    return config is None or all(stored.get(k) == v for k, v in config.items() if k != "device")


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_run(config: dict, folder: str) -> str:
    """Dask task: train ``config`` into ``folder`` unless it holds the finished run already; return ``folder``."""
    from experiments.config import TrainConfig
    from experiments.train import run_training

    final = Path(folder)
    cfg = TrainConfig(**config)
    if is_complete(final, cfg.model_dump()):
        return folder
    partial = final.with_name(final.name + PARTIAL)
    with _one_thread():
        try:
            run_training(cfg, partial, resume=(partial / "config.json").exists(), progress=False)
        except RunDirError:  # a .partial that cannot be resumed (damaged, other settings): start it again
            run_training(cfg, partial, overwrite=True, progress=False)
    if final.exists():  # an incomplete or foreign run where the finished one goes: replaced, never read
        shutil.rmtree(final)
    os.replace(partial, final)
    return folder


def execute(jobs: Sequence[tuple[dict, str]], *, workers: int = 0, scheduler: str | None = None) -> list[str]:
    """Run ``train_run(config, folder)`` for every job (see the module docstring for where); return the folders
    in the order of ``jobs``. Jobs already complete on disk are not submitted."""
    if workers < 0:
        raise ValueError(f"--workers must be >= 0 (0: run serially in this process). Got {workers}.")
    if workers and scheduler:
        raise ValueError("give --workers (a LocalCluster) or --scheduler (an existing cluster), not both.")
    todo = [(c, f) for c, f in jobs if not is_complete(Path(f), c)]
    if todo and scheduler is None and workers == 0:
        for config, folder in todo:
            train_run(config, folder)
    elif todo:
        with _client(workers, scheduler) as client:
            futures = client.map(train_run, [c for c, _ in todo], [f for _, f in todo],
                                 key=[f"csdm-train-{Path(f).name}-{config_key(c)}" for c, f in todo], pure=False)
            client.gather(futures)
    return [f for _, f in jobs]


def import_learners() -> None:
    """Import the learners (Brian2 among them) in a worker's main thread: Brian2 installs a SIGINT handler when
    imported, which Python allows only in the main thread, and Dask runs tasks in a thread pool."""
    import experiments.train  # noqa: F401


def _preload_plugin():
    from dask.distributed import WorkerPlugin

    class ImportLearners(WorkerPlugin):
        """Runs :func:`import_learners` on every worker, also on one that joins or restarts later."""

        name = "csdm-import-learners"

        def setup(self, worker) -> None:  # called on the worker's event loop, in its main thread
            import_learners()

    return ImportLearners()


@contextlib.contextmanager
def _client(workers: int, scheduler: str | None) -> Iterator:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--workers/--scheduler need dask.distributed: pip install 'dask[distributed]'.") from None
    with _connect(Client, LocalCluster, workers, scheduler) as client:
        client.register_plugin(_preload_plugin())
        yield client


@contextlib.contextmanager
def _connect(Client, LocalCluster, workers: int, scheduler: str | None) -> Iterator:  # noqa: N803
    if scheduler is not None:
        if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise ValueError(f"--scheduler must be an address such as tcp://127.0.0.1:8786. Got {scheduler!r}.")
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ValueError(f"--scheduler {scheduler}: cannot connect ({exc}); is `dask scheduler` running?") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client
