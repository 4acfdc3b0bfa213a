"""The acts that span apps, each one transaction with its audit events: opt-out,
revocation, callbacks, CRM intake, eligibility, enrollments, appointments and
the alumni and appointment imports."""
