"""The outbox worker: claim deliveries, send them concurrently under the rate, record them.

Slots: tasks on one event loop (the sender thread), each sending one message at a time
through the gateway. How many run follows the in-flight window (`window.py`): about the rate
times the latency observed, within `dispatch.max_in_flight`, halved when the provider
throttles. The token bucket holds the rate; the window only makes sure enough requests are
in flight to reach it. A slot hands the outcome of its last send to the journal thread and
asks for its next delivery in the same breath; the journal commits everything waiting in one
transaction (group commit): the outcomes, and a claim of exactly as many rows as slots asked
for, marked `sending`. The calling thread renews leases and reports progress.

So a row is `sending` only while its slot holds it, at most one per slot. After a crash the
rows found `sending` with an expired lease are uncertain: with a provider that keeps a log
(Twilio) the reconciler (`reconcile.py`) looks each one up there before anything is sent
again; with the console and file gateways they are resent or marked unknown
(`dispatch.on_expired_lease`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError

from alerts.config import DispatchSettings
from alerts.core.phones import mask_phone
from alerts.errors import AlertsError
from alerts.gateways.gateway import ErrorKind, GatewayError, OutgoingSms, message_log
from alerts.outbox.outbox import Outbox, retrying
from alerts.outbox.reconcile import Reconciler
from alerts.outbox.send_outcomes import MAYBE_SENT, Job, SendOutcome, Tally, is_systemic
from alerts.outbox.send_rate import SharedTokenBucket, TokenBucket, shared_bucket
from alerts.outbox.window import InFlightWindow
from alerts.sending.delivery_status import apply_pending_status_events
from alerts.wiring import Services

log = logging.getLogger(__name__)

# A wait for tokens longer than this first records the outcome a slot holds, so progress
# and status stay current on slow numbers.
_FLUSH_BEFORE_WAIT = 0.05
_THROTTLE_PAUSE = 1.0  # seconds every slot pauses after a 429 without Retry-After
_STOP_CHECK = 0.05  # how often a waiting slot looks whether the dispatcher was stopped
_SUPERVISE = 0.05  # how often the slots are matched to the window
_RECONCILE_BATCH = 500  # uncertain deliveries taken per reconciliation sweep, at most
# The provider refuses for going too fast: the window shrinks (Twilio's 20429 is HTTP 429,
# 30001 its sender queue overflow, 63018 a channel's rate limit).
_THROTTLED = frozenset({"20429", "30001", "63018", "http-429"})


class DispatchFailed(AlertsError):
    """The worker cannot go on (the database is unreachable); the queue is left intact."""


@dataclass
class DispatchReport:
    """What a worker did, and what is left."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    uncertain: int = 0  # rows found `sending` after their worker died: maybe sent twice
    looked_up: int = 0  # uncertain rows looked up in the provider's log
    reconciled: int = 0  # of those, found there: recorded as sent, not sent again
    unknown: int = 0  # of those, the look-ups kept failing: marked unknown
    remaining: int = 0
    stopped: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `alerts dispatch --json`."""
        return dict(self.__dict__)


ProgressCallback = Callable[[DispatchReport], None]


def run_worker(
    services: Services,
    *,
    until_idle: bool = False,
    alert_id: int | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    heartbeat: Callable[[], None] | None = None,
) -> DispatchReport:
    """Send queued deliveries (of one alert, if given) until stopped, or until none is left;
    `heartbeat` is called at start and then often (it writes no more than it needs to)."""
    dispatcher = Dispatcher(
        services, alert_id=alert_id, progress=progress, stop=stop, heartbeat=heartbeat
    )
    return dispatcher.run(until_idle)


@dataclass
class _Entry:
    outcome: SendOutcome | None
    want: bool
    renew: list[int] = field(default_factory=list)
    done: Callable[[], None] = lambda: None  # called by the journal thread once committed
    job: Job | None = None
    drained: bool = False  # no job because nothing is due (not because others took them)


def _waker(loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Future[None], Callable[[], None]]:
    """A future of `loop`, and a function any thread may call once to complete it."""
    future: asyncio.Future[None] = loop.create_future()

    def complete() -> None:
        if not future.done():
            future.set_result(None)

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            loop.call_soon_threadsafe(complete)

    return future, wake


class _Journal:
    """Commits the slots' outcomes and claims, everything waiting in one transaction."""

    def __init__(
        self,
        outbox: Outbox,
        settings: DispatchSettings,
        on_commit: Callable[[Tally], None],
    ) -> None:
        self._outbox = outbox
        self._idle_pause = settings.poll_seconds
        self._batch_size = settings.batch_size
        self._on_commit = on_commit
        self._entries: queue.Queue[_Entry | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="outbox-journal", daemon=True)
        self._nothing_until = 0.0  # after an empty claim, do not ask again before this
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._entries.put(None)
        self._thread.join()

    def renew(self, ids: list[int]) -> None:
        """Extend these leases with the next commit (without waiting for it)."""
        # Through the journal, not a transaction of its own: two transactions of one worker
        # updating the same rows in different orders would deadlock on PostgreSQL.
        self._entries.put(_Entry(None, False, ids))

    async def exchange(self, outcome: SendOutcome | None, want: bool) -> tuple[Job | None, bool]:
        """Record an outcome and, if wanted, claim the next job; and whether none is due."""
        committed, wake = _waker(asyncio.get_running_loop())
        entry = _Entry(outcome, want, done=wake)
        self._entries.put(entry)
        await committed
        if self.error is not None:
            raise DispatchFailed(f"dispatch stopped: cannot write to the database ({self.error})")
        return entry.job, entry.drained

    def _run(self) -> None:
        closing = False
        while not closing:
            first = self._entries.get()
            batch: list[_Entry] = [] if first is None else [first]
            closing = first is None
            while True:
                try:
                    entry = self._entries.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    closing = True
                else:
                    batch.append(entry)
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[_Entry]) -> None:
        outcomes = [e.outcome for e in batch if e.outcome is not None]
        askers = [e for e in batch if e.want]
        renewals = [delivery_id for e in batch for delivery_id in e.renew]
        # An empty queue stays empty for a moment: idle slots do not each query it.
        want = len(askers) if time.monotonic() >= self._nothing_until else 0
        want = min(want, self._batch_size)
        jobs: list[Job] = []
        tally = Tally()
        if outcomes or want or renewals:
            for attempt in range(6):
                try:
                    jobs, tally = self._outbox.commit(outcomes, want, renewals)
                    break
                except Exception as exc:
                    # A locked SQLite file or a PostgreSQL failover passes; anything else
                    # stops the worker, and no slot may be left waiting for an answer.
                    if not isinstance(exc, DBAPIError) or attempt == 5:
                        log.exception("cannot record deliveries")
                        self.error = exc
                        for entry in batch:
                            entry.done()
                        return
                    time.sleep(0.1 * 2**attempt)
            self._on_commit(tally)
        drained = bool(askers) and (tally.claimed < want or not want)
        if drained and want:
            self._nothing_until = max(self._nothing_until, time.monotonic() + self._idle_pause)
        for entry, job in zip(askers, jobs, strict=False):
            entry.job = job
        for entry in askers[len(jobs) :]:
            # A skipped row or the batch limit left this slot without a job: ask again now.
            entry.drained = drained
        for entry in batch:
            entry.done()


class Dispatcher:
    """One worker process's dispatcher; `run` blocks until stopped or idle."""

    def __init__(
        self,
        services: Services,
        *,
        alert_id: int | None = None,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
        bucket: TokenBucket | SharedTokenBucket | None = None,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.services = services
        self.heartbeat = heartbeat
        self.settings = services.settings.dispatch
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.outbox = Outbox(services, self.owner, alert_id)
        self.bucket = bucket or shared_bucket(services)
        self.progress = progress
        # `stop` belongs to the caller (a signal handler, the serve process): the dispatcher
        # only reads it. It halts itself with its own event, so a worker that has to stop
        # (bad credentials, a database outage) stops nothing else that watches `stop`.
        self.stop = stop or threading.Event()
        self.halt = threading.Event()
        self.report = DispatchReport()
        self._lock = threading.Lock()
        self._in_flight: set[int] = set()  # rows `sending` in this worker, for lease renewal
        self._running: set[int] = set()  # the slots alive, by number
        self._sending_since: dict[int, float] = {}  # job id -> when its request left
        self._idle: set[int] = set()  # slots whose last claim found nothing due
        self.window = InFlightWindow(self.settings.rate_per_second, self.settings.max_in_flight)
        provider_log = message_log(services.gateway)
        self.reconciler = (
            None
            if provider_log is None
            else Reconciler(services, self.owner, provider_log, _RECONCILE_BATCH)
        )
        self._journal = _Journal(self.outbox, self.settings, self._count)
        self._told_at = 0.0

    def run(self, until_idle: bool = False) -> DispatchReport:
        """Dispatch until `stop` is set, or (until_idle) until nothing is queued or sending."""
        if self.reconciler is None:
            self.report.uncertain += retrying(self.outbox.recover_expired)
        self._journal.start()
        sender = threading.Thread(target=self._sender, name="outbox-sender", daemon=True)
        sender.start()
        try:
            self._loop(until_idle)
        finally:
            self.halt.set()
            sender.join()
            self._journal.close()
        if self._journal.error is not None:
            raise DispatchFailed(
                f"dispatch stopped: cannot write to the database ({self._journal.error})"
            )
        retrying(self.outbox.finish_alerts)
        self.report.remaining = retrying(self.outbox.backlog)[0]
        self._tell(force=True)
        return self.report

    def _loop(self, until_idle: bool) -> None:
        poll = self.settings.poll_seconds
        renew_every = self.settings.lease_seconds / 3
        last_renew = last_sweep = last_idle_check = time.monotonic()
        while not self._stopping() and self._journal.error is None:
            if self.heartbeat is not None:
                self.heartbeat()  # "a worker is alive": `alerts send` leaves it the sending
            now = time.monotonic()
            if now - last_renew >= renew_every:
                with self._lock:
                    held = list(self._in_flight)
                self._journal.renew(held)
                last_renew = now
            if now - last_sweep >= poll:
                if self.reconciler is None:
                    self.report.uncertain += retrying(self.outbox.recover_expired)
                retrying(self.outbox.finish_alerts)
                retrying(lambda: apply_pending_status_events(self.services))
                if self.progress is not None:
                    self.report.remaining = retrying(self.outbox.backlog)[0]
                last_sweep = now
            self._tell()
            with self._lock:
                idle = self._running <= self._idle
            if until_idle and idle and now - last_idle_check >= min(poll, 0.25):
                last_idle_check = now
                if retrying(self.outbox.backlog)[0] == 0:
                    return
            self.halt.wait(min(poll, 0.05))

    def _stopping(self) -> bool:
        return self.halt.is_set() or self.stop.is_set()

    def _tell(self, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self._told_at >= 0.25:
            self._told_at = now
            self.progress(self.report)

    def _count(self, tally: Tally) -> None:
        with self._lock:
            self.report.sent += tally.sent
            self.report.failed += tally.failed
            self.report.skipped += tally.skipped
            self.report.retried += tally.retried

    # -- the sender thread: one event loop, a task per slot ---------------------------------

    def _sender(self) -> None:
        try:
            asyncio.run(self._run_slots())
        except Exception as exc:  # a bug: stop cleanly rather than lose the slots silently
            log.exception("dispatch sender failed")
            self.report.stopped = f"internal error: {type(exc).__name__}"
        finally:
            self.halt.set()

    async def _run_slots(self) -> None:
        """Keep as many slots alive as the window allows; reconcile beside them."""
        slots: dict[int, asyncio.Task[None]] = {}
        reconciling = None if self.reconciler is None else asyncio.create_task(self._reconcile())
        try:
            while not self._stopping():
                for number in [n for n, task in slots.items() if task.done()]:
                    del slots[number]  # beyond a smaller window, it left
                now = time.monotonic()
                self.window.in_flight([now - at for at in self._sending_since.values()])
                for number in range(self.window.limit):
                    if number not in slots:
                        slots[number] = asyncio.create_task(self._slot(number))
                await asyncio.sleep(_SUPERVISE)
            await asyncio.gather(*slots.values(), *([reconciling] if reconciling else []))
        finally:
            await self.services.gateway.aclose()

    async def _reconcile(self) -> None:
        """Look up the uncertain deliveries in the provider's log, sweep after sweep."""
        assert self.reconciler is not None
        while not self._stopping():
            try:
                done = await self.reconciler.sweep()
            except DBAPIError:
                log.exception("cannot reconcile uncertain deliveries now")
                done = None
            if done is not None:
                with self._lock:
                    self.report.looked_up += done.looked_up
                    self.report.reconciled += done.found
                    self.report.failed += done.failed
                    self.report.unknown += done.unknown
                if done.looked_up >= self.reconciler.batch:
                    continue  # more are waiting
            await self._pause(self.settings.poll_seconds)

    async def _slot(self, number: int) -> None:
        with self._lock:
            self._running.add(number)
        try:
            await self._slot_loop(number)
        except DispatchFailed:
            self.halt.set()  # the journal's error is raised again by run()
        except Exception as exc:  # a bug: stop cleanly rather than lose a slot silently
            log.exception("dispatch slot %s failed", number)
            self.report.stopped = f"internal error: {type(exc).__name__}"
            self.halt.set()
        finally:
            with self._lock:
                self._running.discard(number)
                self._idle.discard(number)

    async def _pause(self, seconds: float) -> bool:
        """Wait up to `seconds`; True as soon as the dispatcher is told to stop."""
        deadline = time.monotonic() + seconds
        while not self._stopping():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(left, _STOP_CHECK))
        return True

    async def _slot_loop(self, number: int) -> None:
        pending: SendOutcome | None = None  # the last send's outcome, not yet recorded
        prepaid = 0.0  # tokens taken for the next job before claiming it
        expected = 1.0  # what a job costs, as the last one did (segments of one alert match)
        probing = False  # the last claim found nothing due: claim before taking tokens
        try:
            while not self._stopping() and number < self.window.limit:
                if not prepaid and not probing:
                    # Wait for the rate before claiming, so a claimed row goes out at once:
                    # its opt-out check is fresh and it is `sending` only briefly.
                    prepaid, wait = expected, self.bucket.take(expected)
                    if wait > _FLUSH_BEFORE_WAIT and pending is not None:
                        await self._record(pending)
                        pending = None
                    if wait > 0 and await self._pause(wait):
                        break
                job, drained = await self._journal.exchange(pending, want=True)
                if pending is not None:
                    self._settled(pending.job)
                    pending = None
                if job is None:
                    # The token taken for this claim was not used: give it back. An idle slot
                    # then looks for work without taking tokens first, so idle slots hold
                    # none and cannot send in a burst when work arrives.
                    self.bucket.refund(prepaid)
                    prepaid = 0.0
                    if drained:
                        probing = True
                        with self._lock:
                            self._idle.add(number)
                        await self._pause(self.settings.poll_seconds)
                    continue
                probing = False
                with self._lock:
                    self._idle.discard(number)
                    self._in_flight.add(job.delivery_id)
                extra, prepaid, expected = job.cost - prepaid, 0.0, float(job.cost)
                if extra < 0:
                    self.bucket.refund(-extra)
                wait = self.bucket.take(extra) if extra > 0 else 0.0
                if wait > 0 and await self._pause(wait):
                    pending = SendOutcome(job)  # never sent: back to the queue
                    break
                pending = await self._send(job)
        finally:
            if prepaid:
                self.bucket.refund(prepaid)  # a slot beyond a smaller window hands it on
            with self._lock:
                self._idle.add(number)
            if pending is not None and self._journal.error is None:
                await self._record(pending)

    async def _record(self, outcome: SendOutcome) -> None:
        await self._journal.exchange(outcome, want=False)
        self._settled(outcome.job)

    def _settled(self, job: Job) -> None:
        with self._lock:
            self._in_flight.discard(job.delivery_id)

    async def _send(self, job: Job) -> SendOutcome:
        message = OutgoingSms(job.phone, job.body, reference=f"d{job.delivery_id}")
        started = self._sending_since[job.delivery_id] = time.monotonic()
        try:
            receipt = await self.services.gateway.send(message)
            self.window.observe(time.monotonic() - started)
            return SendOutcome(job, receipt=receipt)
        except GatewayError as exc:
            if (exc.code or "") not in MAYBE_SENT:  # an answer came: it took this long
                self.window.observe(time.monotonic() - started)
            if (exc.code or "") in _THROTTLED or exc.http_status == 429:
                self.window.throttled()
            if exc.kind is ErrorKind.RETRYABLE and (exc.retry_after or exc.http_status == 429):
                # The provider throttles the sender, not this number: every slot pauses.
                self.bucket.penalize(exc.retry_after or _THROTTLE_PAUSE)
            if is_systemic(exc):
                self.report.stopped = str(exc)
                self.halt.set()
            log.info("send to %s failed: %s", mask_phone(job.phone), exc.code)
            return SendOutcome(job, error=exc)
        except Exception as exc:  # a gateway bug must not kill the slot with a row in flight
            log.exception("gateway error sending delivery %s", job.delivery_id)
            error = GatewayError(
                f"gateway error: {type(exc).__name__}", kind=ErrorKind.OTHER, code="internal"
            )
            return SendOutcome(job, error=error)
        finally:
            del self._sending_since[job.delivery_id]
