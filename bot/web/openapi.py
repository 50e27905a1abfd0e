"""The OpenAPI 3 description of the HNP API, served at GET /api/openapi.json.

A registry: each module that adds /api routes describes them here with `add_path(path,
method, operation)` (and its schemas with `add_schema`), at import time, beside the routes.
A test checks that every /api route the app serves is described and every described one is
served, so the document cannot drift from the code.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.core.kinds import KINDS
from bot.core.syncresult import ConflictResolutionStrategy, OperationStatus, SyncDirection

RESOURCE_STATES = ("in_sync", "draft", "pending_pr", "conflict", "drifted", "orphaned")

_PATHS: dict[str, dict[str, Any]] = {}
_SCHEMAS: dict[str, Any] = {}


def add_path(path: str, method: str, operation: dict[str, Any]) -> None:
    """Describe `method path` (aiohttp's `{name}` placeholders are OpenAPI's too)."""
    _PATHS.setdefault(path, {})[method.lower()] = operation


def add_schema(name: str, schema: dict[str, Any]) -> None:
    _SCHEMAS[name] = schema


def described() -> set[tuple[str, str]]:
    """(METHOD, path) of every described operation."""
    return {(method.upper(), path) for path, item in _PATHS.items() for method in item}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "hnp-gitops HNP API",
            "version": "1",
            "description": (
                "Fabrics, resources, drafts and sync operations of hnp-gitops. Every route needs "
                '`Authorization: Bearer <HNP_API_TOKEN>`. Errors are `{"error": {"code", "message", '
                '"details"}}`: 400 malformed JSON or query, 401 bad token, 404 unknown fabric, resource, '
                "operation or route, 409 conflicting state (fabric exists, a sync of the fabric is active, "
                "operation already finished), 422 invalid input with `details.errors[] = {path, message}`; "
                "an unknown kind is 422 `unknown_kind` wherever it appears."
            ),
        },
        "security": [{"bearer": []}],
        "paths": copy.deepcopy(_PATHS),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": copy.deepcopy(_SCHEMAS),
            "responses": {str(code): _error_response(text) for code, text in _ERRORS.items()},
        },
    }


# --------------------------------------------------------------------------------------------
# Building blocks

_ERRORS = {
    400: "Malformed request (bad JSON, bad query parameter)",
    401: "Missing or wrong bearer token",
    404: "Not found",
    409: "Conflicts with the current state",
    422: "Invalid input",
}


def _error_response(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def errors(*codes: int) -> dict[str, Any]:
    """Responses entries for the given error statuses (401 is always added)."""
    return {str(c): {"$ref": f"#/components/responses/{c}"} for c in sorted({401, *codes})}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


def query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def ok(description: str, schema: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {str(status): {"description": description, "content": json_content(schema)}}


# --------------------------------------------------------------------------------------------
# This module's own schemas and paths (the routes of bot/web/api.py)

_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_FABRIC = path_param("fabric", "Fabric name")
_KIND = path_param("kind", f"Kind, case-insensitive, or its plural ({', '.join(KINDS)})")
_NAME = path_param("name", "metadata.name (an RFC 1123 subdomain; the namespace is always 'default')")
_OPERATION = path_param("operation_id", "Operation id (UUID)")

add_schema(
    "Error",
    {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"nullable": True, "description": '422: {"errors": [{"path", "message"}]}'},
                },
            }
        },
    },
)
add_schema(
    "FabricInput",
    {
        "type": "object",
        "required": ["name", "repository"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63},
            "repository": {"type": "string", "description": "owner/repo"},
            "directory": {"type": "string", "default": "", "description": "Directory in the repository ('' = root)"},
            "branch": {"type": "string", "default": "main"},
        },
    },
)
add_schema(
    "Fabric",
    {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "repository": {"type": "string"},
            "directory": {"type": "string"},
            "branch": {"type": "string"},
            "installation_id": {"type": "integer", "nullable": True},
            "last_ingested_sha": {"type": "string", "nullable": True},
            "last_ingested_at": {"type": "string", "format": "date-time", "nullable": True},
            "connection_status": {"type": "string", "enum": ["unknown", "connected", "disconnected", "branch_missing"]},
            "status_detail": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "resources": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "Number of resources per state",
            },
            "pull_request": {"type": "object", "nullable": True, "description": "The open bot pull request"},
        },
    },
)
add_schema(
    "Resource",
    {
        "type": "object",
        "properties": {
            "kind": {"type": "string"},
            "namespace": {"type": "string"},
            "name": {"type": "string"},
            "state": {"type": "string", "enum": list(RESOURCE_STATES)},
            "draft": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "spec": {"type": "object", "nullable": True},
                    "delete": {"type": "boolean"},
                    "labels": {**_STRINGS, "nullable": True},
                    "annotations": {**_STRINGS, "nullable": True},
                    "drafted_at": {"type": "string"},
                    "drafted_by": {"type": "string", "nullable": True},
                    "base": {"type": "object", "description": "The desired spec and commit sha the draft was made on"},
                    "base_moved": {"type": "boolean"},
                },
            },
            "desired": {
                "type": "object",
                "nullable": True,
                "description": "What the branch says: spec, labels, annotations, sha",
            },
            "actual": {"type": "object", "nullable": True, "description": "What the running fabric reports"},
            "file": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "path": {"type": "string"},
                    "document_index": {"type": "integer"},
                    "blob_sha": {"type": "string"},
                },
            },
            "pull_request": {"type": "object", "nullable": True},
            "cleared": {
                "type": "boolean",
                "description": "PUT/DELETE draft: the resource has no draft now (a draft equal to desired is cleared)",
            },
        },
    },
)
add_schema(
    "DraftInput",
    {
        "type": "object",
        "description": "Either a spec (validated against the kind's CRD; 422 lists each error's field path) "
        'with optional labels/annotations, or {"delete": true}. Who drafted: the X-HNP-User '
        "header or the 'user' field.",
        "properties": {
            "spec": {"type": "object"},
            "labels": _STRINGS,
            "annotations": _STRINGS,
            "delete": {"type": "boolean"},
            "user": {"type": "string"},
        },
    },
)
add_schema(
    "SyncRequest",
    {
        "type": "object",
        "properties": {
            "direction": {"type": "string", "enum": [d.value for d in SyncDirection], "default": "gui_to_github"},
            "create_pr": {
                "type": "boolean",
                "default": True,
                "description": "Publish on a branch hnp-sync/<fabric>/<op> with a pull request (an open "
                "bot pull request of the fabric is updated instead); false commits "
                "straight onto the fabric's branch",
            },
            "force_sync": {
                "type": "boolean",
                "default": False,
                "description": "Also publish drafts that are in conflict (their base moved)",
            },
            "conflict_resolution": {
                "type": "string",
                "enum": [s.value for s in ConflictResolutionStrategy],
                "default": "user_guided",
            },
            "resource_filters": {
                "type": "object",
                "nullable": True,
                "description": "Only these drafts: a resource is selected when its kind is in "
                "'kinds' (if given) and its name in 'names' (if given)",
                "properties": {
                    "kinds": {"type": "array", "items": {"type": "string"}},
                    "names": {"type": "array", "items": {"type": "string"}},
                },
            },
            "user": {"type": "string"},
        },
    },
)
add_schema(
    "SyncAccepted",
    {
        "type": "object",
        "required": ["operation_id", "status_url"],
        "properties": {
            "operation_id": {"type": "string", "format": "uuid"},
            "status": {"type": "string"},
            "status_url": {"type": "string"},
        },
    },
)
add_schema(
    "Operation",
    {
        "type": "object",
        "properties": {
            "operation_id": {"type": "string", "format": "uuid"},
            "fabric": {"type": "string"},
            "direction": {"type": "string", "enum": [d.value for d in SyncDirection]},
            "status": {"type": "string", "enum": [s.value for s in OperationStatus]},
            "progress": {"type": "object", "properties": {"done": {"type": "integer"}, "total": {"type": "integer"}}},
            "cancel_requested": {"type": "boolean"},
            "error": {"type": "string", "nullable": True},
            "result": {
                "type": "object",
                "nullable": True,
                "description": "The SyncResult once finished: success, operation_id, started_at, completed_at, "
                "direction, statistics, github_integration, errors, warnings, performance "
                "(and parts for bidirectional)",
            },
            "status_url": {"type": "string"},
        },
    },
)

add_path(
    "/api/fabrics",
    "post",
    {
        "summary": "Register a fabric",
        "requestBody": {"required": True, "content": json_content(ref("FabricInput"))},
        "responses": {**ok("The fabric", ref("Fabric"), 201), **errors(400, 409, 422)},
    },
)
add_path(
    "/api/fabrics",
    "get",
    {
        "summary": "List fabrics",
        "responses": {
            **ok(
                "All fabrics", {"type": "object", "properties": {"fabrics": {"type": "array", "items": ref("Fabric")}}}
            ),
            **errors(),
        },
    },
)
add_path(
    "/api/fabrics/{fabric}",
    "get",
    {"summary": "One fabric", "parameters": [_FABRIC], "responses": {**ok("The fabric", ref("Fabric")), **errors(404)}},
)
add_path(
    "/api/fabrics/{fabric}/resources",
    "get",
    {
        "summary": "A fabric's resources",
        "parameters": [
            _FABRIC,
            query_param("kind", {"type": "string"}, "Only this kind"),
            query_param("state", {"type": "string", "enum": list(RESOURCE_STATES)}, "Only this state"),
        ],
        "responses": {
            **ok(
                "Resources",
                {
                    "type": "object",
                    "properties": {
                        "fabric": {"type": "string"},
                        "resources": {"type": "array", "items": ref("Resource")},
                    },
                },
            ),
            **errors(404, 422),
        },
    },
)
add_path(
    "/api/fabrics/{fabric}/resources/{kind}/{name}",
    "get",
    {
        "summary": "One resource: draft, desired, actual, state and file",
        "parameters": [_FABRIC, _KIND, _NAME],
        "responses": {**ok("The resource", ref("Resource")), **errors(404, 422)},
    },
)
add_path(
    "/api/fabrics/{fabric}/resources/{kind}/{name}/draft",
    "put",
    {
        "summary": "Create or replace the draft of a resource (or mark it for deletion)",
        "parameters": [_FABRIC, _KIND, _NAME],
        "requestBody": {"required": True, "content": json_content(ref("DraftInput"))},
        "responses": {**ok("The resource after the write", ref("Resource")), **errors(400, 404, 422)},
    },
)
add_path(
    "/api/fabrics/{fabric}/resources/{kind}/{name}/draft",
    "delete",
    {
        "summary": "Discard the draft of a resource",
        "parameters": [_FABRIC, _KIND, _NAME],
        "responses": {**ok("The resource after the write", ref("Resource")), **errors(404, 422)},
    },
)
add_path(
    "/api/fabrics/{fabric}/sync",
    "post",
    {
        "summary": "Start a sync operation",
        "description": "409 sync_in_progress when an API-started sync of the fabric is still active "
        "(details.operation_id names it).",
        "parameters": [_FABRIC],
        "requestBody": {"required": False, "content": json_content(ref("SyncRequest"))},
        "responses": {**ok("Accepted", ref("SyncAccepted"), 202), **errors(400, 404, 409, 422)},
    },
)
add_path(
    "/api/fabrics/{fabric}/operations",
    "get",
    {
        "summary": "A fabric's sync operations, newest first",
        "parameters": [_FABRIC, query_param("active", {"type": "boolean"}, "Only unfinished operations")],
        "responses": {
            **ok(
                "Operations",
                {
                    "type": "object",
                    "properties": {
                        "fabric": {"type": "string"},
                        "operations": {"type": "array", "items": ref("Operation")},
                    },
                },
            ),
            **errors(400, 404),
        },
    },
)
add_path(
    "/api/operations/{operation_id}",
    "get",
    {
        "summary": "A sync operation: status, progress, and its SyncResult once finished",
        "parameters": [
            _OPERATION,
            query_param(
                "wait", {"type": "number", "maximum": 60}, "Wait up to this many seconds (at most 60) for it to finish"
            ),
        ],
        "responses": {**ok("The operation", ref("Operation")), **errors(400, 404)},
    },
)
add_path(
    "/api/operations/{operation_id}/cancel",
    "post",
    {
        "summary": "Cancel a sync operation; whatever it made on GitHub is removed",
        "parameters": [_OPERATION],
        "responses": {
            **ok("Cancellation requested (or done, for an operation that had not started)", ref("Operation"), 202),
            **errors(404, 409),
        },
    },
)
add_path(
    "/api/openapi.json",
    "get",
    {"summary": "This document", "responses": {**ok("OpenAPI 3 document", {"type": "object"}), **errors()}},
)
