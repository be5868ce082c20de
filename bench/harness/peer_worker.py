"""The peer under comparison: django-notifications-hq 1.8.3 on Django < 5.1 and SQLite, run in its
own venv (.cache/bench-peer, made by bench/harness/peer.py) and driven over bench/harness/rpc.py.

The settings are this module's `configure()` (a standalone minimal project: auth, contenttypes,
notifications, one SQLite file); nothing of the peer is changed. Each timing is taken here, around
the peer's own public calls: `notify.send(actor, recipient=group, verb=...)`, the `unread()`
queryset, Django's Paginator over `user.notifications.all()` (what its list views use), and
`mark_all_as_read()`. Standard library + the peer's venv only.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

# Appended, not prepended: the peer's own top-level package is `notifications` too (django-notifications-hq),
# and it must win over this project's (the checkout is only here for bench.harness.rpc).
sys.path.append(str(Path(__file__).resolve().parents[2]))

from bench.harness.rpc import serve  # noqa: E402

_actor = None


def configure(db_path: str) -> dict:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-peer-not-secret",
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "notifications"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db_path}},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    global _actor
    from django.contrib.auth.models import User

    _actor = User.objects.create(username="bench-actor")
    import sqlite3

    import notifications

    return {"django": django.get_version(), "sqlite": sqlite3.sqlite_version,
            "django_notifications_hq": getattr(notifications, "__version__", "?")}


def make_group(name: str, size: int) -> float:
    """A Group of `size` new users (bulk inserts: set-up, not timed as the peer's work)."""
    from django.contrib.auth.models import Group, User
    from django.db import transaction

    start = time.perf_counter()
    with transaction.atomic():
        users = User.objects.bulk_create([User(username=f"{name}-{i:06d}") for i in range(size)], batch_size=2000)
        if not users or users[0].pk is None:
            users = list(User.objects.filter(username__startswith=f"{name}-"))
        group = Group.objects.create(name=name)
        through = User.groups.through
        through.objects.bulk_create([through(user_id=u.pk, group_id=group.pk) for u in users], batch_size=2000)
    return time.perf_counter() - start


def fanout(group: str, verb: str) -> dict:
    """notify.send to the whole Group: it returns when every row is written (it blocks)."""
    from django.contrib.auth.models import Group
    from notifications.models import Notification
    from notifications.signals import notify

    target = Group.objects.get(name=group)
    start = time.perf_counter()
    notify.send(_actor, recipient=target, verb=verb)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "written": Notification.objects.filter(verb=verb).count()}


def make_inbox(user: str, size: int) -> float:
    """One user holding `size` unread notifications (bulk insert, set-up)."""
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone
    from notifications.models import Notification

    start = time.perf_counter()
    recipient = User.objects.create(username=user)
    kind = ContentType.objects.get_for_model(_actor)
    now = timezone.now()
    Notification.objects.bulk_create(
        [Notification(recipient=recipient, actor_content_type=kind, actor_object_id=_actor.pk, verb="hello",
                      timestamp=now - timedelta(seconds=size - i)) for i in range(size)], batch_size=2000)
    return time.perf_counter() - start


def _user(name: str):
    from django.contrib.auth.models import User

    return User.objects.get(username=name)


def page(user: str, number: int, per_page: int = 20) -> dict:
    """Page `number` of the inbox, newest first, as the peer's list views paginate it."""
    from django.core.paginator import Paginator

    recipient = _user(user)
    start = time.perf_counter()
    rows = list(Paginator(recipient.notifications.all(), per_page).page(number).object_list)
    return {"seconds": time.perf_counter() - start, "rows": len(rows)}


def unread_count(user: str) -> dict:
    recipient = _user(user)
    start = time.perf_counter()
    count = recipient.notifications.unread().count()
    return {"seconds": time.perf_counter() - start, "count": count}


def mark_all(user: str) -> dict:
    recipient = _user(user)
    start = time.perf_counter()
    marked = recipient.notifications.mark_all_as_read()
    return {"seconds": time.perf_counter() - start, "marked": marked}


def reset_unread(user: str) -> int:
    return _user(user).notifications.update(unread=True)


if __name__ == "__main__":
    serve({"configure": configure, "make_group": make_group, "fanout": fanout, "make_inbox": make_inbox,
           "page": page, "unread_count": unread_count, "mark_all": mark_all, "reset_unread": reset_unread})
