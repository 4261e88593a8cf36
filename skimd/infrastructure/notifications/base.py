"""The notifier protocol, re-exported for infrastructure code.

The protocol and its errors belong to the service layer (:mod:`skimd.services.alerts`);
implementations here import them from this module so the dependency points inward.
"""

from __future__ import annotations

from skimd.errors import NotificationDeliveryError
from skimd.services.alerts import (
    AlertRejectedError,
    CompositeNotifier,
    NotificationService,
    NotifierDisabledError,
    NotifierRetryAfter,
    leaf_notifiers,
)

__all__ = [
    "AlertRejectedError",
    "CompositeNotifier",
    "NotificationDeliveryError",
    "NotificationService",
    "NotifierDisabledError",
    "NotifierRetryAfter",
    "leaf_notifiers",
]
