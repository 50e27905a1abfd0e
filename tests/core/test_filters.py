"""A sync request's resource_filters: the contract's list of strings and the object form."""

from __future__ import annotations

import pytest

from bot.core.filters import FilterError, matches, normalize


def test_a_list_selects_a_kind_a_resource_of_a_kind_or_a_name():
    stored = normalize(["vpcs", "Connection/leaf-1", "vpc-9"])
    assert stored == ["VPC", "Connection/leaf-1", "vpc-9"]
    assert matches(stored, "VPC", "anything")
    assert matches(stored, "Connection", "leaf-1") and not matches(stored, "Connection", "leaf-2")
    assert matches(stored, "External", "vpc-9")
    assert not matches(stored, "Switch", "s1")


def test_a_bare_word_that_names_a_kind_is_the_kind_and_kind_slash_name_reaches_the_resource():
    stored = normalize(["vpc"])
    assert stored == ["VPC"] and not matches(stored, "External", "vpc")
    assert matches(normalize(["External/vpc"]), "External", "vpc")


def test_the_object_form_still_means_kinds_and_names():
    stored = normalize({"kinds": ["vpc"], "names": ["a", "b"]})
    assert stored == {"kinds": ["VPC"], "names": ["a", "b"]}
    assert matches(stored, "VPC", "a") and not matches(stored, "VPC", "c") and not matches(stored, "Switch", "a")
    assert matches(None, "Switch", "x") and matches([], "Switch", "x")


@pytest.mark.parametrize(
    "bad", [["Pod/x"], [""], [3], {"colours": []}, {"kinds": ["Deployment"]}, {"names": "a"}, "VPC", ["VPC/"]]
)
def test_filters_that_cannot_be_read_are_refused_with_a_reason(bad):
    with pytest.raises(FilterError) as refused:
        normalize(bad)
    assert str(refused.value)
