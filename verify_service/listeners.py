"""The listening sockets of `verify-service serve`, and uvicorn's worker supervisor with one
socket per worker.

uvicorn's `--workers N` gives every worker the same listening socket: whichever worker
wakes first accepts what is queued, a busy worker may take several connections at once,
and keep-alive connections stay where they landed, so a burst of connections (a load
balancer opening its pool) can leave workers idle for as long as the connections live
(docs/performance.md, "Worker balance": 2 workers, 32 connections: one served ~99 %).

On Linux each worker slot gets a socket of its own, all bound to the same address with
`SO_REUSEPORT`: the kernel then spreads new connections over the sockets by a hash of
their addresses and ports (socket(7)), whatever the workers are doing. The supervisor
(the parent process) keeps every socket open, so a worker that dies and is replaced
leaves its connections queued for its replacement rather than refused. Where
`SO_REUSEPORT` is missing or does not balance (not Linux: BSD and macOS do not spread
TCP connections this way) the workers share one socket, as uvicorn's do.

Only the listener of the first bind decides whether the port is free: it binds without
`SO_REUSEPORT`, so a port that another program (or another verify-service) holds is an
error, never a share of its connections."""

from __future__ import annotations

import logging
import socket
import sys

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

log = logging.getLogger("verify_service")

BACKLOG = 2048  # uvicorn's default


def reuse_port_supported() -> bool:
    """Whether the kernel spreads connections over sockets bound with SO_REUSEPORT."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind(host: str, port: int, *, listen: bool = True, reuse_port: bool = False) -> socket.socket:
    """A socket bound as uvicorn would bind it (SO_REUSEADDR, the first address of
    `host`), listening unless told otherwise, inheritable by the workers. Raises OSError
    (port taken, no such address, not allowed)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if listen:
            # Listening from here on: a request sent right after start-up waits in the
            # backlog until a worker has started, instead of being refused.
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # the workers are child processes
    return sock


def listeners(host: str, port: int, workers: int) -> list[socket.socket]:
    """The sockets to serve on: one per worker (SO_REUSEPORT) where the kernel balances
    them, else one for all. Raises OSError when the address cannot be bound at all."""
    if workers <= 1 or not reuse_port_supported():
        return [bind(host, port)]
    # Is the port free? A plain bind says so (a SO_REUSEPORT one would join another
    # program's group of the same user); port 0 picks the port all workers then share.
    probe = bind(host, port, listen=False)
    port = probe.getsockname()[1]
    probe.close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sockets.append(bind(host, port, reuse_port=True))
    except OSError as exc:
        for sock in sockets:
            sock.close()
        log.warning(
            "SO_REUSEPORT is not available here (%s): the %d workers share one socket",
            exc.strerror or exc,
            workers,
        )
        return [bind(host, port)]
    return sockets


class Supervisor(Multiprocess):
    """uvicorn's supervisor (health checks, restarts, signals), each worker slot serving
    the socket of its own: slot i serves `sockets[i % len(sockets)]`, so with one socket
    every worker shares it as in uvicorn. A replaced worker (died, or SIGHUP's rolling
    restart) takes over its slot's socket; SIGTTIN adds a slot with a new socket, SIGTTOU
    removes the last slot and closes its socket (the kernel then stops sending to it;
    connections queued there but not yet accepted are reset)."""

    def __init__(self, config: Config, sockets: list[socket.socket], host: str) -> None:
        super().__init__(config, sockets)
        self.host = host

    def _start(self, slot: int) -> Process:
        process = Process(self.config, [self.sockets[slot % len(self.sockets)]])
        process.start()
        return process

    def init_processes(self) -> None:
        for slot in range(self.processes_num):
            self.processes.append(self._start(slot))

    def restart_all(self) -> None:
        # uvicorn's, with the slot's socket: the replacement serves before the old one goes
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._start(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    log.error(
                        "new worker [%s] was not ready in time; keeping worker [%s] and "
                        "aborting the restart",
                        new.pid,
                        old.pid,
                    )
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def keep_subprocess_alive(self) -> None:
        # uvicorn's replaces a dead worker with one on self.sockets, all of them: do it
        # here first, slot by slot, and leave uvicorn nothing to replace
        if self.should_exit.is_set():
            return
        for slot, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker [%s] failed to start, stopping", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            log.info("worker [%s] died", process.pid)
            self.processes[slot] = self._start(slot)

    def handle_ttin(self) -> None:
        log.info("Received SIGTTIN, adding a worker")
        slot = len(self.processes)
        if len(self.sockets) > 1 and slot >= len(self.sockets):
            port = self.sockets[0].getsockname()[1]
            self.sockets.append(bind(self.host, port, reuse_port=True))
        self.processes_num += 1
        self.processes.append(self._start(slot))

    def handle_ttou(self) -> None:
        log.info("Received SIGTTOU, removing a worker")
        if self.processes_num <= 1:
            log.info("one worker left: not removing it")
            return
        self.processes_num -= 1
        process = self.processes.pop()
        process.terminate()
        process.join()
        if len(self.sockets) > 1 and len(self.sockets) > len(self.processes):
            self.sockets.pop().close()
