"""Daily and hourly rollups for reports (entries, sales, refunds, listening), kept by triggers;
indexes on entries' and orders' times

Revision ID: 0018_rollups
Revises: 0016_feedback_review
Create Date: 2026-12-01 16:45:00.000000

Every rollup is a table of counts per key, filled here from the existing rows and then kept
exact by triggers on the tables it counts, in the transaction of each insert, update or
delete: the new rows' counts are added and the old rows' subtracted, as one
INSERT ... ON CONFLICT DO UPDATE per statement (PostgreSQL: statement triggers over the
transition tables; SQLite: row triggers). Days are local days in Asia/Ho_Chi_Minh (UTC+7
without daylight saving, so SQLite's fixed '+7 hours' is the same day).

What is never done, so not counted: a ticket deleted or moved to another order, a paid order
deleted (tickets hold it with ON DELETE RESTRICT), a ticket's tier changed after its entries.
"""

import re
from dataclasses import dataclass

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0018_rollups"
down_revision = "0016_feedback_review"
branch_labels = None
depends_on = None

ZONE = "Asia/Ho_Chi_Minh"
#: Every online scan at a site in the same hour adds to the same rollup rows, and a row's lock
#: is held to the commit: one row per key would put every gate of the town in one queue (the
#: redeem benchmark fell from 542-656 to 236 redeems/s). Entries' rollups are therefore kept in
#: SHARDS rows per key, chosen by the writing connection's backend (reports sum them), so
#: concurrent scanners add to different rows. An offline sync writes many entries in one
#: transaction in the order they were scanned; two syncs could lock rows in different orders,
#: so a sync first takes a transaction-scoped advisory lock (ticketing.checkin.sync): syncs
#: queue among themselves, online scans (one entry a transaction) never wait on it.
SHARDS = 8
LISTENING = (
    "opens",
    "plays",
    "quarters",
    "completions",
    "seconds",
    "switches",
    "downloads",
    "offline",
)


@dataclass(frozen=True)
class Rollup:
    """Counts of `source`'s rows added into `target`: each part is a SELECT naming the keys and
    the counters, over `{rows}` (the rows written) aliased `r`; DAY() and HOUR() are the local
    day and the UTC hour of a timestamp."""

    source: str
    target: str
    keys: tuple[str, ...]
    counters: tuple[str, ...]
    columns: tuple[str, ...]  # the source columns the parts read
    parts: tuple[str, ...]
    events: tuple[str, ...] = ("INSERT", "UPDATE", "DELETE")
    #: Kept in SHARDS rows per key (a `shard` key column; see SHARDS).
    sharded: bool = False
    #: Filled from the existing rows here; False where another source's rollup counts them
    #: already (an order's tickets and items are counted with the order).
    backfill: bool = True

    @property
    def name(self) -> str:
        return f"rollup_{self.target}_from_{self.source}"


SALE_DAYS = (
    Rollup(
        source="orders",
        target="sale_days",
        keys=("day", "method"),
        counters=("orders", "revenue", "tickets"),
        columns=("id", "paid_at", "payment_method", "paid_amount"),
        parts=(
            "SELECT DAY(r.paid_at) AS day, r.payment_method AS method, 1 AS orders, "
            "r.paid_amount AS revenue, "
            "(SELECT count(*) FROM tickets AS t WHERE t.order_id = r.id) AS tickets "
            "FROM {rows} AS r WHERE r.paid_at IS NOT NULL",
        ),
    ),
    Rollup(
        source="tickets",
        target="sale_days",
        keys=("day", "method"),
        counters=("orders", "revenue", "tickets"),
        columns=("order_id",),
        parts=(
            "SELECT DAY(o.paid_at) AS day, o.payment_method AS method, 0 AS orders, "
            "0 AS revenue, 1 AS tickets "
            "FROM {rows} AS r JOIN orders AS o ON o.id = r.order_id WHERE o.paid_at IS NOT NULL",
        ),
        # A ticket's order never changes; its other updates (entries counted) change nothing.
        events=("INSERT", "DELETE"),
        backfill=False,
    ),
)
ROLLUPS = (
    Rollup(
        source="ticket_entries",
        target="entry_days",
        keys=("day", "site_id", "tier", "mode"),
        counters=("entries", "exits"),
        columns=("ticket_id", "site_id", "mode", "entered_at", "exited_at"),
        parts=(
            "SELECT DAY(r.entered_at) AS day, r.site_id AS site_id, t.tier AS tier, "
            "r.mode AS mode, 1 AS entries, 0 AS exits "
            "FROM {rows} AS r JOIN tickets AS t ON t.id = r.ticket_id",
            "SELECT DAY(r.exited_at) AS day, r.site_id AS site_id, t.tier AS tier, "
            "r.mode AS mode, 0 AS entries, 1 AS exits "
            "FROM {rows} AS r JOIN tickets AS t ON t.id = r.ticket_id "
            "WHERE r.exited_at IS NOT NULL",
        ),
        sharded=True,
    ),
    Rollup(
        source="ticket_entries",
        target="entry_hours",
        keys=("hour", "tier", "mode"),
        counters=("entries", "exits"),
        columns=("ticket_id", "mode", "entered_at", "exited_at"),
        parts=(
            "SELECT HOUR(r.entered_at) AS hour, t.tier AS tier, r.mode AS mode, 1 AS entries, "
            "0 AS exits FROM {rows} AS r JOIN tickets AS t ON t.id = r.ticket_id",
            "SELECT HOUR(r.exited_at) AS hour, t.tier AS tier, r.mode AS mode, 0 AS entries, "
            "1 AS exits FROM {rows} AS r JOIN tickets AS t ON t.id = r.ticket_id "
            "WHERE r.exited_at IS NOT NULL",
        ),
        sharded=True,
    ),
    *SALE_DAYS,
    *(
        Rollup(
            source=rollup.source,
            target="sale_hours",
            keys=("hour", "method"),
            counters=rollup.counters,
            columns=rollup.columns,
            parts=tuple(
                part.replace("DAY(", "HOUR(").replace(" AS day,", " AS hour,")
                for part in rollup.parts
            ),
            events=rollup.events,
            backfill=rollup.backfill,
        )
        for rollup in SALE_DAYS
    ),
    Rollup(
        source="orders",
        target="sale_item_days",
        keys=("day", "product_id", "tier"),
        counters=("tickets", "revenue"),
        columns=("id", "paid_at"),
        parts=(
            "SELECT DAY(r.paid_at) AS day, i.product_id AS product_id, i.tier AS tier, "
            "i.quantity AS tickets, i.quantity * i.unit_amount AS revenue "
            "FROM {rows} AS r JOIN order_items AS i ON i.order_id = r.id "
            "WHERE r.paid_at IS NOT NULL",
        ),
    ),
    Rollup(
        source="order_items",
        target="sale_item_days",
        keys=("day", "product_id", "tier"),
        counters=("tickets", "revenue"),
        columns=("order_id", "product_id", "tier", "quantity", "unit_amount"),
        parts=(
            "SELECT DAY(o.paid_at) AS day, r.product_id AS product_id, r.tier AS tier, "
            "r.quantity AS tickets, r.quantity * r.unit_amount AS revenue "
            "FROM {rows} AS r JOIN orders AS o ON o.id = r.order_id WHERE o.paid_at IS NOT NULL",
        ),
        backfill=False,
    ),
    Rollup(
        source="payment_refunds",
        target="refund_days",
        keys=("day",),
        counters=("refunds", "amount"),
        columns=("state", "amount", "created_at"),
        parts=(
            "SELECT DAY(r.created_at) AS day, 1 AS refunds, r.amount AS amount "
            "FROM {rows} AS r WHERE r.state = 'succeeded'",
        ),
    ),
    Rollup(
        source="listening_hours",
        target="listening_days",
        keys=("day", "site_id", "lang", "requested_lang"),
        counters=LISTENING,
        columns=("hour", "site_id", "lang", "requested_lang", *LISTENING),
        parts=(
            "SELECT DAY(r.hour) AS day, r.site_id AS site_id, r.lang AS lang, "
            "r.requested_lang AS requested_lang, "
            + ", ".join(f"r.{name} AS {name}" for name in LISTENING)
            + " FROM {rows} AS r",
        ),
    ),
)


def _functions(sql: str, dialect: str) -> str:
    if dialect == "postgresql":
        day = rf"CAST((\1 AT TIME ZONE '{ZONE}') AS date)"
        hour = r"date_trunc('hour', \1, 'UTC')"
    else:
        day = r"date(\1, '+7 hours')"
        hour = r"strftime('%Y-%m-%d %H:00:00.000000', \1)"
    sql = re.sub(r"DAY\(([\w.]+)\)", day, sql)
    return re.sub(r"HOUR\(([\w.]+)\)", hour, sql)


def _upsert(rollup: Rollup, dialect: str, *, new: str | None, old: str | None) -> str:
    """One statement adding the counts of the `new` rows and subtracting those of the `old`."""
    selects = []
    for rows, sign in ((new, "1"), (old, "-1")):
        if rows is None:
            continue
        for part in rollup.parts:
            signed = ", ".join(f"{sign} * p.{c} AS {c}" for c in rollup.counters)
            keys = ", ".join(f"p.{k}" for k in rollup.keys)
            source = _functions(part.format(rows=rows), dialect)
            selects.append(f"SELECT {keys}, {signed} FROM ({source}) AS p")
    keys = ", ".join(rollup.keys)
    if rollup.sharded:
        # The backend's pid picks a writer's row; SQLite has one writer at a time.
        shard = f"pg_backend_pid() % {SHARDS}" if dialect == "postgresql" else "0"
        selects = [select.replace(" FROM (", f", {shard} AS shard FROM (", 1) for select in selects]
        return _insert(rollup, selects, (*rollup.keys, "shard"))
    return _insert(rollup, selects, rollup.keys)


def _insert(rollup: Rollup, selects: list[str], key_names: tuple[str, ...]) -> str:
    keys = ", ".join(key_names)
    sums = ", ".join(f"sum(d.{c})" for c in rollup.counters)
    changed = " OR ".join(f"sum(d.{c}) <> 0" for c in rollup.counters)
    added = ", ".join(f"{c} = {rollup.target}.{c} + excluded.{c}" for c in rollup.counters)
    # Keys in order, so that two writers lock the rollup's rows in the same order.
    return (
        f"INSERT INTO {rollup.target} ({keys}, {', '.join(rollup.counters)}) "
        f"SELECT {', '.join(f'd.{k}' for k in key_names)}, {sums} "
        f"FROM ({' UNION ALL '.join(selects)}) AS d WHERE true "
        f"GROUP BY {', '.join(f'd.{k}' for k in key_names)} HAVING {changed} "
        f"ORDER BY {', '.join(f'd.{k}' for k in key_names)} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {added}"
    )


def _sqlite_row(rollup: Rollup, which: str) -> str:
    return "(SELECT " + ", ".join(f"{which}.{c} AS {c}" for c in rollup.columns) + ")"


def _create_triggers(rollup: Rollup, dialect: str) -> None:
    for event in rollup.events:
        name = f"{rollup.name}_{event.lower()}"
        if dialect == "postgresql" and rollup.sharded:
            # A scan writes one entry: a row trigger's upsert is far cheaper than a statement
            # trigger's transition tables (the redeem benchmark's hot path).
            new = _sqlite_row(rollup, "NEW") if event != "DELETE" else None
            old = _sqlite_row(rollup, "OLD") if event != "INSERT" else None
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n  {_upsert(rollup, dialect, new=new, old=old)};\n"
                "  RETURN NULL;\nEND\n$$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {rollup.source} "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        elif dialect == "postgresql":
            new = "new_rows" if event != "DELETE" else None
            old = "old_rows" if event != "INSERT" else None
            referencing = " ".join(
                f"{kind} TABLE AS {table}"
                for kind, table in (("OLD", old), ("NEW", new))
                if table is not None
            )
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n  {_upsert(rollup, dialect, new=new, old=old)};\n"
                "  RETURN NULL;\nEND\n$$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {rollup.source} "
                f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
        else:
            new = _sqlite_row(rollup, "NEW") if event != "DELETE" else None
            old = _sqlite_row(rollup, "OLD") if event != "INSERT" else None
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {rollup.source} FOR EACH ROW BEGIN "
                f"{_upsert(rollup, dialect, new=new, old=old)}; END"
            )


def _drop_triggers(rollup: Rollup, dialect: str) -> None:
    for event in rollup.events:
        name = f"{rollup.name}_{event.lower()}"
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {rollup.source}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _counts(*names, big=()):
    return [
        sa.Column(n, sa.BigInteger() if n in big else sa.Integer(), nullable=False) for n in names
    ]


def _site_fk(table):
    return sa.ForeignKeyConstraint(
        ["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE"
    )


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        "entry_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("shard", sa.SmallInteger(), server_default="0", nullable=False),
        *_counts("entries", "exits"),
        _site_fk("entry_days"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_days")),
    )
    op.create_index(
        "uq_entry_days_key",
        "entry_days",
        ["day", "site_id", "tier", "mode", "shard"],
        unique=True,
    )
    op.create_index("ix_entry_days_site_id_day", "entry_days", ["site_id", "day"], unique=False)
    op.create_table(
        "entry_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("shard", sa.SmallInteger(), server_default="0", nullable=False),
        *_counts("entries", "exits"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_hours")),
    )
    op.create_index(
        "uq_entry_hours_key", "entry_hours", ["hour", "tier", "mode", "shard"], unique=True
    )
    op.create_table(
        "sale_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        *_counts("orders", "revenue", "tickets", big=("revenue",)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_hours")),
    )
    op.create_index("uq_sale_hours_key", "sale_hours", ["hour", "method"], unique=True)
    op.create_table(
        "sale_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        *_counts("orders", "revenue", "tickets", big=("revenue",)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_days")),
    )
    op.create_index("uq_sale_days_key", "sale_days", ["day", "method"], unique=True)
    op.create_table(
        "sale_item_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        *_counts("tickets", "revenue", big=("revenue",)),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["ticket_products.id"],
            name=op.f("fk_sale_item_days_product_id_ticket_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_item_days")),
    )
    op.create_index(
        "uq_sale_item_days_key", "sale_item_days", ["day", "product_id", "tier"], unique=True
    )
    op.create_table(
        "refund_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *_counts("refunds", "amount", big=("amount",)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_days")),
    )
    op.create_index("uq_refund_days_key", "refund_days", ["day"], unique=True)
    op.create_table(
        "listening_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("requested_lang", sa.String(length=8), nullable=False),
        *_counts(*LISTENING, big=("seconds",)),
        _site_fk("listening_days"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_days")),
    )
    op.create_index(
        "uq_listening_days_key",
        "listening_days",
        ["day", "site_id", "lang", "requested_lang"],
        unique=True,
    )
    op.create_index(
        "ix_listening_days_site_id_day", "listening_days", ["site_id", "day"], unique=False
    )
    op.create_index("ix_ticket_entries_entered_at", "ticket_entries", ["entered_at"], unique=False)
    op.create_index("ix_ticket_entries_exited_at", "ticket_entries", ["exited_at"], unique=False)
    op.create_index("ix_orders_paid_at", "orders", ["paid_at"], unique=False)
    for rollup in ROLLUPS:
        if rollup.backfill:
            op.execute(_upsert(rollup, dialect, new=rollup.source, old=None))
    for rollup in ROLLUPS:
        _create_triggers(rollup, dialect)


def downgrade():
    dialect = op.get_bind().dialect.name
    for rollup in ROLLUPS:
        _drop_triggers(rollup, dialect)
    op.drop_index("ix_orders_paid_at", table_name="orders")
    op.drop_index("ix_ticket_entries_exited_at", table_name="ticket_entries")
    op.drop_index("ix_ticket_entries_entered_at", table_name="ticket_entries")
    for table in (
        "listening_days",
        "refund_days",
        "sale_item_days",
        "sale_hours",
        "sale_days",
        "entry_hours",
        "entry_days",
    ):
        op.drop_table(table)
