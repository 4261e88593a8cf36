"""Alert channels: Discord webhooks (with charts), console, JSON-lines, fan-out, heartbeat.

Bootstrap calls :func:`build_notifier` (and :func:`build_heartbeat`); everything else talks
to the notifier port the services declare (``NotificationService``), which every channel
here fits.
"""

from skimd.infrastructure.notifications.factory import build_heartbeat, build_notifier

__all__ = ["build_heartbeat", "build_notifier"]
