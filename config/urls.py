from __future__ import annotations

from django.contrib import admin
from django.urls import path

admin.site.site_header = "Call orchestrator"
admin.site.site_title = "Call orchestrator"
admin.site.index_title = "Calls, consent and compliance"

urlpatterns = [
    path("admin/", admin.site.urls),
]
