from bot.core.states import resource_state


def state(**kw):
    base = dict(desired_spec={"a": 1}, draft_spec=None, draft_delete=False, actual_spec=None)
    base.update(kw)
    return resource_state(**base)


def test_no_draft_and_no_actual_is_in_sync():
    assert state() == "in_sync"


def test_actual_agreeing_is_in_sync_and_differing_is_drifted():
    assert state(actual_spec={"a": 1}) == "in_sync"
    assert state(actual_spec={"a": 2}) == "drifted"


def test_a_draft_wins_over_drift():
    assert state(draft_spec={"a": 3}, actual_spec={"a": 2}) == "draft"
    assert state(draft_delete=True) == "draft"


def test_pr_and_conflict_precedence():
    assert state(draft_spec={"a": 3}, in_open_pr=True) == "pending_pr"
    assert state(draft_spec={"a": 3}, in_open_pr=True, has_open_conflict=True) == "conflict"


def test_orphaned_unless_a_draft_recreates_it():
    assert state(orphaned=True) == "orphaned"
    assert state(orphaned=True, draft_spec={"a": 1}) == "draft"
