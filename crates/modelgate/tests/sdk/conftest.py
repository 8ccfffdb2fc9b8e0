"""Session fixtures: the provider simulator, the gateway in front of it, SDK clients
and an admin-API helper.

The binary is $MODELGATE_BIN, else target/debug/modelgate of this workspace
(`cargo build -p modelgate`).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn

import httpx
import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import (  # noqa: E402
    CLIENT_TIMEOUT_S,
    INPUT_PER_MTOK,
    NATIVE_MODELS,
    OUTPUT_PER_MTOK,
    SIM_CIRCUIT,
    SIM_DEPRECATED,
    SIM_MODEL,
    SIM_MODELS,
    SIM_REFUSED,
    new_client,
    unique,
)

HERE = Path(__file__).resolve().parent
DEFAULT_BIN = HERE / ".." / ".." / ".." / ".." / "target" / "debug" / "modelgate"
STARTUP_TIMEOUT_S = 30.0


def modelgate_bin() -> Path:
    path = Path(os.environ.get("MODELGATE_BIN") or DEFAULT_BIN).resolve()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.exit(
            f"modelgate binary not found at {path}: run `cargo build -p modelgate` "
            "or set MODELGATE_BIN",
            returncode=2,
        )
    return path


def child_env(**extra: str) -> dict[str, str]:
    """The test's environment without any provider credentials, so that the built-in
    providers (openai, anthropic, …) are really unconfigured and nothing leaves the host."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith("MODELGATE_")
    }
    env.update(extra)
    return env


class Proc:
    """A child process whose stdout is read line by line on a thread and whose stderr
    goes to a file (so that a chatty child can never block on a full pipe)."""

    def __init__(self, name: str, args: list[str], workdir: Path, env: dict[str, str]):
        self.name = name
        self.args = args
        self.stderr_path = workdir / f"{name}.stderr.log"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            args,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout_seen: list[str] = []
        threading.Thread(target=self._pump, name=f"{name}-stdout", daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\r\n"))
        self.lines.put(None)

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-8000:]
        except OSError as e:
            return f"<cannot read {self.stderr_path}: {e}>"

    def expect_line(self, prefix: str, timeout: float = STARTUP_TIMEOUT_S) -> str:
        """The rest of the next stdout line starting with `prefix`; fails the session
        with the child's stderr if it does not come in time."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise queue.Empty
                line = self.lines.get(timeout=left)
            except queue.Empty:
                self._fail(f"did not print {prefix!r} within {timeout:.0f} s")
            if line is None:
                self.proc.wait(timeout=5)
                self._fail(f"exited with code {self.proc.returncode} before printing {prefix!r}")
            self.stdout_seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix):].strip()

    def _fail(self, what: str) -> NoReturn:
        self.stop()
        seen = "\n".join(self.stdout_seen) or "<nothing>"
        pytest.fail(
            f"{self.name} ({' '.join(self.args)}) {what}.\n"
            f"--- stdout so far ---\n{seen}\n--- stderr ({self.stderr_path}) ---\n"
            f"{self.stderr_text()}",
            pytrace=False,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._stderr.close()


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sim_model_toml(model_id: str, provider: str, extra: str = "") -> str:
    return f"""
[[models]]
id = {toml_str(model_id)}
name = {toml_str("Simulated " + model_id)}
operations = ["chat_completions"]
context_window = 128000
max_output_tokens = 4096
pricing = {{ input_per_mtok = {INPUT_PER_MTOK}, output_per_mtok = {OUTPUT_PER_MTOK} }}
routes = [{{ provider = {toml_str(provider)}, upstream_model = "gpt-4o" }}]
{extra}"""


def write_config(
    workdir: Path,
    sim_addr: str,
    models: dict[str, str],
    *,
    consecutive_failures: int,
    cooldown_ms: int = 30000,
) -> Path:
    db = (workdir / "gw.db").resolve()
    parts = [
        f"""[storage]
database_url = {toml_str("sqlite://" + str(db))}
files_dir = {toml_str(str((workdir / "files").resolve()))}

[retry]
max_retries = 3
base_delay_ms = 1
max_delay_ms = 20

[health]
consecutive_failures = {consecutive_failures}
cooldown_ms = {cooldown_ms}
"""
    ]
    for provider in sorted(set(models.values())):
        parts.append(
            f"""
[[providers]]
id = {toml_str(provider)}
kind = "openai"
base_url = {toml_str(f"http://{sim_addr}/v1")}
"""
        )
    for model_id, provider in models.items():
        extra = ""
        if model_id == SIM_DEPRECATED:
            extra = f'retired_on = "2099-06-30"\nreplacement = {toml_str(SIM_MODEL)}\n'
        parts.append(sim_model_toml(model_id, provider, extra))
    parts.append(native_kinds_toml(sim_addr))
    # Port 9 (discard) on loopback refuses connections: 503 after the gateway's retries.
    parts.append('\n[[providers]]\nid = "sim-refused"\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n')
    parts.append(sim_model_toml(SIM_REFUSED, "sim-refused"))
    path = workdir / "modelgate.toml"
    path.write_text("".join(parts))
    return path


def native_kinds_toml(sim_addr: str) -> str:
    """The simulator's Anthropic and Gemini faces, behind `sim/claude` and `sim/gemini`."""
    models = ""
    for model_id, provider, upstream in NATIVE_MODELS:
        models += f"""
[[models]]
id = {toml_str(model_id)}
operations = ["chat_completions"]
context_window = 200000
max_output_tokens = 64000
pricing = {{ input_per_mtok = {INPUT_PER_MTOK}, output_per_mtok = {OUTPUT_PER_MTOK} }}
reasoning_efforts = ["low", "medium", "high"]
routes = [{{ provider = {toml_str(provider)}, upstream_model = {toml_str(upstream)} }}]
"""
    return f"""
[[providers]]
id = "sim-anthropic"
kind = "anthropic"
base_url = {toml_str(f"http://{sim_addr}")}

[[providers]]
id = "sim-gemini"
kind = "gemini"
base_url = {toml_str(f"http://{sim_addr}")}
{models}"""


@dataclass
class Gateway:
    addr: str
    api_key: str
    admin_token: str
    proc: Proc
    config: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.addr}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.addr}"


def start_gateway(workdir: Path, config: Path) -> Gateway:
    admin_token = "mgadm-" + uuid.uuid4().hex
    proc = Proc(
        "gateway",
        [
            str(modelgate_bin()),
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--config",
            str(config),
        ],
        workdir,
        child_env(MODELGATE_ADMIN_TOKEN=admin_token, RUST_BACKTRACE="1"),
    )
    addr = proc.expect_line("listening on")
    key = proc.expect_line("demo api key:")
    assert key.startswith("mg-"), f"unexpected demo key line: {key!r}"
    return Gateway(addr=addr, api_key=key, admin_token=admin_token, proc=proc, config=config)


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address (host:port) of `modelgate mock`."""
    workdir = tmp_path_factory.mktemp("simulator")
    proc = Proc(
        "simulator",
        [str(modelgate_bin()), "mock", "--listen", "127.0.0.1:0"],
        workdir,
        child_env(RUST_BACKTRACE="1"),
    )
    addr = proc.expect_line("listening on")
    yield addr
    proc.stop()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, simulator: str) -> Iterator[Gateway]:
    """The gateway with the demo models plus SIM_MODELS on the simulator. Its breaker
    is effectively off, so that fault tests cannot disturb one another."""
    workdir = tmp_path_factory.mktemp("gateway")
    config = write_config(workdir, simulator, SIM_MODELS, consecutive_failures=100000)
    gw = start_gateway(workdir, config)
    yield gw
    gw.proc.stop()


@pytest.fixture(scope="session")
def circuit_gateway(
    tmp_path_factory: pytest.TempPathFactory, simulator: str
) -> Iterator[Gateway]:
    """A second gateway whose breaker opens after 2 failed attempts in a row and stays
    open for a minute."""
    workdir = tmp_path_factory.mktemp("circuit-gateway")
    config = write_config(
        workdir,
        simulator,
        {SIM_CIRCUIT: "sim-circuit"},
        consecutive_failures=2,
        cooldown_ms=60000,
    )
    gw = start_gateway(workdir, config)
    yield gw
    gw.proc.stop()


@pytest.fixture(scope="session")
def client(gateway: Gateway) -> Iterator[openai.OpenAI]:
    """SDK client with the demo key and no SDK-side retries."""
    c = new_client(gateway)
    yield c
    c.close()


@pytest.fixture
def make_client(gateway: Gateway) -> Iterator[Callable[..., openai.OpenAI]]:
    """Factory: make_client(api_key=None, **OpenAI kwargs)."""
    made: list[openai.OpenAI] = []

    def make(api_key: str | None = None, **kwargs: Any) -> openai.OpenAI:
        c = new_client(gateway, api_key, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


class Admin:
    """The admin API (`Authorization: Bearer <admin token>`)."""

    def __init__(self, gw: Gateway):
        self.http = httpx.Client(
            base_url=gw.root_url,
            headers={"Authorization": f"Bearer {gw.admin_token}"},
            timeout=CLIENT_TIMEOUT_S,
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        resp = self.http.request(method, path, json=body)
        assert resp.status_code in (200, 201, 204), (
            f"admin {method} {path} {body!r} -> HTTP {resp.status_code}: {resp.text}"
        )
        return resp.json() if resp.content else None

    def create_account(self, name: str | None = None, credits_usd: float = 10.0, **fields: Any) -> dict:
        body = {"name": name or unique("acct"), "credits_usd": credits_usd, **fields}
        account = self.call("POST", "/admin/accounts", body)
        assert isinstance(account.get("id"), str), account
        return account

    def create_key(self, account_id: str, **fields: Any) -> dict:
        key = self.call("POST", f"/admin/accounts/{account_id}/keys", fields)
        assert key["key"].startswith("mg-") and key["key"].startswith(key["prefix"]), key
        return key

    def new_key(self, account_fields: dict[str, Any] | None = None, **key_fields: Any) -> dict:
        """A key on a fresh account."""
        account = self.create_account(**(account_fields or {}))
        return self.create_key(account["id"], **key_fields)

    def revoke_key(self, key_id: str) -> None:
        self.call("DELETE", f"/admin/keys/{key_id}")

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="session")
def admin(gateway: Gateway) -> Iterator[Admin]:
    a = Admin(gateway)
    yield a
    a.close()
