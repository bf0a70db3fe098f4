"""Catalogue tables: sites, tours and their per-language texts."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import TimestampMixin, in_values, utcnow
from app.extensions import db


class SiteKind(enum.StrEnum):
    BRIDGE = "bridge"
    TEMPLE = "temple"
    PAGODA = "pagoda"
    ASSEMBLY_HALL = "assembly_hall"
    CHAPEL = "chapel"  # family chapel (nhà thờ tộc)
    OLD_HOUSE = "old_house"
    MUSEUM = "museum"
    MARKET = "market"
    VILLAGE = "village"  # craft or farming village
    BEACH = "beach"
    ISLAND = "island"
    NATURE = "nature"
    LANDMARK = "landmark"


SITE_KINDS = tuple(kind.value for kind in SiteKind)


class Provenance(enum.StrEnum):
    HUMAN = "human"  # written or translated by a person
    MACHINE = "machine"  # machine translation; shown as such until a person reviews it


class Site(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint(in_values("kind", SITE_KINDS), name="kind_known"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="coords"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)  # lang -> one-line address
    opening_hours: Mapped[list[Any]] = mapped_column(default=list)  # [{days, opens, closes}]
    images: Mapped[list[Any]] = mapped_column(default=list)  # [{url, alt{lang}, credit, ...}]
    aliases: Mapped[list[Any]] = mapped_column(default=list)  # other names people search for
    ticketed: Mapped[bool] = mapped_column(default=False)
    osm_id: Mapped[str | None] = mapped_column(String(40), default=None)
    wikidata_id: Mapped[str | None] = mapped_column(String(20), default=None)
    unesco_id: Mapped[str | None] = mapped_column(String(20), default=None)
    published: Mapped[bool] = mapped_column(default=True, index=True)
    # Accent- and case-folded names, aliases and texts of every language, for search.
    search_document: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)
    #: Digest of what the seed loader last wrote (content/seeding.py); NULL for a site people
    #: created. A site whose seeded fields no longer hash to it was edited since it was seeded.
    seed_digest: Mapped[str | None] = mapped_column(String(64), default=None)

    texts: Mapped[list[SiteText]] = relationship(
        back_populates="site", cascade="all, delete-orphan", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}

    def text_for(self, lang: str) -> SiteText | None:
        return next((text for text in self.texts if text.lang == lang), None)

    def __repr__(self) -> str:
        return f"<Site {self.slug} v{self.version}>"


class SiteText(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "site_texts"
    __table_args__ = (
        UniqueConstraint("site_id", "lang"),
        CheckConstraint("provenance IN ('human', 'machine')", name="provenance_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    provenance: Mapped[str] = mapped_column(String(10), default=Provenance.HUMAN.value)
    reviewed: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship(back_populates="texts")

    def __repr__(self) -> str:
        return f"<SiteText {self.site_id} {self.lang} {self.provenance}>"


class Tour(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tours"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    duration_min: Mapped[int]
    published: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    #: As `Site.seed_digest`: what the seed loader last wrote.
    seed_digest: Mapped[str | None] = mapped_column(String(64), default=None)

    texts: Mapped[list[TourText]] = relationship(
        back_populates="tour", cascade="all, delete-orphan", lazy="selectin"
    )
    stops: Mapped[list[TourStop]] = relationship(
        back_populates="tour",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="TourStop.position",
    )

    __mapper_args__ = {"version_id_col": version}

    def text_for(self, lang: str) -> TourText | None:
        return next((text for text in self.texts if text.lang == lang), None)

    def __repr__(self) -> str:
        return f"<Tour {self.slug} stops={len(self.stops)}>"


class TourText(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tour_texts"
    __table_args__ = (
        UniqueConstraint("tour_id", "lang"),
        CheckConstraint("provenance IN ('human', 'machine')", name="provenance_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tour_id: Mapped[int] = mapped_column(ForeignKey("tours.id", ondelete="CASCADE"))
    lang: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    provenance: Mapped[str] = mapped_column(String(10), default=Provenance.HUMAN.value)
    reviewed: Mapped[bool] = mapped_column(default=True)

    tour: Mapped[Tour] = relationship(back_populates="texts")

    def __repr__(self) -> str:
        return f"<TourText {self.tour_id} {self.lang}>"


class TourStop(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tour_stops"
    __table_args__ = (
        UniqueConstraint("tour_id", "position"),
        UniqueConstraint("tour_id", "site_id"),
        CheckConstraint("position >= 1", name="position_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tour_id: Mapped[int] = mapped_column(ForeignKey("tours.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    position: Mapped[int]

    tour: Mapped[Tour] = relationship(back_populates="stops")
    site: Mapped[Site] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<TourStop {self.tour_id}#{self.position} site={self.site_id}>"


class CatalogueState(db.Model):  # type: ignore[name-defined,misc]
    """One row whose version goes up on every catalogue write; caches key on it."""

    __tablename__ = "catalogue_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<CatalogueState v{self.version}>"


class SitePanorama(TimestampMixin, db.Model):  # type: ignore[name-defined,misc]
    """A 360° view of a site: an equirectangular JPEG (2:1) and a still cut from it, both
    content-addressed under <media>/panoramas/ (content/panoramas.py checks and stores them)."""

    __tablename__ = "site_panoramas"
    __table_args__ = (
        UniqueConstraint("site_id", "sha256"),
        CheckConstraint("width > 0 AND height > 0 AND bytes > 0", name="sizes_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int]
    height: Mapped[int]
    bytes: Mapped[int]
    still_sha256: Mapped[str] = mapped_column(String(64))
    still_width: Mapped[int]
    still_height: Mapped[int]
    still_bytes: Mapped[int]
    alt: Mapped[dict[str, Any]] = mapped_column(default=dict)  # lang -> text of the still

    def __repr__(self) -> str:
        return f"<SitePanorama {self.site_id} {self.sha256[:8]} {self.width}x{self.height}>"
