"""The digest schedule of `paperfeed serve`: every minute, a run of the sender
(digest/sender.py). From the day's send time (DIGEST_SEND_TIME in DIGEST_TIMEZONE) on, it
builds and sends the due editions; at any time it finishes what an earlier run left and
retries transient failures whose backoff has passed. Several servers may run it: the sender
lock lets one of them send, the others skip. A run that finds nothing to do costs a few
queries."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zoneinfo
from collections.abc import Callable

from paperfeed.clock import Clock, utcnow
from paperfeed.digest.sender import DigestSender, SendReport

log = logging.getLogger("paperfeed.digest")
TICK_SECONDS = 60.0


class DigestSchedule:
    def __init__(
        self,
        sender: DigestSender,
        *,
        send_time: str = "07:00",
        timezone: str = "UTC",
        clock: Clock = utcnow,
        tick: float = TICK_SECONDS,
    ) -> None:
        hours, minutes = send_time.split(":")
        self.send_at = dt.time(int(hours), int(minutes))
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.sender = sender
        self.clock = clock
        self.tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_stop: Callable[[], None] | None = None  # e.g. closing the runtime it uses

    def local_now(self) -> dt.datetime:
        return self.clock().replace(tzinfo=dt.UTC).astimezone(self.zone)

    def sending_time(self) -> bool:
        """Whether today's send time (local) has come."""
        return self.local_now().time() >= self.send_at

    def run_once(self) -> SendReport:
        """One scheduled run: retries always, new editions once the send time has come."""
        report = self.sender.send(retry_now=False, build=self.sending_time())
        if report.sent or report.failed or report.stopped:
            log.info(
                "digest: sent %d, skipped %d, failed %d%s",
                report.sent,
                report.skipped,
                report.failed,
                f" (stopped: {report.stopped})" if report.stopped else "",
            )
        return report

    def _loop(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception:  # the schedule outlives a bad run (logged, tried next tick)
                log.exception("digest: scheduled run failed")
            if self._stop.wait(self.tick):
                return

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="digest-schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self.on_stop is not None:
            self.on_stop()
