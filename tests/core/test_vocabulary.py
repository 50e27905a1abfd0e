"""The domain's words are defined once: the enums, and what is keyed by them agrees."""

from __future__ import annotations

from bot.core import threeway
from bot.core.states import ConflictType, ResourceState, resource_state


def test_every_conflict_type_has_its_severity_and_resolutions_and_no_other() -> None:
    assert set(threeway.CONFLICT_POLICIES) == set(ConflictType)
    for conflict_type in ConflictType:
        assert threeway.policy(conflict_type.value) is threeway.CONFLICT_POLICIES[conflict_type]


def test_the_state_rule_only_answers_resource_states() -> None:
    seen = {
        resource_state(
            desired_spec=desired,
            draft_spec=draft,
            draft_delete=False,
            actual_spec=actual,
            orphaned=orphaned,
            in_open_pr=in_pr,
            has_open_conflict=conflict,
        )
        for desired in (None, {"a": 1})
        for draft in (None, {"a": 2})
        for actual in (None, {"a": 3})
        for orphaned in (False, True)
        for in_pr in (False, True)
        for conflict in (False, True)
    }
    assert seen == set(ResourceState)
