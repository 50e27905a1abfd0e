"""ghsim: a local stand-in for GitHub (REST API, git over HTTP, webhooks), backed by real
git repositories, for tests, benchmarks and the demo. Never imported by `bot/`."""

__version__ = "0.1.0"
