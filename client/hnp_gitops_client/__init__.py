"""Client for the hnp-gitops HNP API, in the shapes of the HNP sync contract (standard library only).

from hnp_gitops_client import HnpGitopsClient, SyncRequest

client = HnpGitopsClient("http://hnp-gitops:8080", token)
result = client.sync(SyncRequest("lab"), wait=120)
result.to_dict()   # the contract's SyncResult.to_dict()
"""

from hnp_gitops_client.client import HnpGitopsClient, shown_url
from hnp_gitops_client.errors import (
    ApiError,
    BadRequest,
    HnpGitopsError,
    NotAnApi,
    NotFound,
    ServerError,
    StateConflict,
    SyncStillRunning,
    Unauthorized,
    Unreachable,
    ValidationFailed,
)
from hnp_gitops_client.models import (
    ConflictDetectionResult,
    ConflictResolutionStrategy,
    ConflictType,
    Resolution,
    ResourceConflict,
    SyncDirection,
    SyncRequest,
    SyncResult,
)

__all__ = [
    "ApiError",
    "BadRequest",
    "ConflictDetectionResult",
    "ConflictResolutionStrategy",
    "ConflictType",
    "HnpGitopsClient",
    "HnpGitopsError",
    "NotAnApi",
    "NotFound",
    "Resolution",
    "ResourceConflict",
    "ServerError",
    "StateConflict",
    "SyncDirection",
    "SyncRequest",
    "SyncResult",
    "SyncStillRunning",
    "Unauthorized",
    "Unreachable",
    "ValidationFailed",
    "shown_url",
]
