"""Hypothesis settings for the pure core's property tests.

"ci" (chosen when CI=true) draws the same examples on every run: a failure in CI reproduces
locally with CI=true. "mutation" (chosen by scripts/mutation through HYPOTHESIS_PROFILE) is
"ci" with fewer examples, as every mutant runs the tests again. "dev" (otherwise) draws new
examples each run and remembers failing ones in .hypothesis/. None has a deadline: the
machines these run on are shared and slow, and a test that fails because it was slow says
nothing about the code.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("mutation", settings.get_profile("ci"), max_examples=25)
settings.register_profile("dev", deadline=None)
_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _ci else "dev"))
