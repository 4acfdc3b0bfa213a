from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dialer.runtime.health import health

admin.site.site_header = "Call orchestrator"
admin.site.site_title = "Call orchestrator"
admin.site.index_title = "Calls, consent and compliance"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("api/v1/", include("dialer.api.urls")),
    path("telephony/", include("dialer.backends.twilio_webhooks")),
    path("telephony/", include("dialer.backends.twilio_agent_webhooks")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
