"""Fabrics made of the real samples in ../shared/hedgehog/samples, for whole-fabric tests."""

from __future__ import annotations

from tests.conftest import shared_path

LAB, PREPOP = "lab-ci_wiring.yaml", "gitops-test-1_prepop.yaml"
DEMO, PRE_DEMO = "demo-gitops_demo.yaml", "demo-gitops_pre-demo.yaml"


def sample(name: str) -> str:
    return shared_path("hedgehog", "samples", name).read_text()


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def lab() -> dict[str, str]:
    return {"lab/wiring.yaml": sample(LAB)}


def env1() -> dict[str, str]:
    """githedgehog/demo-gitops env-1: VPCs only, the wiring installed by hhfab elsewhere."""
    return {"env-1/pre-demo.yaml": sample(PRE_DEMO), "env-1/demo.yaml": sample(DEMO)}


def lab_with_vpcs() -> dict[str, str]:
    """The lab's wiring with env-1's VPCs moved into its IPv4Namespace (10.20.0.0/16) and
    attached to its own connections (one eslag, one unbundled, one bundled)."""
    files = lab()
    for path, text in env1().items():
        text = text.replace("10.10.1", "10.20.1")
        text = text.replace("server-1--mclag--s5248-01--s5248-02", "server-1--eslag--ds3000-01--ds3000-02")
        text = text.replace("server-4--unbundled--s5248-02", "server-7--unbundled--ds3000-03")
        text = text.replace("server-3--bundled--s5248-01", "server-3--bundled--ds3000-01")
        files[path] = text
    return files
