"""A person's phones that get reminders: subscribe and remove, only ever one's own."""

from __future__ import annotations

from sqlalchemy import select

from ..models import PushSubscription
from ..services.audit import record_event
from ..services.push import endpoint_hash, remove_subscriptions, save_subscription
from . import Actor, NotFound, Refused, UnitOfWork

# Partner people are reminded of the actions assigned to their partner.
SUBSCRIBERS = ("worker", "lead", "partner")


def subscribe_device(
    uow: UnitOfWork, actor: Actor, fields: dict[str, str], language: str, device: str
) -> tuple[PushSubscription, bool]:
    """Keep the browser's (already checked) subscription for the actor; (it, created)."""
    if actor.role not in SUBSCRIBERS or actor.user is None:
        raise Refused("Reminders are for workers, leads and partners.")
    subscription, created = save_subscription(uow.session, actor.user, fields, language, device)
    record_event(
        uow.session, actor.user, "create" if created else "update", "push_subscription",
        subscription.id, actor.address, subscription.device,
    )  # fmt: skip
    return subscription, created


def _remove(uow: UnitOfWork, actor: Actor, subscription: PushSubscription | None) -> None:
    if subscription is None or actor.user is None or subscription.user_id != actor.user.id:
        raise NotFound("This device has no reminders.")
    record_event(
        uow.session, actor.user, "delete", "push_subscription", subscription.id, actor.address,
        subscription.device,
    )  # fmt: skip
    remove_subscriptions(uow.session, [subscription.id])


def remove_device(uow: UnitOfWork, actor: Actor, subscription_id: int) -> None:
    """Remove one of the actor's own devices (another person's is not found)."""
    _remove(uow, actor, uow.session.get(PushSubscription, subscription_id))


def remove_device_by_endpoint(uow: UnitOfWork, actor: Actor, endpoint: str) -> None:
    """The browser unsubscribes this device: found by its endpoint, among the actor's own."""
    subscription = uow.session.scalar(
        select(PushSubscription).where(
            PushSubscription.endpoint_hash == endpoint_hash(endpoint),
            PushSubscription.user_id == (actor.user.id if actor.user else -1),
        )
    )
    _remove(uow, actor, subscription)
