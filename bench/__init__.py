"""The benchmark suite: `python -m bench` runs every benchmark; `python -m bench.<name>` one.
See bench/README.md."""
