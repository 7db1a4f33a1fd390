"""The command line and the configuration (issue 2 items 7 and 10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from ekita.core.db.migrate import is_current
from ekita.core.db.session import make_engine
from ekita.core.models import ApiKey
from ekita.core.services.accounts import authenticate
from tests.conftest import work

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Run the installed entry point as a user would, in a clean environment."""
    base = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": "/tmp"}
    return subprocess.run([str(Path(sys.executable).parent / "ekita-hub"), *args],
                          capture_output=True, text=True, env={**base, **(env or {})}, cwd=cwd,
                          timeout=120)


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path}/cli.db"
    return url, {"EKITA_DATABASE_URL": url}


def test_db_upgrade_creates_the_schema(db, tmp_path):
    url, env = db
    result = cli("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert is_current(make_engine(url))


def test_users_create_prints_a_working_key_once(db, tmp_path):
    """Bearer keys are stored hashed; the printed token authenticates."""
    url, env = db
    cli("db", "upgrade", env=env, cwd=tmp_path)
    result = cli("users", "create", "--role", "zvs", "--name", "Frau Meier", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    engine = make_engine(url)
    with work(engine) as s:
        stored = s.scalars(select(ApiKey)).one()
        assert token.split("_", 2)[2] not in stored.secret_hash
        assert authenticate(s, token).role == "zvs"
        assert authenticate(s, token + "x") is None


def test_users_create_rejects_missing_scope_in_one_line(db, tmp_path):
    _url, env = db
    cli("db", "upgrade", env=env, cwd=tmp_path)
    result = cli("users", "create", "--role", "carrier", env=env, cwd=tmp_path)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert line.startswith("error: role carrier needs --carrier (api_key.")
    assert "rule: " in line and "\n" not in line


def test_config_check_masks_secrets(tmp_path):
    """`config check` prints the effective configuration; secrets never in clear."""
    config = tmp_path / "ekita.toml"
    config.write_text('database_url = "postgresql://hub:s3cret@db.example/ekita"\n'
                      '[adapters.meso.retry]\nmax_attempts = 3\n'
                      '[adapters.meso.schedules]\nrecheck = "0 3 * * *"\n')
    result = cli("config", "check", env={"EKITA_CONFIG": str(config)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "s3cret" not in result.stdout and "***" in result.stdout
    assert '"max_attempts": 3' in result.stdout


@pytest.mark.parametrize(("toml", "expected"), [
    ("[adapters.meso.retry]\nmax_attempts = 0\n",
     "adapters.meso.retry.max_attempts: Input should be greater than or equal to 1"),
    ('[adapters.meso.schedules]\nrecheck = "every night"\n',
     "adapters.meso.schedules: Value error, schedule 'recheck': 'every night' is not a cron"),
    ("[adapters.nonexistent]\nenabled = true\n",
     "adapters.nonexistent: no adapter of that name is loaded"),
    ("[adapters.meso.settings]\nurl_typo = 'http://x'\n",
     "adapters.meso.settings.url_typo: Extra inputs are not permitted"),
    ("api_port = 'high'\n", "api_port: Input should be a valid integer"),
    ("this is not toml\n", "ekita.toml"),
])
def test_wrong_config_is_one_line_exit_2(tmp_path, toml, expected):
    """A wrong value gives one line naming the key and the problem, exit code 2."""
    (tmp_path / "ekita.toml").write_text(toml)
    result = cli("config", "check", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_env_overrides_file(tmp_path, monkeypatch):
    """Environment variables win over the TOML file."""
    from ekita.hub.config import load_settings

    (tmp_path / "ekita.toml").write_text("api_port = 9000\nlog_level = 'DEBUG'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EKITA_CONFIG", raising=False)
    monkeypatch.setenv("EKITA_API_PORT", "9100")
    settings = load_settings()
    assert settings.api_port == 9100 and settings.log_level == "DEBUG"


def test_missing_config_file_is_reported(tmp_path):
    result = cli("config", "check", env={"EKITA_CONFIG": str(tmp_path / "none.toml")})
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_plugins_list_shows_builtins(tmp_path):
    result = cli("plugins", "list", cwd=tmp_path, env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for name in ("meso", "kis", "sap_fi", "sap_co", "domea", "octoware", "carrier_export"):
        assert name in result.stdout


def test_unreachable_database_is_one_line(tmp_path):
    env = {"EKITA_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = cli("db", "upgrade", env=env, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: database unreachable")


def test_serve_answers_over_real_http(tmp_path):
    """`ekita-hub serve` migrates the database and answers /health and keyed API calls."""
    import socket
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"EKITA_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db",
           "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": "/tmp"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "ekita-hub"), "serve",
                               "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health.json() == {"status": "up"}
        token = cli("users", "create", "--role", "admin", env=env, cwd=tmp_path).stdout.strip()
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/stadtteile",
                      headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 200 and len(r.json()) == 64
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/stadtteile").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_demo_command_loads_the_city_and_prints_the_summary(tmp_path):
    """`ekita-hub demo`: a fresh database with the Lastenheft 4.1 city and a summary table."""
    result = cli("demo", env={"COLUMNS": "120"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ekita-demo.db").exists()
    dresden = [line for line in result.stdout.splitlines() if "Dresden" in line]
    assert any("krippe" in line and "7250" in line for line in dresden)
    assert any("kindergarten" in line and "18500" in line for line in dresden)
    # The registry adapters talk to their sandbox peers over HTTP (issue 6).
    assert "MESO result (SOAP, sandbox register)" in result.stdout
    assert "registered" in result.stdout and "moved_away" in result.stdout
    assert "KIS (REST, sandbox directory)" in result.stdout and "Stadtteil" in result.stdout
    # A fee switch's notices go as xdomea containers to the sandbox DMS (issue 8).
    lines = result.stdout.splitlines()
    assert "DOMEA (xdomea 3.0.0, sandbox DMS)" in result.stdout
    assert any("documents imported (0630)" in line and "20" in line for line in lines)
    assert any("dead letters" in line and " 0 " in line for line in lines)
    again = cli("demo", env={"COLUMNS": "120"}, cwd=tmp_path)  # starts afresh, same city
    assert again.returncode == 0 and again.stdout == result.stdout
