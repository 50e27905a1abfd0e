"""hnp-gitops: keeps a Hedgehog fabric's configuration in sync between GitHub and HNP."""

__version__ = "0.1.0"
