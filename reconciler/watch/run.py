"""One watcher: the receiver on uvicorn and the worker, on one event loop and one session.

The receiver starts first, so deliveries are taken (durably) while the worker's start-up plans
run. One watcher per repo: a second one would take the first's claimed events on its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from reconciler.apply.audit_log import check_audit_log
from reconciler.connect import Connector
from reconciler.errors import ConfigError, ReconcilerError
from reconciler.private import private_folder
from reconciler.watch.app import EVENTS_PATH, create_app
from reconciler.watch.metrics import Metrics
from reconciler.watch.queue import EventQueue, queue_path
from reconciler.watch.repo import WatchedRepo
from reconciler.watch.worker import WatchSettings, Worker

log = logging.getLogger("reconciler.watch")
WATCH_LOCK = Path(".reconciler") / "watch.lock"


@dataclass(frozen=True)
class Listen:
    host: str
    port: int


def parse_listen(text: str) -> Listen:
    """`HOST:PORT` (`[::1]:8080` for IPv6); ConfigError naming the form otherwise."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(
            f"--listen {text!r} is not HOST:PORT", hint="for example --listen 127.0.0.1:8080"
        )
    return Listen(host, int(port))


@contextlib.contextmanager
def _one_watcher(root: Path) -> Iterator[None]:
    path = root / WATCH_LOCK
    private_folder(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise ConfigError(
                f"another watcher of this repo is running (lock file {path})",
                hint="stop it first; one watcher serves a repo",
            ) from exc
        yield
    finally:
        os.close(fd)


class _Server(uvicorn.Server):
    """uvicorn's server, stopping on SIGINT or SIGTERM and returning: uvicorn would raise the
    signal again after its shutdown and end the process there, before the watcher closes its
    queue and says what is left in it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stops = (signal.SIGINT, signal.SIGTERM)
        before = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)


def _bind(listen: Listen) -> socket.socket:
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listen.host, listen.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {listen.host}:{listen.port}: {exc.strerror or exc}"
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


async def run_watch(
    repo: WatchedRepo,
    connector: Connector,
    listen: Listen,
    secret: bytes,
    settings: WatchSettings,
) -> None:
    """Serve until SIGINT or SIGTERM; the queue keeps whatever the worker had not finished."""
    root = repo.state.root
    if settings.heal:
        check_audit_log(settings.audit_log)
    with _one_watcher(root), EventQueue(queue_path(root)) as queue:
        sock = _bind(listen)
        tier = repo.state.options.rate_tier
        async with connector.open(root, tier=tier) as session:
            metrics = Metrics()
            worker = Worker(repo, session, queue, metrics, settings)
            app = create_app(secret, queue, metrics, worker.wake)
            config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
            server = _Server(config)
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            log.info(
                "listening on http://%s:%d%s (heal: %s)",
                shown,
                port,
                EVENTS_PATH,
                "on" if settings.heal else "off: drift is only reported",
            )
            working = asyncio.create_task(worker.run())
            working.add_done_callback(lambda task: _worker_ended(task, server))
            try:
                await server.serve(sockets=[sock])
            finally:
                working.cancel()
                await asyncio.wait([working])  # ended; a failure is looked at below
                sock.close()
        waiting = queue.depth()
    log.info("stopped; %d event(s) wait in the queue for the next start", waiting)
    failure = None if working.cancelled() else working.exception()
    if failure is not None:
        # Exit 1, so a service manager sees the failure (the events are still queued).
        raise ReconcilerError(f"the worker stopped: {type(failure).__name__}: {failure}")


def _worker_ended(task: asyncio.Task[None], server: uvicorn.Server) -> None:
    """A worker that ends by itself is a bug: stop serving rather than take events nobody
    handles (they stay queued for the next start)."""
    if task.cancelled():
        return
    error = task.exception()
    log.error("the worker stopped (%s); stopping the receiver", error or "without an error")
    server.should_exit = True
