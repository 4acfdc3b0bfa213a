"""Call tasks, their attempts, and the API clients (CRMs) that create them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from encrypted_fields.fields import EncryptedTextField

from campaigns.models import Contact, PhoneNumber, Program, Queue, Script


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    EXHAUSTED = "exhausted", "Exhausted"


OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.IN_PROGRESS)


class TaskOrigin(models.TextChoices):
    API = "api", "CRM (API)"
    ADMIN = "admin", "Staff (admin)"
    IMPORT = "import", "List import"


class CallTask(models.Model):
    """ "Call this contact on this number for this queue"; the database is the queue of record."""

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tasks")
    phone = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="tasks")
    # Copied from the phone so that one number has one open task per queue,
    # whichever contact row it hangs on.
    number_hash = models.CharField(max_length=64, editable=False)
    # No index of its own: each planner write-back would maintain it for every task. The
    # planner, dispatch and the API reach tasks by task_due_per_queue, the open-task
    # constraint (both lead with the queue), the id, the contact or the number; deleting
    # a queue (rare, and refused while it has tasks) scans the tasks once.
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="tasks", db_index=False)
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_decision = models.JSONField(default=dict, blank=True)
    closed_reason = models.CharField(max_length=40, blank=True)
    origin = models.CharField(max_length=10, choices=TaskOrigin.choices)
    source = models.CharField(max_length=100, blank=True, help_text="Campaign or lead source.")
    requested_at = models.DateTimeField(null=True, blank=True, help_text="Callback request time.")
    appointment_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The table is stored with fillfactor 70 (migration 0006): each planner tick rewrites
    # the rows it decides, and a new row version that fits on its page costs far less.
    class Meta:
        ordering = ["next_attempt_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["queue", "number_hash"],
                condition=models.Q(status__in=["pending", "in_progress"]),
                name="one_open_task_per_number_and_queue",
            )
        ]
        indexes = [
            # The planner's work list: due pending tasks of one queue.
            models.Index(
                fields=["queue", "next_attempt_at"],
                condition=models.Q(status="pending"),
                name="task_due_per_queue",
            ),
            models.Index(fields=["number_hash", "status"], name="task_by_number"),
        ]

    def __str__(self) -> str:
        return f"Task #{self.pk}"


class AppointmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELLED = "cancelled", "Cancelled"


class Appointment(models.Model):
    """An appointment from the EMR (its id is `external_id`) and its reminder task.

    The task's `appointment_at` is copied from `starts_at`: the decision reads
    the task, and the appointment service keeps the two together.
    """

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="appointments")
    external_id = models.CharField(max_length=100, help_text="The EMR's id.")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="appointments")
    phone = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="appointments")
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.SCHEDULED
    )
    task = models.ForeignKey(
        CallTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "external_id"], name="appointment_external_id_per_program"
            )
        ]

    def __str__(self) -> str:
        return f"Appointment #{self.pk}"


class AppointmentImport(models.Model):
    """An uploaded appointments file for one reminder queue, and its per-row report.

    The file is kept (encrypted) only until it has been imported; the report
    holds row numbers, EMR ids and reason codes, never a name or a number.
    """

    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="appointment_imports")
    content = EncryptedTextField(blank=True, null=True)
    done = models.BooleanField(default=False)
    report = models.JSONField(default=dict, blank=True)
    requested_by = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Appointment import #{self.pk}"


class Outcome(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    VOICEMAIL = "voicemail", "Voicemail"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    FAILED = "failed", "Failed"
    ABANDONED = "abandoned", "Abandoned"
    DNC_REQUESTED = "dnc_requested", "Asked not to be called"
    # Never dialled: the last check before the call blocked it (does not count toward caps).
    WITHDRAWN = "withdrawn", "Withdrawn at the last check"


RETRYABLE_OUTCOMES = frozenset(
    {Outcome.NO_ANSWER, Outcome.BUSY, Outcome.VOICEMAIL, Outcome.FAILED, Outcome.ABANDONED}
)
ANSWERED_OUTCOMES = frozenset(
    {Outcome.CONNECTED, Outcome.WRONG_NUMBER, Outcome.DNC_REQUESTED, Outcome.ABANDONED}
)


class CallAttempt(models.Model):
    task = models.ForeignKey(CallTask, on_delete=models.PROTECT, related_name="attempt_set")
    phone = models.ForeignKey(PhoneNumber, on_delete=models.PROTECT, related_name="attempts")
    attempt_number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    script = models.ForeignKey(Script, null=True, blank=True, on_delete=models.PROTECT)
    recording_consent = models.BooleanField(null=True, blank=True)
    answered = models.BooleanField(default=False)
    abandoned = models.BooleanField(default=False)
    backend = models.CharField(max_length=20, default="preview")
    backend_ref = models.CharField(max_length=100, blank=True)
    decision = models.JSONField(default=dict, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Preview calls: when staff took the call, and when a fresh decision let them dial it
    # (the number is shown only from then on).
    taken_at = models.DateTimeField(null=True, blank=True)
    dialled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "attempt_number"], name="one_attempt_per_number"
            )
        ]

    def __str__(self) -> str:
        return f"Attempt #{self.pk}"


class MyCall(CallAttempt):
    """A proxy, so that "My calls" has its own entry and permission in the admin."""

    class Meta:
        proxy = True
        verbose_name = "My call"
        verbose_name_plural = "My calls"


class PresenceState(models.TextChoices):
    AVAILABLE = "available", "Available"
    ON_CALL = "on_call", "On a call"
    WRAP_UP = "wrap_up", "Wrapping up"
    AWAY = "away", "Away"


class StaffPresence(models.Model):
    """Whether a staff member can take a call now, and where they answer.

    Agent-first dialling rings `answer_at` (the staff member's own phone number
    in E.164, or a SIP address) before the contact. It identifies staff, not a
    contact, yet is never logged beside one. A presence not seen for
    PRESENCE_TIMEOUT_SECONDS counts as away (the page that kept it is gone).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence"
    )
    state = models.CharField(
        max_length=10, choices=PresenceState.choices, default=PresenceState.AWAY
    )
    answer_at = models.CharField(max_length=200, blank=True)
    since = models.DateTimeField(help_text="When the state was set.")
    seen_at = models.DateTimeField(help_text="The last sign of life from the staff member's page.")

    class Meta:
        verbose_name_plural = "staff presence"

    def __str__(self) -> str:
        return f"Presence of user #{self.user_id}"


class ApiRole(models.TextChoices):
    CRM = "crm", "CRM"
    MANAGER = "manager", "Manager"


class ApiClient(models.Model):
    """A CRM or script calling the API for one program; only a hash of its token is kept."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="api_clients")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=ApiRole.choices, default=ApiRole.CRM)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=8, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program__slug", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key for POST /callbacks/: the same key answers the same task."""

    # No index of its own: idempotency_key_per_client (client, key) serves it.
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, db_index=False)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    task = models.ForeignKey(CallTask, on_delete=models.CASCADE)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_per_client")
        ]

    def __str__(self) -> str:
        return f"Idempotency key #{self.pk}"
