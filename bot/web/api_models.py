"""Every request and response shape of the HNP API, declared once (pydantic v2).

From these declarations come both the validation of what clients send (`parse`: a 422, or a
400 for a query string, listing each problem with its field path) and the OpenAPI document
served at GET /api/openapi.json (`openapi_document`, from each route's `Route` entry). The
contract's shapes (`SyncResult`, `ResourceConflict`, `ConflictDetectionResult`, operation
status) are declared here with the contract's keys first; tests compare them with the
contract's own `to_dict()` and with the client's dataclasses (hnp_gitops_client).

Pydantic, not msgspec: it reports every problem of a body at once with its location, and it
writes JSON Schema from the same classes, which is what the OpenAPI document needs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from aiohttp import web
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import models_json_schema

from bot.core import filemap, github_names
from bot.core import filters as resource_filters
from bot.core.fieldpath import Segment, format_path, parse_path
from bot.core.kinds import DEFAULT_NAMESPACE, KINDS
from bot.core.states import ConflictType, ResourceState
from bot.core.syncresult import ConflictResolutionStrategy, OperationStatus, SyncDirection
from bot.storage import fabrics as fabric_store

RESOURCE_STATES = tuple(s.value for s in ResourceState)
CONFLICT_TYPES = tuple(t.value for t in ConflictType)
SEVERITIES = ("low", "medium", "high", "critical")
RESOLUTIONS = ("gui_wins", "github_wins", "merge", "manual")
CONFLICT_STATUSES = ("open", "resolved", "superseded", "all")
MAX_WAIT_SECONDS = 60.0  # the longest a request waits for an operation to finish
MAX_REPORTS = 50_000  # actual-state reports in one bulk request
FABRIC_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_BRANCH_BAD = r"(\.\.|[\s~^:?*\[\\]|^/|/$|\.lock$|@\{|//)"


# --------------------------------------------------------------------------------------------
# Parsing


class Invalid(Exception):
    """What `parse` found wrong: (field path, message) pairs, in the order pydantic reports."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))
        self.errors = errors


def field_path(location: Sequence[Segment]) -> str:
    """A place in a request body: ('resources', 0, 'kind') -> 'resources[0].kind'; () -> 'body'."""
    return format_path(location) or "body"


def problems(error: ValidationError) -> list[tuple[str, str]]:
    return [(field_path(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in error.errors()]


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """`data` as `model`, or Invalid with every problem's field path."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Invalid(problems(error)) from None


# --------------------------------------------------------------------------------------------
# Requests (unknown keys are ignored, as HNP may send more than we read)


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


def _directory(value: str) -> str:
    try:
        directory = filemap.normalize_directory(fabric_store.normalize_directory(value)) if value else ""
        if ".." in directory.split("/") or directory.startswith("/"):
            raise filemap.UnsafePath(directory)
    except filemap.UnsafePath as error:
        raise ValueError(f"must be a relative path inside the repository ({error})") from None
    return directory


class FabricInput(Request):
    name: str = Field(
        pattern=FABRIC_NAME,
        max_length=63,
        description="A lowercase DNS label: letters, digits and '-', at most 63 characters",
    )
    repository: str = Field(
        pattern=github_names.FULL_NAME_PATTERN,
        description="owner/repo on GitHub, as GitHub names them: the owner 1 to 39 letters, digits and single "
        "hyphens (none at either end), the repository 1 to 100 letters, digits, '.', '-' and '_' (not '.' or "
        "'..', not ending in '.git' or '.wiki')",
    )
    directory: str = Field("", description="Directory in the repository ('' = its root)")
    branch: str = Field("main", description="The branch that holds the fabric's desired state")
    create_pr: StrictBool = Field(
        False,
        description="The fabric's default for a sync's create_pr: true for a protected branch, "
        "where every change must come as a pull request",
    )

    @field_validator("directory")
    @classmethod
    def _safe_directory(cls, value: str) -> str:
        return _directory(value)

    @field_validator("repository")
    @classmethod
    def _github_repository(cls, value: str) -> str:
        problem = github_names.full_name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("branch")
    @classmethod
    def _branch_name(cls, value: str) -> str:
        if not value or re.search(_BRANCH_BAD, value):
            raise ValueError("must be a valid branch name")
        return value


StringMap = dict[str, str]


class DraftInput(Request):
    """Either a spec (validated against the kind's CRD: 422 lists each error's field path) with
    optional labels and annotations, or {"delete": true}. Who drafted: the X-HNP-User header
    or `user`."""

    spec: dict[str, Any] | None = Field(None, description="The resource's spec (absent for a deletion)")
    labels: StringMap | None = None
    annotations: StringMap | None = None
    delete: StrictBool = Field(False, description="Draft the deletion of the resource")
    user: str | None = Field(None, max_length=200)


def _filters(value: Any) -> Any:
    try:
        return resource_filters.normalize(value)
    except resource_filters.FilterError as error:
        raise ValueError(str(error)) from None


ResourceFilters = Annotated[
    list[str] | dict[str, list[str]] | None,
    BeforeValidator(_filters),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "description": "The contract's form: 'KIND' (a kind, or its plural), 'KIND/NAME' or "
                    "'NAME'; a draft is selected when any entry matches it",
                },
                {
                    "type": "object",
                    "properties": {
                        "kinds": {"type": "array", "items": {"type": "string"}},
                        "names": {"type": "array", "items": {"type": "string"}},
                    },
                    "additionalProperties": False,
                    "description": "Selected when its kind is in 'kinds' (if given) and its name in 'names' (if given)",
                },
                {"type": "null"},
            ]
        }
    ),
]
Wait = Annotated[
    float | None,
    Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description=f"Seconds to wait for the operation to finish (at most {MAX_WAIT_SECONDS:g}; more is "
        "taken as that)",
    ),
]


class SyncRequest(Request):
    """The contract's SyncRequest. Without `wait` the answer is 202 with the operation id; with
    `wait` (here or in the query) it is the finished SyncResult, 200 when it succeeded and 400
    when not, or 202 if it is still running at the deadline."""

    direction: SyncDirection = SyncDirection.BIDIRECTIONAL
    create_pr: StrictBool | None = Field(
        None,
        description="Publish on a branch hnp-sync/<fabric>/<op> with a pull request (an open bot pull "
        "request of the fabric is updated instead); false commits straight onto the fabric's branch. "
        "Absent: the fabric's own default (false unless the fabric was registered with create_pr)",
    )
    force: StrictBool = Field(False, description="The contract's name of force_sync")
    force_sync: StrictBool = Field(False, description="Also publish drafts that are in conflict, as drafted")
    conflict_resolution: ConflictResolutionStrategy = ConflictResolutionStrategy.USER_GUIDED
    resource_filters: ResourceFilters = None
    initiated_by: str | None = Field(None, max_length=200, description="Who asked (else X-HNP-User, else user)")
    user: str | None = Field(None, max_length=200)
    metadata: dict[str, Any] | None = Field(None, description="Kept on the operation, unread")
    wait: Wait = None


class SyncQuery(Query):
    wait: Wait = None


class OperationQuery(Query):
    wait: Wait = None


class OperationsQuery(Query):
    active: bool = Field(False, description="Only unfinished operations")


class ResourcesQuery(Query):
    kind: str | None = Field(None, description="Only this kind (case-insensitive, or its plural)")
    state: Literal[RESOURCE_STATES] | None = Field(None, description="Only this state")  # type: ignore[valid-type]


class ConflictsQuery(Query):
    status: Literal[CONFLICT_STATUSES] = Field("open", description="Which conflicts")  # type: ignore[valid-type]


class KindQuery(Query):
    kind: str | None = Field(None, description="Only this kind")


class ResolveInput(Request):
    resolution: Literal[RESOLUTIONS]  # type: ignore[valid-type]
    values: dict[str, Any] | None = Field(
        None,
        description="Field path (as a conflict's field_path: `spec.subnets.default.vlan`, `spec.links[name=a]`, "
        '`metadata.annotations["a.b/c"]`) -> value, for manual; JSON null removes the field',
    )
    user: str | None = Field(None, max_length=200)

    @field_validator("values")
    @classmethod
    def _field_paths(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for path in value or {}:
            try:
                parse_path(path)
            except ValueError:
                raise ValueError(f"{path!r} is not a field path") from None
        return value


class ActualInput(Request):
    spec: dict[str, Any] = Field(description="The spec the running fabric has")
    namespace: str = DEFAULT_NAMESPACE


class ActualReport(Request):
    kind: str
    name: str = Field(min_length=1)
    namespace: str = DEFAULT_NAMESPACE
    spec: dict[str, Any] = Field(description="The spec the running fabric has")


class ActualBulkInput(Request):
    resources: list[ActualReport] = Field(max_length=MAX_REPORTS)


# --------------------------------------------------------------------------------------------
# Responses (more keys may come beside those declared; clients ignore what they do not know)


class Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(Response):
    code: str
    message: str
    details: Any = Field(description='422: {"errors": [{"path", "message"}]}')


class Error(Response):
    error: ErrorDetail


class PullRequestRef(Response):
    number: int | None = None
    url: str | None = None


class Fabric(Response):
    name: str
    repository: str
    directory: str
    branch: str
    create_pr: bool
    installation_id: int | None
    last_ingested_sha: str | None
    last_ingested_at: datetime | None
    connection_status: str
    status_detail: str | None
    created_at: datetime
    resources: dict[str, int] = Field(description="Number of resources per state")
    pull_request: dict[str, Any] | None = Field(description="The open bot pull request")


class FabricList(Response):
    fabrics: list[Fabric]


class Draft(Response):
    spec: dict[str, Any] | None
    delete: bool
    labels: StringMap | None
    annotations: StringMap | None
    drafted_at: datetime | None
    drafted_by: str | None
    base: dict[str, Any] = Field(description="The desired spec and commit sha the draft was made on")
    base_moved: bool


class ResourceFile(Response):
    path: str
    document_index: int | None
    blob_sha: str | None
    line: int | None = Field(None, description="Line of the document's metadata.name, when known")


class FabricWarning(Response):
    rule: str = Field(description="The whole-fabric rule, e.g. vpc-vlan-unique")
    kind: str
    name: str
    field_path: str = Field(description="e.g. spec.subnets.default.vlan")
    message: str = Field(description="Names the other side and where it is")
    path: str | None = Field(description="The offending resource's file (null: a draft)")
    line: int | None
    other: dict[str, str] | None = Field(description="{kind, name} of the other side (clashed with, or missing)")


class Resource(Response):
    kind: str
    namespace: str | None = None
    name: str
    state: Literal[RESOURCE_STATES] | None  # type: ignore[valid-type]
    draft: Draft | None
    desired: dict[str, Any] | None = Field(None, description="What the branch says: spec, labels, annotations, sha")
    actual: dict[str, Any] | None = Field(None, description="What the running fabric reports")
    file: ResourceFile | None = None
    pull_request: PullRequestRef | None = None
    cleared: bool | None = Field(
        None, description="Draft writes: the resource has no draft now (a draft equal to desired is cleared)"
    )
    warnings: list[FabricWarning] | None = Field(
        None,
        description="PUT draft: what this draft, with the desired state and every other draft, would break in the "
        "fabric as a whole (its cross-resource rules, as hhfab validate checks them); a sync refuses such drafts "
        "with dependency_violation conflicts unless force_sync",
    )


class ResourceList(Response):
    fabric: str
    resources: list[Resource]


class SyncStatistics(Response):
    resources_processed: int
    resources_created: int
    resources_updated: int
    resources_deleted: int
    conflicts_detected: int = Field(description="Every conflict the operation found, before its strategy ran")
    conflicts_resolved: int = Field(description="Those its strategy (or a person, in it) settled")


class GitHubIntegration(Response):
    commit_sha: str | None
    pull_request_url: str | None
    branch_name: str | None


class SyncPerformance(Response):
    processing_time_seconds: float
    api_calls_made: int
    files_transferred: int


class SyncResult(Response):
    """The contract's SyncResult.to_dict(); more detail beside each group."""

    success: bool
    operation_id: str
    started_at: datetime
    completed_at: datetime | None
    direction: SyncDirection
    statistics: SyncStatistics
    github_integration: GitHubIntegration
    errors: list[str]
    warnings: list[str]
    performance: SyncPerformance


class SyncAccepted(Response):
    operation_id: str
    status: str
    status_url: str


class OperationRequest(Response):
    direction: SyncDirection
    fabric: str | None
    initiated_by: str | None


class Retrying(Response):
    """Why an unfinished operation waits: its job failed and is being retried."""

    attempt: int = Field(description="the attempt running now or due next")
    max_attempts: int
    next_try_at: datetime | None = Field(description="when the next attempt runs; null while one runs")
    last_error: str


class Operation(Response):
    """The contract's get_operation_status() keys, then this bot's detail."""

    operation_id: str
    status: OperationStatus
    request: OperationRequest
    progress: dict[str, int] = Field(description="{done, total}: resources done of those the operation has")
    started_at: datetime | None
    completed_at: datetime | None
    fabric: str | None
    direction: SyncDirection
    result: SyncResult | None = Field(description="The SyncResult once finished")
    retrying: Retrying | None = Field(
        default=None, description="Set while the operation's job is retried after a failure (error stays null)"
    )
    status_url: str


class OperationList(Response):
    fabric: str
    operations: list[Operation]


class Cancelled(Operation):
    success: bool
    message: str


class ConflictDetails(Response):
    gui_modification_time: datetime | None
    github_modification_time: datetime | None
    conflicting_fields: list[str]
    gui_values: dict[str, Any]
    github_values: dict[str, Any]


class ConflictResolution(Response):
    options: list[str]
    auto_resolvable: bool
    severity: Literal[SEVERITIES]  # type: ignore[valid-type]


class ResourceConflict(Response):
    """The contract's ResourceConflict.to_dict(), then this bot's detail."""

    resource_id: int | None
    resource_name: str | None
    resource_kind: str | None
    conflict_type: Literal[CONFLICT_TYPES]  # type: ignore[valid-type]
    detected_at: datetime
    details: ConflictDetails
    resolution: ConflictResolution
    id: int
    status: Literal["open", "resolved", "superseded"]
    field_path: str | None
    message: str
    resolved_with: str | None = Field(description="How it was resolved (gui_wins, github_wins, merge, manual, ...)")
    resolved_by: str | None
    resolved_at: datetime | None


class ConflictList(Response):
    fabric: str
    count: int
    conflicts: list[ResourceConflict]


class ConflictDetectionResult(Response):
    """The contract's ConflictDetectionResult.to_dict()."""

    has_conflicts: bool
    conflicts: list[ResourceConflict]
    total_resources_checked: int
    detection_time_seconds: float


class Resolved(Response):
    conflict: ResourceConflict
    changed: bool


class Difference(Response):
    field: str
    desired: Any = None
    actual: Any = None


class ActualResult(Response):
    kind: str
    namespace: str
    name: str
    state: str
    differences: list[Difference]


class ActualBulkResult(Response):
    fabric: str
    updated: int
    states: dict[str, int]
    unknown: list[dict[str, str]]


class DriftEntry(Response):
    kind: str
    namespace: str
    name: str
    state: str
    reported_at: datetime | None
    differences: list[Difference]


class Drift(Response):
    fabric: str
    count: int = Field(description="Resources whose actual state differs from desired")
    resources: list[DriftEntry]
    not_reported: int = Field(description="Resources with a desired state but no reported actual state")
    not_reported_resources: list[dict[str, str]] = Field(description="Their kind, namespace and name (at most 1000)")


# --------------------------------------------------------------------------------------------
# Routes and the OpenAPI document

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PATH_PARAMETERS = {
    "fabric": "Fabric name",
    "kind": f"Kind, case-insensitive, or its plural ({', '.join(KINDS)})",
    "name": "metadata.name (an RFC 1123 subdomain; the namespace is always 'default')",
    "operation_id": "Operation id (UUID)",
    "conflict_id": "Conflict id",
}
ERRORS = {
    400: "Malformed request (bad JSON, bad query parameter)",
    401: "Missing or wrong bearer token",
    404: "Not found",
    409: "Conflicts with the current state",
    422: "Invalid input: details.errors lists each problem as {path, message}",
}


@dataclass(frozen=True)
class Route:
    """One /api route and its description. `responses` maps a status to (description, model
    or a union of models); error statuses in `errors` answer the Error shape."""

    method: str
    path: str
    handler: Handler
    summary: str
    responses: Mapping[int, tuple[str, Any]]
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _models(routes: list[Route]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = [Error]
    for route in routes:
        for model in (route.body, *(_union_members(m) for _, m in route.responses.values())):
            for item in model if isinstance(model, tuple) else (model,):
                if isinstance(item, type) and issubclass(item, BaseModel) and item not in found:
                    found.append(item)
    return found


def _union_members(annotation: Any) -> tuple[Any, ...]:
    return tuple(getattr(annotation, "__args__", (annotation,)))


def _schema_of(annotation: Any) -> dict[str, Any]:
    members = _union_members(annotation)
    refs = [{"$ref": f"#/components/schemas/{m.__name__}"} for m in members]
    return refs[0] if len(refs) == 1 else {"anyOf": refs}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
            "description": prop.get("description", name),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def openapi_document(routes: list[Route], description: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these routes, schemas generated from the models."""
    _, top = models_json_schema(
        [(m, "validation") for m in _models(routes)], ref_template="#/components/schemas/{model}"
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        parameters = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}, "description": PATH_PARAMETERS[n]}
            for n in re.findall(r"\{(\w+)\}", route.path)
        ]
        if route.query is not None:
            parameters += _query_parameters(route.query)
        responses: dict[str, Any] = {
            str(status): {"description": text, "content": {"application/json": {"schema": _schema_of(model)}}}
            for status, (text, model) in route.responses.items()
        }
        for status in sorted({401, *route.errors}):
            responses.setdefault(str(status), {"$ref": f"#/components/responses/{status}"})
        operation: dict[str, Any] = {"summary": route.summary, "parameters": parameters, "responses": responses}
        if route.description:
            operation["description"] = route.description
        if route.body is not None:
            operation["requestBody"] = {
                "required": route.body_required,
                "content": {"application/json": {"schema": _schema_of(route.body)}},
            }
        operation.update(route.extra)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "hnp-gitops HNP API", "version": "1", "description": description},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": top.get("$defs", {}),
            "responses": {
                str(code): {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
                for code, text in ERRORS.items()
            },
        },
    }
