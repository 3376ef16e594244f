"""Running checkpoints on an executor without losing any: a task that dies is retried once,
then recorded as failed, and every other checkpoint is still stored.

:meth:`Trajectory.compute <repscope.trajectory.Trajectory.compute>` uses :func:`run_contained`
for any ``concurrent.futures.Executor`` (threads, processes, a Dask cluster's
``client.get_executor()``).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from typing import Any

from .sources.base import Checkpoint
from .store import Record


def run_contained(
    job: Callable[..., list[Record]],
    todo: list[tuple[Checkpoint, str]],
    executor: cf.Executor,
    fail: Callable[..., list[Record]],
) -> Iterable[list[Record]]:
    """Run ``job(checkpoint, fingerprint=…)`` for each of ``todo`` in ``executor``; yield each
    checkpoint's records as it finishes, whatever happens to the other tasks.

    A task that raises (``job`` itself never does for a bad checkpoint, so this is the
    executor: a Dask worker killed while measuring it, ``distributed.KilledWorker``; a process
    pool broken by a worker that died, ``BrokenProcessPool``; a cancelled task) is submitted
    once more. If it raises again, or the executor refuses it, the checkpoint's records are
    ``fail(checkpoint, fingerprint=…, error=…)`` naming the error: stored as failed, and tried
    again by the next :meth:`Trajectory.compute`.

    A ``ProcessPoolExecutor`` that broke loses every task it held and accepts no more: those
    are run again one at a time in a one-process pool (the same start method; a new one after
    each death), so only a checkpoint that kills its process again fails, and the rest are
    stored.

    Parameters
    ----------
    job : callable
        ``job(checkpoint, fingerprint=str) -> list[Record]``, picklable for a process pool or
        a cluster.
    todo : list of (Checkpoint, str)
        The checkpoints and their fingerprints.
    executor : concurrent.futures.Executor
        Where the tasks run.
    fail : callable
        ``fail(checkpoint, fingerprint=str, error=str) -> list[Record]``: the records of a
        checkpoint that could not be measured.

    Yields
    ------
    list of Record
        One checkpoint's records at a time, in the order they finish.
    """
    pending = {executor.submit(job, c, fingerprint=fp): (c, fp, False) for c, fp in todo}
    orphans: list[tuple[Checkpoint, str]] = []
    while pending:
        # cf.wait misses a future cancelled without notice (``shutdown(cancel_futures=True)``
        # of a thread or process pool): it wakes at least once a second to look for those.
        cf.wait(pending, timeout=1.0, return_when=cf.FIRST_COMPLETED)
        for future in [f for f in pending if f.done()]:
            ckpt, fp, retried = pending.pop(future)
            records, error = _outcome(future)
            if error is None:
                yield records
                continue
            why = f"{ckpt.name}: {_describe_error(error)}"
            if not retried:
                try:  # another callable: Dask would hand a pure task's failed result back
                    pending[executor.submit(_Again(job), ckpt, fingerprint=fp)] = (ckpt, fp, True)
                    continue
                except Exception as refused:  # a broken pool, an executor shut down
                    if isinstance(executor, cf.ProcessPoolExecutor):
                        orphans.append((ckpt, fp))
                        continue
                    why += f"; the executor refused to run it again ({_describe_error(refused)})"
            else:
                why += " (on its second try)"
            yield fail(ckpt, fingerprint=fp, error=why)
    yield from _run_alone(job, orphans, getattr(executor, "_mp_context", None), fail)


def _run_alone(job, todo, context, fail) -> Iterable[list[Record]]:
    """Each checkpoint in a one-process pool, one at a time; a new pool after one breaks."""
    pool = None
    try:
        for ckpt, fp in todo:
            if pool is None:
                pool = cf.ProcessPoolExecutor(max_workers=1, mp_context=context)
            records, error = _outcome(pool.submit(job, ckpt, fingerprint=fp))
            if error is None:
                yield records
                continue
            if isinstance(error, cf.BrokenExecutor):  # the pool is unusable now
                pool.shutdown(wait=True)
                pool = None
            yield fail(
                ckpt,
                fingerprint=fp,
                error=f"{ckpt.name}: {_describe_error(error)} (run alone, after its pool broke)",
            )
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def _outcome(future: cf.Future) -> tuple[Any, BaseException | None]:
    """``(result, None)`` of a finished future, or ``(None, what it raised)``."""
    try:
        return future.result(), None
    except Exception as err:  # cf.CancelledError is an Exception too
        return None, err


def _describe_error(err: BaseException) -> str:
    """``"TypeName: message"`` on one line."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class _Again:
    """``job`` under another name, for its second try: Dask keys a task by its function and
    arguments, and submitting the same call again would be handed the failed task back."""

    def __init__(self, job: Callable[..., Any]):
        self.job = job

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.job(*args, **kwargs)
