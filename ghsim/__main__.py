"""`python -m ghsim --host 127.0.0.1 --port 8765 --data DIR` runs the GitHub emulator.

Prints one line `ghsim listening on http://HOST:PORT` once it accepts connections (with
`--port 0` the kernel picks the port; parents read it from this line)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from .server import Server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ghsim", description="Local GitHub emulator backed by git")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--data", required=True, help="directory for the bare git repositories")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_serve(args.host, args.port, args.data))


async def _serve(host: str, port: int, data: str) -> None:
    server = await Server.start(data, host, port)
    print(f"ghsim listening on {server.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


if __name__ == "__main__":
    main()
