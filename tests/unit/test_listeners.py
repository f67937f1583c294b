"""serve's listening sockets: one per worker with SO_REUSEPORT on Linux, one shared
elsewhere or when the option is refused; a taken port stays an error; each worker slot
(and its replacement) serves its own socket. tests/system/test_workers.py checks that the
kernel then spreads connections over real workers."""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn import Config

from verify_service import listeners
from verify_service.listeners import Supervisor, bind

linux_only = pytest.mark.skipif(
    not listeners.reuse_port_supported(), reason="SO_REUSEPORT balancing is Linux's"
)


@pytest.fixture
def opened() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def reuse_port(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))


@linux_only
def test_one_listening_socket_per_worker_on_one_port(opened: list[socket.socket]) -> None:
    opened += listeners.listeners("127.0.0.1", 0, 3)
    assert len(opened) == 3
    assert len({s.getsockname()[1] for s in opened}) == 1  # port 0 resolved once for all
    assert all(reuse_port(s) for s in opened)
    assert len({s.fileno() for s in opened}) == 3  # distinct sockets, not one shared
    # the kernel hands each new connection to one of them
    port = opened[0].getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(24)]
    try:
        accepted = 0
        for sock in opened:
            sock.setblocking(False)
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                accepted += 1
        assert accepted == 24
    finally:
        for client in clients:
            client.close()


def test_one_worker_gets_one_plain_socket(opened: list[socket.socket]) -> None:
    opened += listeners.listeners("127.0.0.1", 0, 1)
    assert len(opened) == 1
    if hasattr(socket, "SO_REUSEPORT"):
        assert not reuse_port(opened[0])


def test_a_taken_port_is_an_error_not_a_share(opened: list[socket.socket]) -> None:
    # another program listening (with SO_REUSEPORT, even) keeps its port to itself
    other = socket.socket()
    opened.append(other)
    if hasattr(socket, "SO_REUSEPORT"):
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen()
    port = other.getsockname()[1]
    for workers in (1, 4):
        with pytest.raises(OSError) as caught:
            opened += listeners.listeners("127.0.0.1", port, workers)
        assert caught.value.errno == errno.EADDRINUSE


def test_without_so_reuseport_the_workers_share_one_socket(
    opened: list[socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listeners, "reuse_port_supported", lambda: False)
    opened += listeners.listeners("127.0.0.1", 0, 4)
    assert len(opened) == 1


@linux_only
def test_a_refused_so_reuseport_falls_back_to_one_socket(
    opened: list[socket.socket], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_bind = listeners.bind

    def refusing(host: str, port: int, **options: Any) -> socket.socket:
        if options.get("reuse_port"):
            raise OSError(errno.ENOPROTOOPT, "Protocol not available")
        return real_bind(host, port, **options)

    monkeypatch.setattr(listeners, "bind", refusing)
    with caplog.at_level("WARNING", logger="verify_service"):
        opened += listeners.listeners("127.0.0.1", 0, 4)
    assert len(opened) == 1
    assert not reuse_port(opened[0])
    assert "the 4 workers share one socket" in caplog.text


# --- the supervisor: which socket each worker slot serves ---------------------------------


class FakeProcess:
    """Stands in for uvicorn's worker process: records its socket, dies on demand."""

    started: list[FakeProcess] = []

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.alive = True
        self.exitcode: int | None = None
        self.pid = len(FakeProcess.started) + 1000

    def start(self) -> None:
        FakeProcess.started.append(self)

    def is_alive(self, timeout: float = 5) -> bool:
        return self.alive

    def wait_until_ready(self, timeout: float, should_exit: threading.Event | None) -> bool:
        return True

    def kill(self) -> None:
        self.alive = False
        self.exitcode = -9 if self.exitcode is None else self.exitcode

    def terminate(self) -> None:
        self.alive = False

    def join(self) -> None:
        pass


@pytest.fixture
def supervisor(opened: list[socket.socket], monkeypatch: pytest.MonkeyPatch) -> Supervisor:
    monkeypatch.setattr(listeners, "Process", FakeProcess)
    FakeProcess.started = []
    first = bind("127.0.0.1", 0, reuse_port=hasattr(socket, "SO_REUSEPORT"))
    port = first.getsockname()[1]
    opened += [first] + [
        bind("127.0.0.1", port, reuse_port=hasattr(socket, "SO_REUSEPORT")) for _ in range(2)
    ]
    config = Config("verify_service.api.app:create_app_from_env", factory=True, workers=3)
    return Supervisor(config, list(opened), "127.0.0.1")


def served(s: Supervisor) -> list[socket.socket]:
    return [p.sockets[0] for p in s.processes]  # type: ignore[attr-defined]


@linux_only
def test_each_worker_slot_serves_its_own_socket(
    supervisor: Supervisor, opened: list[socket.socket]
) -> None:
    supervisor.init_processes()
    assert served(supervisor) == opened
    # a worker that dies is replaced on its slot's socket
    supervisor.processes[1].alive = False  # type: ignore[attr-defined]
    supervisor.keep_subprocess_alive()
    assert len(FakeProcess.started) == 4
    assert served(supervisor) == opened
    # a rolling restart keeps every slot's socket
    supervisor.restart_all()
    assert len(FakeProcess.started) == 7
    assert served(supervisor) == opened


@linux_only
def test_adding_and_removing_workers_adds_and_closes_sockets(
    supervisor: Supervisor, opened: list[socket.socket]
) -> None:
    supervisor.init_processes()
    supervisor.handle_ttin()
    assert len(supervisor.sockets) == 4
    fourth = supervisor.sockets[3]
    opened.append(fourth)
    assert served(supervisor)[3] is fourth
    assert fourth.getsockname() == opened[0].getsockname()
    supervisor.handle_ttou()
    assert len(supervisor.processes) == 3
    assert len(supervisor.sockets) == 3
    assert fourth.fileno() == -1  # closed: the kernel sends nothing more to it


def test_one_shared_socket_serves_every_slot(
    opened: list[socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listeners, "Process", FakeProcess)
    FakeProcess.started = []
    opened.append(bind("127.0.0.1", 0))
    config = Config("verify_service.api.app:create_app_from_env", factory=True, workers=3)
    supervisor = Supervisor(config, list(opened), "127.0.0.1")
    supervisor.init_processes()
    supervisor.handle_ttin()
    assert served(supervisor) == opened * 4
    assert supervisor.sockets == opened
