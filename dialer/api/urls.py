from __future__ import annotations

from django.urls import path, re_path

from dialer.api import (
    appointments,
    attempts,
    callbacks,
    consents,
    contacts,
    dnc,
    eligibility,
    enrollments,
    fallback,
    queues,
    tasks,
)

app_name = "api"

urlpatterns = [
    path("queues/", queues.QueueList.as_view(), name="queues"),
    path("queues/<slug:slug>/", queues.QueueDetail.as_view(), name="queue"),
    path("contacts/", contacts.ContactCreate.as_view(), name="contacts"),
    path("contacts/<int:pk>/", contacts.ContactDetail.as_view(), name="contact"),
    path("consents/", consents.ConsentList.as_view(), name="consents"),
    path("consents/<int:pk>/", consents.ConsentDetail.as_view(), name="consent"),
    path("consents/<int:pk>/revoke/", consents.ConsentRevoke.as_view(), name="consent-revoke"),
    path("dnc/", dnc.DncCreate.as_view(), name="dnc"),
    path("dnc/lookup/", dnc.DncLookup.as_view(), name="dnc-lookup"),
    path("dnc/<str:number>/", dnc.DncDetail.as_view(), name="dnc-detail"),
    path("callbacks/", callbacks.CallbackCreate.as_view(), name="callbacks"),
    path("appointments/", appointments.AppointmentCreate.as_view(), name="appointments"),
    path(
        "appointments/<str:external_id>/cancel/",
        appointments.AppointmentCancel.as_view(),
        name="appointment-cancel",
    ),
    path("enrollments/", enrollments.EnrollmentCreate.as_view(), name="enrollments"),
    path("eligibility/", eligibility.Eligibility.as_view(), name="eligibility"),
    path("tasks/", tasks.TaskList.as_view(), name="tasks"),
    path("tasks/<int:pk>/", tasks.TaskDetail.as_view(), name="task"),
    path("attempts/", attempts.AttemptCreate.as_view(), name="attempts"),
    # Last: whatever else is asked under /api/v1/ answers 404 in the error shape.
    re_path(r"^", fallback.NoSuchEndpoint.as_view(), name="no-such-endpoint"),
]
