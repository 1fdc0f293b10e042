"""Rounds of tasks on the partitions, and the record of what crossed each boundary.

A round sends one task per partition (to the worker that holds it) and gathers the
tasks' results, which are sums of the size of the model. :class:`MessageLog` counts the
messages and their bytes (the pickled size of each task's arguments and of each result),
per round and in total. A worker lost mid-fit is recovered by Dask (its partitions are
read again on another worker, tasks retried) unless the partitions are pinned to it
(hospital mode): then the fit stops with :class:`~fairmtl.exceptions.ClusterError`,
never with a partial sum.
"""

from __future__ import annotations

import pickle
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fairmtl._optional import import_optional
from fairmtl.exceptions import ClusterError

__all__ = ["MessageLog", "Rounds", "MSG_WORKER_LOST", "MSG_CLUSTER_FAILED"]

MSG_WORKER_LOST = (
    "Worker {worker} left the cluster during the fit; it held the rows of {groups}, which "
    "in hospital mode stay on their own worker and are not read anywhere else. No partial "
    "result is returned. Restart that worker (or pin those groups to another one with "
    "workers=) and fit again."
)
MSG_CLUSTER_FAILED = (
    "The distributed fit stopped during its {kind!r} round: {error}. No partial result is "
    "returned. Check the workers' logs; Dask retried each task {retries} time(s)."
)
#: how often a round that waits on pinned partitions checks their workers (seconds)
POLL = 1.0
#: Dask's retries of a failed task
RETRIES = 2


def apply_each(func, parts: list, *args: Any) -> list:
    """``[func(part, *args) for part in parts]``: one task's work on one worker."""
    return [func(part, *args) for part in parts]


class PartHolder:
    """A Dask actor on one worker holding that worker's partitions.

    Calls to it go from the client to the worker directly; only ``apply``'s arguments
    and its model-sized results travel.
    """

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def apply(self, func, *args: Any) -> list:
        return apply_each(func, self.parts, *args)

    def clear(self) -> None:
        """Drop the partitions (the worker frees them now, not when the actor goes)."""
        self.parts = []


def message_bytes(obj: Any) -> int:
    """Bytes of ``obj`` as sent between processes (its pickled size)."""
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def largest_array(obj: Any) -> int:
    """Number of values in the largest numpy array inside ``obj`` (tuples, lists)."""
    if isinstance(obj, np.ndarray):
        return int(obj.size)
    if isinstance(obj, (tuple, list)):
        return max((largest_array(o) for o in obj), default=0)
    if isinstance(obj, dict):
        return max((largest_array(o) for o in obj.values()), default=0)
    return 1


@dataclass
class MessageLog:
    """Messages between the client and the workers, one entry per round.

    Attributes
    ----------
    rounds : list of tuple
        ``(kind, tasks, bytes sent, bytes received, largest result array)`` per round.
    """

    rounds: list[tuple[str, int, int, int, int]] = field(default_factory=list)

    def add(self, kind: str, sent: list[int], results: list) -> None:
        received = [message_bytes(r) for r in results]
        largest = max((largest_array(r) for r in results), default=0)
        self.rounds.append((kind, len(sent), sum(sent), sum(received), largest))

    def summary(self) -> dict[str, Any]:
        """Totals, per kind of round, and the per-round table."""
        kinds = Counter(r[0] for r in self.rounds)
        by_kind = {
            kind: {
                "rounds": count,
                "messages": 2 * sum(r[1] for r in self.rounds if r[0] == kind),
                "bytes_sent": sum(r[2] for r in self.rounds if r[0] == kind),
                "bytes_received": sum(r[3] for r in self.rounds if r[0] == kind),
            }
            for kind, count in kinds.items()
        }
        return {
            "rounds": len(self.rounds),
            "messages": 2 * sum(r[1] for r in self.rounds),
            "bytes_sent": sum(r[2] for r in self.rounds),
            "bytes_received": sum(r[3] for r in self.rounds),
            "largest_result_values": max((r[4] for r in self.rounds), default=0),
            "by_kind": by_kind,
            "per_round": [
                {"kind": k, "tasks": t, "bytes_sent": s, "bytes_received": b}
                for k, t, s, b, _ in self.rounds
            ],
        }


class Rounds:
    """Runs a function on every partition, one task per worker, and gathers the results.

    Each round sends one task to each worker that holds partitions; the task applies the
    function to each of them there and returns their results (model-sized), so a round
    costs two messages per worker, whatever the number of partitions.

    Parameters
    ----------
    client : distributed.Client
    parts : list of Future
        The partitions, held on the workers.
    pinned : list of str or None
        The worker of each partition (hospital mode), or None: Dask keeps the partitions
        where they were computed and may move or recompute them (a lost worker).
    owners : list of str
        What each partition holds, named in errors (its groups).
    """

    def __init__(self, client, parts: list, pinned: list[str] | None, owners: list[str]):
        self.client, self.pinned, self.owners = client, pinned, owners
        self.parts = parts
        self.log = MessageLog()

    @property
    def parts(self) -> list:
        return self._parts

    @parts.setter
    def parts(self, parts: list) -> None:
        self._parts, self._batches, self._holders, self._holding = parts, None, None, False
        self._holder_futures: list = []

    def batches(self) -> list[tuple[str | None, list[int]]]:
        """``(worker, partition indices)`` of each task of a round."""
        if self._batches is None:
            if self.pinned is not None:
                where = self.pinned
            else:
                distributed = import_optional("distributed", "A distributed fit")
                with self.client.as_current():  # wait() asks for the current client
                    distributed.wait(self.parts)
                holders = self.client.who_has(self.parts)
                where = [min(holders.get(p.key) or ("",)) for p in self.parts]
            groups: dict[str, list[int]] = {}
            for k, worker in enumerate(where):
                groups.setdefault(worker, []).append(k)
            self._batches = [(w or None, ks) for w, ks in sorted(groups.items())]
        return self._batches

    def run(self, kind: str, func, *args: Any) -> list:
        """``func(part, *args)`` on every partition; the results in partition order.

        Once the partitions are held (:meth:`hold`), a round calls each worker's
        :class:`PartHolder` directly (no scheduler on the way: a few milliseconds a
        round). If that fails (a worker lost), the round runs again as Dask tasks, which
        Dask retries and whose lost partitions it computes again elsewhere; the holders
        are then rebuilt where the partitions now are.
        """
        batches = self.batches()
        results = None
        if self._holding:
            try:
                results = self._call_holders(batches, func, args)
            except Exception:  # a lost worker, or func's own error: the tasks say which
                self.check_workers()
                self._holders = None
        if results is None:
            results = self._run_tasks(kind, batches, func, args)
            self._batches = None  # where the partitions are now
        self.log.add(kind, [message_bytes(args)] * len(batches), results)
        out: list = [None] * len(self.parts)
        for (_, ks), found in zip(batches, results, strict=True):
            for k, r in zip(ks, found, strict=True):
                out[k] = r
        return out

    def hold(self, parts: list) -> None:
        """Use ``parts`` from now on, each worker's partitions held by a :class:`PartHolder`."""
        self.parts = parts
        self._holding = True

    def close(self) -> None:
        """Release the partitions and their holders: the workers free their rows now,
        not when the client's garbage collector next finds this object."""
        if self._holders:
            try:
                with self.client.as_current():
                    for call in [holder.clear() for holder in self._holders]:
                        call.result(timeout=10 * POLL)
            except Exception:  # noqa: BLE001 - a worker gone (its rows went with it) or slow
                pass
        for future in [*self._holder_futures, *self._parts]:
            if hasattr(future, "release"):
                future.release()
        self.parts = []

    def _call_holders(self, batches, func, args) -> list:
        with self.client.as_current():  # actor handles find their client as the current one
            if self._holders is None:
                created = [
                    self.client.submit(PartHolder, [self.parts[k] for k in ks], actor=True,
                                       pure=False, **self._place(worker))
                    for worker, ks in batches
                ]  # fmt: skip
                self._holders = [self._await(f) for f in created]
                self._holder_futures = created  # the actors live while these are held
            calls = [holder.apply(func, *args) for holder in self._holders]
            return [self._await(call) for call in calls]

    def _await(self, call):
        """A result; an error if a worker it needs leaves meanwhile (a call to a worker
        that died would otherwise wait for ever)."""
        while True:
            try:
                return call.result(timeout=POLL)
            except TimeoutError:
                self.check_workers()
                alive = set(self.client.scheduler_info(n_workers=-1)["workers"])
                lost = [h._address for h in self._holders or [] if h._address not in alive]
                if lost:
                    raise ConnectionError(f"worker(s) {lost} left the cluster") from None

    def _run_tasks(self, kind: str, batches, func, args) -> list:
        futures = [
            self.client.submit(apply_each, func, [self.parts[k] for k in ks], *args,
                               pure=False, retries=RETRIES, **self._place(worker))
            for worker, ks in batches
        ]  # fmt: skip
        return self.gather(kind, futures)

    def submit_each(self, func, *args: Any) -> list:
        """Futures of ``func(part, *args)``, each on its partition's worker (kept there)."""
        where = {k: w for w, ks in self.batches() for k in ks}
        return [
            self.client.submit(func, part, *args, pure=False, retries=RETRIES,
                               **self._place(where[k]))
            for k, part in enumerate(self.parts)
        ]  # fmt: skip

    def _place(self, worker: str | None) -> dict[str, Any]:
        """Pinned partitions: only their worker; otherwise where they are, if it can."""
        if worker is None:
            return {}
        return {"workers": [worker], "allow_other_workers": self.pinned is None}

    def gather(self, kind: str, futures: list) -> list:
        """The futures' results, or a :class:`ClusterError` saying what was lost."""
        distributed = import_optional("distributed", "A distributed fit")
        try:
            if self.pinned is not None:
                self._wait_pinned(distributed, futures)
            return self.client.gather(futures)
        except ClusterError:
            raise
        except (distributed.client.FutureCancelledError, distributed.scheduler.KilledWorker,
                distributed.comm.CommClosedError, OSError) as e:  # fmt: skip
            text = f"{type(e).__name__}: {e}"
            raise ClusterError(
                MSG_CLUSTER_FAILED.format(kind=kind, error=text, retries=RETRIES)
            ) from e
        finally:
            for f in futures:
                f.release()

    def _wait_pinned(self, distributed, futures: list) -> None:
        """Wait for pinned tasks, checking that their workers are still there."""
        while True:
            try:
                with self.client.as_current():
                    distributed.wait(futures, timeout=POLL)
                return
            except distributed.TimeoutError:
                self.check_workers()

    def check_workers(self) -> None:
        """Raise :class:`ClusterError` if a worker holding pinned partitions has left."""
        if self.pinned is None:
            return
        alive = set(self.client.scheduler_info(n_workers=-1)["workers"])
        for worker in dict.fromkeys(self.pinned):
            if worker not in alive:
                groups = sorted(
                    {o for o, w in zip(self.owners, self.pinned, strict=True) if w == worker}
                )
                raise ClusterError(MSG_WORKER_LOST.format(worker=worker, groups=groups))
