"""What runs by itself: the planner, dispatch and the last check, the reconciler,
refusals, outcomes, schedules, abandonment, RND refresh and health.

It imports neither the admin nor the API (tests/foundation/test_dependencies.py).
"""
