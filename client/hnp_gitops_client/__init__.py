"""Client for the hnp-gitops HNP API, in the shapes of the HNP sync contract (standard library only)."""
