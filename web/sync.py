"""Delta sync for the city app: a change log written by the database session itself, and
`GET /api/v1/sync?since=<cursor>` built from it.

Every flush that adds, changes or removes a site, tour, guide or ticket product (or one of
their texts, stops, prices or site lists) writes one `sync_changes` row per changed thing,
whoever made the change (API, seed loader, pipeline, CLI). All rows of one transaction share
one sequence number taken from the `sync_state` row; taking it locks that row until the
commit, so sequence numbers become visible in order and a cursor never skips a change that
commits late. Things that leave the public view (deleted, unpublished, deactivated) are
tombstones: `deleted` rows, answered as `deleted` entries.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, delete, event, func, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import transaction_info, utcnow
from app.extensions import db
from content import presenters
from content.models import Site, SiteText, Tour, TourStop, TourText
from guides.models import Guide
from guides.published import guide_document
from ticketing import presenters as ticket_presenters
from ticketing.models import Product, ProductPrice, ProductSite

#: More changed things than this since a cursor and the answer is a full snapshot instead.
MAX_DELTA = 500


class Entity(enum.StrEnum):
    SITE = "site"  # key: the site's slug
    TOUR = "tour"  # key: the tour's slug
    GUIDE = "guide"  # key: "<site slug>/<lang>"
    PRODUCT = "product"  # key: the product's slug


class SyncChange(db.Model):  # type: ignore[name-defined,misc]
    """One thing that changed in the transaction numbered `seq`; `deleted` for a tombstone."""

    __tablename__ = "sync_changes"
    __table_args__ = (
        CheckConstraint("entity IN ('site', 'tour', 'guide', 'product')", name="entity_known"),
        Index("ix_sync_changes_seq", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int]
    entity: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(100))
    deleted: Mapped[bool] = mapped_column(default=False)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return (
            f"<SyncChange #{self.seq} {self.entity}:{self.key}{' deleted' if self.deleted else ''}>"
        )


class SyncState(db.Model):  # type: ignore[name-defined,misc]
    """One row: the sequence number of the newest transaction that changed synced things."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<SyncState #{self.seq}>"


Change = tuple[str, str]  # (entity, key)


def _gone(obj: Any, deleted: set[Any]) -> bool:
    if obj in deleted:
        return True
    if isinstance(obj, Site | Tour):
        return not obj.published
    if isinstance(obj, Product):
        return not obj.active
    return False


def _collect(session: Session) -> dict[Change, bool]:
    """What this flush changes, as {(entity, key): now gone from the public view}."""
    deleted = set(session.deleted)
    touched = [
        obj
        for obj in [*session.new, *session.dirty, *deleted]
        if obj in deleted or obj in session.new or session.is_modified(obj)
    ]
    changes: dict[Change, bool] = {}
    site_ids: set[int] = set()
    tour_ids: set[int] = set()
    product_ids: set[int] = set()
    guides: list[tuple[int, str, bool]] = []
    for obj in touched:
        if isinstance(obj, Site):
            changes[(Entity.SITE, obj.slug)] = _gone(obj, deleted)
        elif isinstance(obj, Tour):
            changes[(Entity.TOUR, obj.slug)] = _gone(obj, deleted)
        elif isinstance(obj, Product):
            changes[(Entity.PRODUCT, obj.slug)] = _gone(obj, deleted)
        elif isinstance(obj, SiteText) and obj.site_id is not None:
            site_ids.add(obj.site_id)
        elif isinstance(obj, SiteText) and obj.site is not None:
            changes.setdefault((Entity.SITE, obj.site.slug), False)
        elif isinstance(obj, TourText | TourStop) and obj.tour_id is not None:
            tour_ids.add(obj.tour_id)
        elif isinstance(obj, ProductPrice | ProductSite) and obj.product_id is not None:
            product_ids.add(obj.product_id)
        elif isinstance(obj, Guide):
            guides.append((obj.site_id, obj.lang, obj in deleted))
    connection = session.connection()
    for model, ids, entity in (
        (Site, site_ids | {site_id for site_id, _, _ in guides}, Entity.SITE),
        (Tour, tour_ids, Entity.TOUR),
        (Product, product_ids, Entity.PRODUCT),
    ):
        if ids:
            for slug in connection.scalars(select(model.slug).where(model.id.in_(ids))):
                changes.setdefault((entity, slug), False)
    if guides:
        slugs = dict(
            connection.execute(
                select(Site.id, Site.slug).where(Site.id.in_({g[0] for g in guides}))
            ).all()
        )
        for site_id, lang, gone in guides:
            if site_id in slugs:
                changes[(Entity.GUIDE, f"{slugs[site_id]}/{lang}")] = gone
    return changes


def _transaction_seq(session: Session) -> int:
    """This transaction's sequence number, taken (and the row locked) on its first change."""
    info = transaction_info(session)
    if "sync_seq" not in info:
        connection = session.connection()
        connection.execute(update(SyncState).where(SyncState.id == 1).values(seq=SyncState.seq + 1))
        seq = connection.scalar(select(SyncState.seq).where(SyncState.id == 1))
        if seq is None:  # a database upgraded without its first row
            connection.execute(insert(SyncState).values(id=1, seq=1))
            seq = 1
        info["sync_seq"] = seq
    return int(info["sync_seq"])


@event.listens_for(Session, "after_flush")
def _log_changes(session: Session, flush_context: Any) -> None:
    changes = _collect(session)
    if not changes:
        return
    seq = _transaction_seq(session)
    now = utcnow()
    session.connection().execute(
        insert(SyncChange),
        [
            {"seq": seq, "entity": str(entity), "key": key, "deleted": gone, "changed_at": now}
            for (entity, key), gone in sorted(changes.items())
        ],
    )


# --- reading -----------------------------------------------------------------------------------


def current_cursor() -> int:
    """The sequence number of the newest committed change."""
    return int(db.session.scalar(select(SyncState.seq).where(SyncState.id == 1)) or 0)


def changes_since(*, since: int | None, requested: str) -> dict[str, Any]:
    """Everything that changed after `since`, and the cursor to send next time.

    No cursor, a cursor from the future (a restored database) or one too far behind gives a
    full snapshot (`full: true`): the app replaces what it holds.
    """
    cursor = current_cursor()
    if since is None or since <= 0 or since > cursor:
        return _snapshot(cursor=cursor, since=since, requested=requested)
    if since < cursor:
        # The log may have been pruned (`flask content prune-sync`): a cursor from before its
        # oldest transaction cannot be answered with a delta.
        oldest = db.session.scalar(select(func.min(SyncChange.seq)))
        if oldest is None or since < oldest - 1:
            return _snapshot(cursor=cursor, since=since, requested=requested)
    rows = db.session.execute(
        select(SyncChange.entity, SyncChange.key, SyncChange.deleted)
        .where(SyncChange.seq > since, SyncChange.seq <= cursor)
        .order_by(SyncChange.seq, SyncChange.id)
    ).all()
    latest: dict[Change, bool] = {(entity, key): deleted for entity, key, deleted in rows}
    if len(latest) > MAX_DELTA:
        return _snapshot(cursor=cursor, since=since, requested=requested)

    def keys(entity: Entity) -> set[str]:
        return {key for (kind, key), gone in latest.items() if kind == entity and not gone}

    sites = _published(Site, keys(Entity.SITE))
    tours = _published(Tour, keys(Entity.TOUR))
    products = _active_products(keys(Entity.PRODUCT))
    guide_sites = {site.slug: site for site in _published(Site, {s for s, _ in _guides(keys)})}
    guides = [(guide_sites[s], lang) for s, lang in _guides(keys) if s in guide_sites]
    shown: set[Change] = {(Entity.SITE, site.slug) for site in sites}
    shown |= {(Entity.TOUR, tour.slug) for tour in tours}
    shown |= {(Entity.PRODUCT, product.slug) for product in products}
    shown |= {(Entity.GUIDE, f"{site.slug}/{lang}") for site, lang in guides}
    body = _payload(
        cursor=cursor,
        since=since,
        requested=requested,
        sites=sites,
        tours=tours,
        products=products,
        guides=guides,
    )
    # Gone, or hidden since (unpublished, deactivated, its site unpublished): a tombstone.
    body["deleted"] = [
        _tombstone(entity, key) for entity, key in sorted(latest) if (entity, key) not in shown
    ]
    return body


def prune(*, older_than: timedelta) -> int:
    """Forget the log of transactions older than `older_than` (whole transactions only);
    returns how many rows went. Apps whose cursor is older get a full snapshot next time."""
    cutoff = utcnow() - older_than
    keep_from = db.session.scalar(
        select(func.min(SyncChange.seq)).where(SyncChange.changed_at >= cutoff)
    )
    condition = SyncChange.seq < keep_from if keep_from is not None else SyncChange.id.is_not(None)
    result = db.session.execute(delete(SyncChange).where(condition))
    return int(getattr(result, "rowcount", 0) or 0)


def _guides(keys: Any) -> list[tuple[str, str]]:
    return sorted(_split_guide(key) for key in keys(Entity.GUIDE))


def _split_guide(key: str) -> tuple[str, str]:
    slug, _, lang = key.rpartition("/")
    return slug, lang


def _tombstone(entity: str, key: str) -> dict[str, str]:
    if entity == Entity.GUIDE:
        slug, lang = _split_guide(key)
        return {"type": entity, "site": slug, "lang": lang}
    return {"type": entity, "slug": key}


def _published(model: type[Site] | type[Tour], slugs: set[str] | None) -> list[Any]:
    query = select(model).where(model.published.is_(True)).order_by(model.slug)
    if slugs is not None:
        if not slugs:
            return []
        query = query.where(model.slug.in_(slugs))
    return list(db.session.scalars(query))


def _active_products(slugs: set[str] | None) -> list[Product]:
    from ticketing import services as tickets

    return [p for p in tickets.list_products() if slugs is None or p.slug in slugs]


def _snapshot(*, cursor: int, since: int | None, requested: str) -> dict[str, Any]:
    sites = _published(Site, None)
    by_id = {site.id: site for site in sites}
    ready = db.session.execute(
        select(Guide.site_id, Guide.lang)
        .where(Guide.site_id.in_(by_id), Guide.published_track_id.is_not(None))
        .order_by(Guide.site_id, Guide.lang)
    ).all()
    body = _payload(
        cursor=cursor,
        since=since,
        requested=requested,
        sites=sites,
        tours=_published(Tour, None),
        products=_active_products(None),
        guides=[(by_id[site_id], lang) for site_id, lang in ready],
    )
    body["full"] = True
    return body


def _payload(
    *,
    cursor: int,
    since: int | None,
    requested: str,
    sites: list[Site],
    tours: list[Tour],
    products: list[Product],
    guides: list[tuple[Site, str]],
) -> dict[str, Any]:
    return {
        "cursor": cursor,
        "since": since,
        "full": False,
        "lang": requested,
        "sites": [presenters.site_detail(site, requested) for site in sites],
        "tours": [presenters.tour_view(tour, requested, with_stops=True) for tour in tours],
        "products": [ticket_presenters.product_view(p, requested) for p in products],
        "guides": [guide_document(site, requested=lang, chain=[lang]) for site, lang in guides],
        "deleted": [],
    }
