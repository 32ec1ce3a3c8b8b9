"""Start and stop the local stack's processes: Azurite, the Teams sink and the function app.

Used by `make serve`, `make demo`, the pytest fixtures and the benchmarks, so that they all start
things the same way and leave no process behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class StackError(RuntimeError):
    """A process of the local stack could not be started."""


def read_settings_values(path: Path) -> dict[str, str]:
    """The `Values` of a local.settings.json as strings (see `shared.settings.read_local_settings`)."""
    from shared.settings import read_local_settings

    return read_local_settings(path)


def python_exe() -> str:
    venv_python = ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_port(
    host: str, port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise StackError(f"process exited with code {proc.returncode} before {host}:{port} opened")
        time.sleep(0.05)
    raise StackError(f"{host}:{port} did not open within {timeout:.0f} s")


def azurite_connection_string(
    table_port: int, queue_port: int | None = None, blob_port: int | None = None, host: str = "127.0.0.1"
) -> str:
    parts = [
        "DefaultEndpointsProtocol=http",
        f"AccountName={AZURITE_ACCOUNT}",
        f"AccountKey={AZURITE_KEY}",
    ]
    if blob_port:
        parts.append(f"BlobEndpoint=http://{host}:{blob_port}/{AZURITE_ACCOUNT}")
    if queue_port:
        parts.append(f"QueueEndpoint=http://{host}:{queue_port}/{AZURITE_ACCOUNT}")
    parts.append(f"TableEndpoint=http://{host}:{table_port}/{AZURITE_ACCOUNT}")
    return ";".join(parts) + ";"


class ManagedProcess:
    """A child process in its own process group, stopped with SIGTERM then SIGKILL."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        ready_port: int | None = None,
        name: str = "",
        ready_timeout: float = 20.0,
        quiet: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.cwd = str(cwd) if cwd is not None else None
        self.ready_port = ready_port
        self.name = name or Path(self.argv[0]).name
        self.ready_timeout = ready_timeout
        self.quiet = quiet
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        out = subprocess.DEVNULL if self.quiet else None
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        if self.ready_port is not None:
            try:
                wait_port("127.0.0.1", self.ready_port, self.ready_timeout, self.proc)
            except StackError as exc:
                self.stop()
                raise StackError(f"{self.name}: {exc}") from None
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} is not running"
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        self.proc = None

    def __enter__(self) -> ManagedProcess:
        return self if self.running() else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def azurite_bin(name: str = "azurite") -> str:
    path = ROOT / "node_modules" / ".bin" / name
    if not path.exists():
        raise StackError(f"{path} is missing: run `npm ci` (make does it for you)")
    return str(path)


class Azurite:
    """Azurite's table and queue services (blob too when asked), in memory unless `location` is set."""

    def __init__(
        self,
        table_port: int = 0,
        queue_port: int = 0,
        blob_port: int | None = None,
        location: Path | None = None,
        quiet: bool = True,
    ) -> None:
        self.table_port = table_port or free_port()
        self.queue_port = queue_port or free_port()
        self.blob_port = blob_port
        self.location = location
        self.quiet = quiet
        self._tmp: str | None = None
        self._process: ManagedProcess | None = None

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.table_port, self.queue_port, self.blob_port)

    @property
    def pid(self) -> int:
        assert self._process is not None, "azurite is not running"
        return self._process.pid

    def start(self) -> Azurite:
        argv = [
            azurite_bin("azurite"),
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(self.table_port),
            "--queueHost",
            "127.0.0.1",
            "--queuePort",
            str(self.queue_port),
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ]
        if self.blob_port:
            argv += ["--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port)]
        else:
            # Blob is not used by our code; park it on a free port so it never clashes.
            argv += ["--blobHost", "127.0.0.1", "--blobPort", str(free_port())]
        if self.quiet:
            argv.append("--silent")
        if self.location is not None:
            self.location.mkdir(parents=True, exist_ok=True)
            argv += ["--location", str(self.location)]
            cwd = str(self.location)
        else:
            argv.append("--inMemoryPersistence")
            self._tmp = tempfile.mkdtemp(prefix="azurite-")
            cwd = self._tmp
        self._process = ManagedProcess(argv, cwd=cwd, name="azurite", quiet=self.quiet)
        self._process.start()
        assert self._process.proc is not None
        for port in (self.table_port, self.queue_port):
            try:
                wait_port("127.0.0.1", port, 30.0, self._process.proc)
            except StackError as exc:
                self.stop()
                raise StackError(f"azurite: {exc}") from None
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def devhost_process(
    port: int,
    env: Mapping[str, str],
    root: Path = ROOT,
    quiet: bool = True,
    settings_file: Path | None = None,
    extra_args: Sequence[str] = (),
) -> ManagedProcess:
    """The dev host serving the function folders under `root`, with `env` as its environment."""
    argv = [
        python_exe(),
        "-m",
        "tools.devhost",
        "--root",
        str(root),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if settings_file is not None:
        argv += ["--settings", str(settings_file)]
    argv += list(extra_args)
    full_env = dict(env)
    full_env["PYTHONPATH"] = str(ROOT)
    return ManagedProcess(argv, env=full_env, cwd=str(ROOT), ready_port=port, name="devhost", quiet=quiet)


def sink_process(
    port: int, quiet: bool = True, extra_args: Sequence[str] = (), budget: str | None = None
) -> ManagedProcess:
    """The Teams sink as a process; `budget` (e.g. the app's DELIVERY_BUDGET_WORKFLOWS) is its Flow bot
    budget per connection, else the sink reads $DELIVERY_BUDGET_WORKFLOWS itself (default 25/300)."""
    argv = [python_exe(), "-m", "tools.teams_sink", "--host", "127.0.0.1", "--port", str(port)]
    if budget is not None:
        argv += ["--budget", budget]
    argv += list(extra_args)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return ManagedProcess(argv, env=env, cwd=str(ROOT), ready_port=port, name="teams-sink", quiet=quiet)
