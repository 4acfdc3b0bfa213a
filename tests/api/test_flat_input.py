"""dialer.api.common.FlatInput: fields copied shallow per instance, never shared bound."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from dialer.api.callbacks import CallbackInput
from dialer.api.common import FlatInput


def test_each_instance_binds_its_own_fields_and_the_declared_ones_stay_unbound() -> None:
    first = CallbackInput(data={"phone": "(305) 555-0170"})
    second = CallbackInput(data={"phone": "bad", "state": "zz"})
    assert first.is_valid(), first.errors
    assert first.validated_data["phone"] == "+13055550170"
    assert not second.is_valid()
    assert set(second.errors) == {"phone", "state"}
    for name in ("phone", "state"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
        assert getattr(CallbackInput._declared_fields[name], "parent", None) is None


def test_a_field_holding_another_is_refused_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match=r"Nested\.tags: FlatInput takes plain fields only"):

        class Nested(FlatInput):
            tags = serializers.ListField(child=serializers.CharField())
