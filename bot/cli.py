"""The `hnp-gitops` command: serve, migrate (and the operator commands of later issues).

Configuration problems end the command with exit code 2 and one message naming every missing
or malformed variable, each on its own line; never a traceback, and never a secret's value.
Settings come from the environment, filled in from an env file (`--env-file PATH` or
HNP_GITOPS_ENV_FILE; the environment wins), such as the one `hnp-gitops setup` writes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

from bot import __version__, demo, logs, operator_cli, registration
from bot.config import ENV_FILE_VARIABLE, ENVIRONMENT, Config, ConfigError
from bot.storage import database, migrations
from bot.web.app import RUNNER_OPTIONS, SERVE_TUNING, Tuning, create_app

log = logging.getLogger("bot")

EXIT_USAGE = 2


class CommandError(Exception):
    """A clear, one-line reason the command cannot go on (exit 2)."""


def build_parser(tuning: Tuning = SERVE_TUNING, log_level: int = logging.INFO) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hnp-gitops",
        description="Keep a Hedgehog fabric in sync between GitHub and the HNP database.",
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hnp-gitops {__version__}")
    parser.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help=f"read settings not set in the environment from this NAME=value file (default: ${ENV_FILE_VARIABLE}), "
        "e.g. the one `hnp-gitops setup` writes",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    serve = commands.add_parser("serve", help="run the webhook server, HNP API and workers")
    serve.add_argument("--migrate", action="store_true", help="apply pending migrations first")
    serve.add_argument("--host", help="address to listen on (default: HOST or 0.0.0.0)")
    serve.add_argument(
        "--port", type=int, help="port to listen on (default: PORT or 8080; 0: a free port, named in the log)"
    )
    serve.add_argument(
        "--insecure-dev-unsigned-webhooks",
        dest="insecure",
        action="store_true",
        help="DEVELOPMENT ONLY: accept webhook deliveries without a signature",
    )
    serve.set_defaults(run=run_serve, needs=serve_needs, tuning=tuning, log_level=log_level)

    migrate = commands.add_parser("migrate", help="apply the database migrations in sql/")
    migrate.set_defaults(run=run_migrate)

    stop = commands.add_parser("stop-db", help="stop the embedded PostgreSQL server, if it runs")
    stop.set_defaults(run=run_stop_db)

    for extend in _extensions():
        extend(commands)
    return parser


def environment_help() -> str:
    """Every environment variable the commands read, one per line."""
    variables = dict(ENVIRONMENT)
    for name, text in operator_cli.ENVIRONMENT.items():
        variables.setdefault(name, text)
    width = max(len(name) for name in variables)
    return "environment variables:\n" + "\n".join(f"  {name:<{width}}  {text}" for name, text in variables.items())


def _extensions() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Subcommands that live in their own modules (operator CLI, demo, app registration)."""
    return [operator_cli.add_commands, demo.add_commands, registration.add_commands]


def main(argv: Sequence[str] | None = None, *, tuning: Tuning = SERVE_TUNING, log_level: int = logging.INFO) -> int:
    """The command. `tuning` and `log_level` are for tests running `serve` as a child process."""
    parser = build_parser(tuning, log_level)
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    if args.env_file is not None:
        environ[ENV_FILE_VARIABLE] = str(args.env_file)
    needs = getattr(args, "needs", None)
    try:
        config = Config.from_env(environ, require=needs(args) if needs else ())
        return args.run(config, args) or 0
    except (ConfigError, CommandError, migrations.MigrationError, database.DatabaseUnavailable) as error:
        print(f"hnp-gitops: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


# --- migrate ---------------------------------------------------------------------------------


def run_migrate(config: Config, args: argparse.Namespace) -> int:
    logs.setup(config.log_format, config.secrets())
    return asyncio.run(_migrate(config))


async def _migrate(config: Config) -> int:
    dsn = await database.resolve_dsn(config)
    pool = await database.create_pool(dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            names = await migrations.migrate(conn)
    finally:
        await pool.close()
    if names:
        print(f"applied {len(names)} migration(s): {', '.join(names)}")
    else:
        print("database schema is up to date")
    return 0


def run_stop_db(config: Config, args: argparse.Namespace) -> int:
    database.stop_embedded(config.data_dir)
    print(f"embedded PostgreSQL in {config.data_dir / 'postgres'} is stopped")
    return 0


# --- serve -----------------------------------------------------------------------------------

SHUTDOWN_SECONDS = 8.0  # Heroku allows 30 s after SIGTERM; we promise 10.


def serve_needs(args: argparse.Namespace) -> list[str]:
    """The settings `serve` cannot start without (checked with the malformed ones, all at once)."""
    needed = ["HNP_API_TOKEN", "GITHUB_APP_ID", "GITHUB_PRIVATE_KEY"]
    if not args.insecure:
        needed.append("GITHUB_WEBHOOK_SECRET")
    return needed


def run_serve(config: Config, args: argparse.Namespace) -> int:
    overrides = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.insecure:
        overrides["insecure_webhooks"] = True
    config = config.replace(**overrides)
    logs.setup(config.log_format, config.secrets(), level=args.log_level)
    return asyncio.run(serve(config, migrate_first=args.migrate, tuning=args.tuning))


async def serve(config: Config, *, migrate_first: bool = False, tuning: Tuning = SERVE_TUNING) -> int:
    log.info("starting hnp-gitops %s: %s", __version__, ", ".join(config.describe()))
    if config.insecure_webhooks:
        log.warning("webhook signatures are NOT checked (--insecure-dev-unsigned-webhooks)")
    # An embedded PostgreSQL this start started is stopped again if the start fails; one that
    # was already running (another serve, a migrate) is left alone.
    embedded_started = config.database_url is None and not database.embedded_running(config.data_dir)
    try:
        dsn = await database.resolve_dsn(config)
        pool = await database.create_pool(dsn)
    except BaseException:
        if embedded_started:
            await asyncio.to_thread(database.stop_embedded, config.data_dir)
        raise
    started = False
    try:
        async with pool.acquire() as conn:
            if migrate_first:
                applied = await migrations.migrate(conn)
                if applied:
                    log.info("applied migrations: %s", ", ".join(applied))
            else:
                todo = await migrations.pending(conn)
                if todo:
                    raise CommandError(
                        f"the database schema is behind ({len(todo)} migration(s) pending): "
                        "run `hnp-gitops migrate` first, or start with `hnp-gitops serve --migrate`"
                    )
        app = create_app(config, pool, tuning=tuning)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS / 2, **RUNNER_OPTIONS)
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            raise CommandError(f"cannot listen on {config.host}:{config.port}: {error.strerror}") from None
        started = True
        # The bound port, which is the one asked for unless that was 0 (any free port).
        log.info("listening on http://%s:%d", config.host, runner.addresses[0][1])

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")
        try:
            async with asyncio.timeout(SHUTDOWN_SECONDS):
                await runner.cleanup()
        except TimeoutError:
            log.warning("shutdown took longer than %.0f s; stopping anyway", SHUTDOWN_SECONDS)
    finally:
        await pool.close()
        if embedded_started and not started:
            await asyncio.to_thread(database.stop_embedded, config.data_dir)
            log.info("stopped the embedded PostgreSQL this failed start had started")
    log.info("stopped")
    return 0
