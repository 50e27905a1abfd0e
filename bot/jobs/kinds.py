"""Every kind of job, as stored in `job.kind`. The handlers are given to the workers by the
app's composition (bot.web.app); each feature exports those of its own kinds."""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    WEBHOOK = "webhook"  # a stored delivery, dispatched through the event router
    INGEST = "ingest"  # the fabric's branch head into the database
    VALIDATE_PULL_REQUEST = "validate_pull_request"  # the validate check on a pull request's head
    SYNC = "sync"  # an HNP API sync operation
    CONFLICTS_CHECK = "conflicts_check"  # conflicts checked again; bot pull requests' check runs
    CONFLICTS_RESOLVE = "conflicts_resolve"  # a check run button pressed
    CONFLICTS_REBUILD = "conflicts_rebuild"  # resolved drafts put on their pull request's branch
    PR_COMMAND = "pr_command"  # an `/hnp ...` comment
    RECONCILE = "reconcile"  # every installation's reconcile queued, spread over the interval
    RECONCILE_INSTALLATION = "reconcile_installation"  # one installation's fabrics' branch heads checked
