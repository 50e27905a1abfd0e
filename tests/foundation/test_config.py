"""The configuration object: read once from the environment, secrets never shown."""

import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.config import Config, ConfigError, Secret
from tests.conftest import test_private_key_pem

SECRET_VALUE = "s3cr3t-webhook-value-xyz"


def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_defaults_when_environment_is_empty(tmp_path):
    config = Config.from_env({"HOME": str(tmp_path)})
    assert config.database_url is None
    assert config.github_api_url == "https://api.github.com"
    assert config.port == 8080
    assert config.data_dir == tmp_path / ".local" / "share" / "hnp-gitops" or config.data_dir.name == "hnp-gitops"
    assert config.reconcile_interval == 300


def test_reads_every_setting(tmp_path):
    key = pem()
    config = Config.from_env(
        {
            "DATABASE_URL": "postgresql://u:pw12345678@db/x",
            "GITHUB_APP_ID": "42",
            "GITHUB_PRIVATE_KEY": key,
            "GITHUB_WEBHOOK_SECRET": SECRET_VALUE,
            "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
            "HNP_API_TOKEN": "token-abcdefgh",
            "PORT": "9000",
            "HNP_GITOPS_DATA_DIR": str(tmp_path),
        }
    )
    assert config.github_app_id == 42
    assert config.github_private_key.reveal() == key
    assert config.github_api_url == "https://ghe.example.com/api/v3"
    assert config.port == 9000
    assert config.data_dir == tmp_path
    assert set(config.secrets()) >= {SECRET_VALUE, "token-abcdefgh", "pw12345678"}


def test_private_key_from_path(tmp_path):
    key = pem()
    path = tmp_path / "key.pem"
    path.write_text(key)
    config = Config.from_env({"GITHUB_PRIVATE_KEY_PATH": str(path)})
    assert config.github_private_key.reveal() == key


@pytest.mark.parametrize(
    "variable,value,words",
    [
        ("GITHUB_APP_ID", "forty-two", "whole number"),
        ("PORT", "70000", "between"),
        ("DATABASE_URL", "mysql://x", "postgresql://"),
        ("GITHUB_API_URL", "ftp://x", "http"),
        ("GITHUB_PRIVATE_KEY", "not a key", "PEM"),
        ("GITHUB_PRIVATE_KEY_PATH", "/nonexistent/key.pem", "cannot be read"),
        ("RECONCILE_INTERVAL", "-1", "greater than zero"),
    ],
)
def test_malformed_setting_names_the_variable(variable, value, words):
    with pytest.raises(ConfigError) as caught:
        Config.from_env({variable: value})
    assert caught.value.variable == variable
    assert variable in str(caught.value) and words in str(caught.value)
    assert value not in str(caught.value) or variable == "PORT"


def test_secrets_print_as_stars():
    config = Config.from_env({"GITHUB_WEBHOOK_SECRET": SECRET_VALUE, "HNP_API_TOKEN": "tok-123456789"})
    assert SECRET_VALUE not in repr(config)
    assert SECRET_VALUE not in str(config.github_webhook_secret)
    assert "tok-123456789" not in " ".join(config.describe())
    assert "GITHUB_WEBHOOK_SECRET=set" in config.describe()
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def test_require_names_missing_variable():
    config = Config.from_env({})
    with pytest.raises(ConfigError, match="HNP_API_TOKEN is not set"):
        config.require("HNP_API_TOKEN")


def run_cli(*args, env):
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True, timeout=60)


def test_cli_stops_with_one_line_and_exit_2_on_one_bad_setting(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GITHUB_APP_ID": "x",
        "GITHUB_WEBHOOK_SECRET": SECRET_VALUE,
        "HNP_API_TOKEN": "tok-123456789-0123456789-0123456789",
        "GITHUB_PRIVATE_KEY": test_private_key_pem(),
    }
    result = run_cli("serve", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "hnp-gitops: error: GITHUB_APP_ID must be a whole number"
    assert "Traceback" not in result.stderr and SECRET_VALUE not in result.stderr + result.stdout


def test_cli_serve_names_every_missing_and_malformed_setting_at_once_each_on_its_own_line(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GITHUB_WEBHOOK_SECRET": SECRET_VALUE,
        "PORT": "70000",
        "GITHUB_API_URL": "ftp://x",
    }
    result = run_cli("serve", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "hnp-gitops: error: 5 settings need attention:"
    assert sorted(line.strip() for line in lines[1:]) == [
        "GITHUB_API_URL must be an http(s) URL",
        "GITHUB_APP_ID is not set",
        "GITHUB_PRIVATE_KEY is not set (or GITHUB_PRIVATE_KEY_PATH)",
        "HNP_API_TOKEN is not set",
        "PORT must be between 1 and 65535",
    ]
    assert "Traceback" not in result.stderr and SECRET_VALUE not in result.stderr + result.stdout


def test_unsigned_development_webhooks_need_no_webhook_secret(tmp_path):
    result = run_cli("serve", "--insecure-dev-unsigned-webhooks", env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 2 and "GITHUB_WEBHOOK_SECRET" not in result.stderr
    assert "HNP_API_TOKEN is not set" in result.stderr


def test_an_env_file_fills_in_what_the_environment_does_not_set(tmp_path):
    env_file = tmp_path / "hnp-gitops.env"
    key = test_private_key_pem()
    pem_one_line = key.replace("\n", "\\n")
    env_file.write_text(
        "# written by hnp-gitops setup\n"
        "GITHUB_APP_ID=42\n"
        f'GITHUB_PRIVATE_KEY="{pem_one_line}"\n'
        "export GITHUB_WEBHOOK_SECRET='from-the-file'\n"
        "\n"
        "PORT=9000\n"
    )
    config = Config.from_env({"HNP_GITOPS_ENV_FILE": str(env_file), "PORT": "9100"})
    assert config.github_app_id == 42 and config.port == 9100  # the environment wins
    assert config.github_webhook_secret == Secret("from-the-file")
    assert config.github_private_key.reveal() == key
    with pytest.raises(ConfigError) as caught:
        Config.from_env({"HNP_GITOPS_ENV_FILE": str(tmp_path / "missing.env")})
    assert caught.value.variable == "HNP_GITOPS_ENV_FILE" and "cannot be read" in str(caught.value)
    env_file.write_text("not a setting\n")
    with pytest.raises(ConfigError, match="line 1 of .* is not NAME=value"):
        Config.from_env({"HNP_GITOPS_ENV_FILE": str(env_file)})


def test_cli_reads_the_env_file_named_by_the_option(tmp_path):
    env_file = tmp_path / "settings.env"
    env_file.write_text("GITHUB_APP_ID=not-a-number\n")
    result = run_cli("--env-file", str(env_file), "serve", env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 2 and "GITHUB_APP_ID must be a whole number" in result.stderr


def test_help_shows_no_secret(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GITHUB_WEBHOOK_SECRET": SECRET_VALUE,
        "HNP_API_TOKEN": "tok-very-secret-1",
    }
    for args in (["--help"], ["serve", "--help"], ["migrate", "--help"]):
        result = run_cli(*args, env=env)
        assert result.returncode == 0
        assert "serve" in result.stdout or "migrate" in result.stdout
        assert SECRET_VALUE not in result.stdout and "tok-very-secret-1" not in result.stdout


@pytest.mark.parametrize(
    "api_url,web_url",
    [
        ("https://api.github.com", "https://github.com"),
        ("https://github.example.internal/api/v3", "https://github.example.internal"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
    ],
)
def test_githubs_pages_are_found_from_its_api_address(api_url, web_url):
    assert Config.from_env({"GITHUB_API_URL": api_url}).github_web_url == web_url
