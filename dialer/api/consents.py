"""POST /consents/, GET /consents/ and /consents/{id}/, POST /consents/{id}/revoke/.

The input names are those of `consent.services.consent_create` (API.md), so a
missing Part 2 element (42 CFR 2.31) answers 400 naming it and nothing is
stored. `expires_at` left out is not `expires_at: null`: for a Part 2 consent
null states "no expiration", while leaving it out (with no
`expiration_event`) leaves the element missing.

A consent belongs to its contact's program: another program's consent answers
404. The same consent sent again answers the first (200), see dialer.acts.crm.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.models import Contact
from consent.models import Consent, ConsentKind, ConsentMethod
from consent.selectors import consent_state
from dialer.acts.crm import consent_record
from dialer.acts.revocation import consent_revoke_and_cancel
from dialer.api.auth import IsApiClient, principal
from dialer.api.common import AwareDateTimeField, IdField, Pagination, PhoneField
from dialer.api.errors import ApiError
from dialer.api.filtering import StrictFilterSet
from dialer.models import CallAttempt

# consent.selectors.consent_state
CONSENT_STATES = ["active", "revoked", "expired", "not_yet"]


def _strings(max_length: int, *, max_items: int = 50) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=max_length),
        max_length=max_items,
        required=False,
        default=list,
    )


def _text(max_length: int) -> serializers.CharField:
    return serializers.CharField(
        max_length=max_length, required=False, allow_blank=True, default=""
    )


class ConsentInput(serializers.Serializer):  # type: ignore[type-arg]
    contact = IdField()
    kind = serializers.ChoiceField(choices=ConsentKind.choices)
    method = serializers.ChoiceField(choices=ConsentMethod.choices, required=False)
    number = PhoneField(required=False, help_text="For TCPA kinds: the number called.")
    purposes = _strings(200)
    signed_at = AwareDateTimeField()
    expires_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text="null: the consent states it does not expire. Left out: no date given.",
    )
    signature = _text(2000)
    # 42 CFR 2.31(a), for `part2`:
    recipients = _strings(200, max_items=20)
    description = _text(2000)
    discloser = _text(200)
    expiration_event = _text(200)
    revocation_notice_given = serializers.BooleanField(default=False)
    attempt = IdField(required=False, help_text="For `recording`: the call it was given on.")


class RevokeInput(serializers.Serializer):  # type: ignore[type-arg]
    """Never refused for its wording (API.md): the service keeps an unknown channel
    as given, truncates a long reason and counts an early `revoked_at` from the
    consent's start."""

    channel = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="Free text: how it arrived (call, text, email, in person...).",
    )
    revoked_at = AwareDateTimeField(
        required=False,
        help_text="When the person revoked; latest: now; earliest: the consent's start.",
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="Kept encrypted; truncated to 500 characters.",
    )


class ConsentOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    contact = serializers.IntegerField(source="contact_id")
    number = serializers.CharField(allow_null=True)
    purposes = serializers.SerializerMethodField()
    recipients = serializers.SerializerMethodField()
    description = serializers.CharField(allow_null=True)
    signature = serializers.CharField(allow_null=True)
    revocation_channel_label = serializers.CharField(
        allow_null=True, help_text="The channel as given, when it is none of the listed ones."
    )
    attempt = serializers.IntegerField(source="attempt_id", allow_null=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = Consent
        fields = [
            "id",
            "contact",
            "kind",
            "method",
            "number",
            "purposes",
            "signed_at",
            "expires_at",
            "expires_never",
            "expiration_event",
            "signature",
            "recipients",
            "description",
            "discloser",
            "revocation_notice_given",
            "attempt",
            "state",
            "revoked_at",
            "revocation_channel",
            "revocation_channel_label",
            "source",
            "created_at",
        ]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_purposes(self, consent: Consent) -> list[str]:
        return [*sorted(consent.purposes), *consent.other_purpose_list]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_recipients(self, consent: Consent) -> list[str]:
        programs = sorted(p.slug for p in consent.recipient_programs.all())
        return [*programs, *consent.outside_recipient_list]

    @extend_schema_field(serializers.ChoiceField(choices=CONSENT_STATES))
    def get_state(self, consent: Consent) -> str:
        return consent_state(consent, timezone.now())


class ConsentFilter(StrictFilterSet):
    contact = filters.NumberFilter(field_name="contact_id")

    class Meta:
        model = Consent
        fields = ["contact", "kind"]


def _consents(request: Request) -> Any:
    return Consent.objects.filter(contact__program=principal(request).program).prefetch_related(
        "recipient_programs"
    )


def _consent_or_404(request: Request, pk: int) -> Consent:
    consent = _consents(request).filter(pk=pk).first()
    if consent is None:
        raise ApiError.not_found()
    return consent


class ConsentList(generics.GenericAPIView):  # type: ignore[type-arg]
    pagination_class = Pagination
    permission_classes = [IsApiClient]
    serializer_class = ConsentOutput
    filterset_class = ConsentFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Consent.objects.none()
        return _consents(self.request).order_by("-id")

    @extend_schema(responses=ConsentOutput(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ConsentOutput(page, many=True).data)

    @extend_schema(request=ConsentInput, responses={200: ConsentOutput, 201: ConsentOutput})
    def post(self, request: Request) -> Response:
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields: dict[str, Any] = dict(data.validated_data)
        who = principal(request)
        contact = Contact.objects.filter(program=who.program, pk=fields.pop("contact")).first()
        if contact is None:
            raise ApiError.for_field("contact", "Unknown contact.")
        attempt_id = fields.pop("attempt", None)
        if attempt_id is not None:
            if not CallAttempt.objects.filter(pk=attempt_id, task__contact=contact).exists():
                raise ApiError.for_field("attempt", "Unknown call of this contact.")
            fields["attempt_id"] = attempt_id
        fields["number"] = fields.get("number") or ""
        # Left out and null differ (see above): pass expires_at only when it was sent.
        recorded = consent_record(contact=contact, actor=who.actor, **fields)
        consent = _consent_or_404(request, recorded.obj.pk)
        code = status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK
        return Response(ConsentOutput(consent).data, status=code)


class ConsentDetail(generics.GenericAPIView):  # type: ignore[type-arg]
    permission_classes = [IsApiClient]
    serializer_class = ConsentOutput

    @extend_schema(responses=ConsentOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ConsentOutput(_consent_or_404(request, pk)).data)


class ConsentRevoke(generics.GenericAPIView):  # type: ignore[type-arg]
    """Revoke at once; the pending calls the consent covered are cancelled in the same act.

    Idempotent: revoking a revoked consent answers it unchanged.
    """

    permission_classes = [IsApiClient]
    accepts_inactive_program = True
    serializer_class = ConsentOutput

    @extend_schema(request=RevokeInput, responses=ConsentOutput)
    def post(self, request: Request, pk: int) -> Response:
        consent = _consent_or_404(request, pk)
        data = RevokeInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        consent_revoke_and_cancel(
            consent_id=consent.pk,
            channel=fields["channel"] or "",
            actor=principal(request).actor,
            revoked_at=fields.get("revoked_at"),
            reason=fields["reason"] or "",
        )
        return Response(ConsentOutput(_consent_or_404(request, pk)).data)
