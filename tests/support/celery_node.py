"""``[core] hostname_callable`` for Celery workers that share one machine.

Airflow records where each task instance ran in ``task_instance.hostname``. Workers on separate
machines differ there by host name; workers on one machine differ only by their Celery node name
(``airflow celery worker --celery-hostname``), so the scale-out test names hosts after it.
"""

from __future__ import annotations

import socket

from celery import current_task


def node_name() -> str:
    """The Celery node running the current task (``celery@<name>``), else the host's name."""
    request = current_task.request if current_task else None
    return getattr(request, "hostname", None) or socket.getfqdn()
