"""`flask tickets ...`: set-up, products, signing keys, offline verification, housekeeping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from ticketing import checkin, presenters, schemas, services, vectors
from ticketing.keys import key_file
from ticketing.seeding import SEED_DIR, ProductSeedError, load_products
from ticketing.verify import FORMAT_VERSION, OfflineVerifier, format_serial

tickets_cli = AppGroup("tickets", help="Ticket products, signing keys and check-in tools.")


def _fail(exc: DomainError | ProductSeedError) -> None:
    db.session.rollback()
    message = exc.message if isinstance(exc, DomainError) else str(exc)
    details = (
        "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
        if isinstance(exc, DomainError)
        else ""
    )
    raise click.ClickException(message + (f" ({details})" if details else ""))


def _load(directory: Path) -> str:
    report = load_products(directory=directory, languages=current_app.config["LANGUAGES"])
    return (
        f"products from {directory}: {len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged"
    )


@tickets_cli.command("setup")
def setup() -> None:
    """Make sure a signing key exists (generating it on first set-up) and load the products."""
    try:
        key, created = services.ensure_signing_key()
        message = _load(SEED_DIR)
    except (DomainError, ProductSeedError) as exc:
        _fail(exc)
    db.session.commit()
    where = key_file(Path(current_app.config["TICKET_KEYS_DIR"]), key.id)
    click.echo(
        f"signing key {key.id} " + (f"created ({where})" if created else "present") + "; " + message
    )


@tickets_cli.command("load-products")
@click.option(
    "--path",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=SEED_DIR,
    show_default=True,
)
def load_products_command(directory: Path) -> None:
    """Create or update ticket products from YAML (idempotent)."""
    try:
        message = _load(directory)
    except ProductSeedError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(message)


@tickets_cli.command("keys")
def keys() -> None:
    """List signing keys (public halves) and whether this machine holds each private half."""
    for key in services.list_keys():
        held = "private key here" if services.holds_private_key(key.id) else "no private key here"
        click.echo(f"{key.id}\t{key.status}\t{key.created_at:%Y-%m-%d}\t{key.public_key}\t{held}")


@tickets_cli.command("rotate-key")
def rotate_key() -> None:
    """Sign new codes with a new key; codes of the previous key verify until it is retired."""
    try:
        key = services.rotate_signing_key()
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"signing key {key.id} is now active")


@tickets_cli.command("retire-key")
@click.argument("key_id", type=int)
@click.option("--reissue", is_flag=True, help="Give its valid tickets new codes first.")
def retire_key(key_id: int, reissue: bool) -> None:
    """Stop accepting codes signed by a key (revokes nothing else)."""
    try:
        key, reissued = services.retire_signing_key(key_id=key_id, reissue=reissue)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"signing key {key.id} retired; {len(reissued)} tickets reissued")


#: The files a scanner downloads, as `flask tickets offline-files` writes them: each is the JSON
#: of one API answer.
OFFLINE_FILES = {
    "keys": "GET /api/v1/checkin/keys",
    "products": "GET /api/v1/products",
    "revocations": "GET /api/v1/checkin/revocations (items of every page)",
    "entries": "GET /api/v1/checkin/entries (items of every page)",
}


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: not the JSON of {what}: {exc}") from exc


@tickets_cli.command("verify")
@click.argument("code")
@click.option("--site", required=True, help="Slug of the site the code is scanned at.")
@click.option("--at", "moment", help="ISO-8601 time of the scan (default: now).")
@click.option(
    "--files",
    "folder",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    required=True,
    help="Folder with keys.json, products.json, revocations.json and entries.json, as a "
    "scanner downloads them (flask tickets offline-files writes them).",
)
def verify(code: str, site: str, moment: str | None, folder: Path) -> None:
    """Check a QR text as a scanner with no signal does: from downloaded keys, products,
    revocations and entries only (never this server's database)."""
    bundle = {
        name: _read_json(folder / f"{name}.json", what) for name, what in OFFLINE_FILES.items()
    }
    try:
        verifier = OfflineVerifier.from_bundle(bundle, site=site)
    except (KeyError, TypeError, ValueError) as exc:
        raise click.ClickException(f"{folder}: files not as the API writes them: {exc}") from exc
    at = datetime.fromisoformat(moment) if moment else utcnow()
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    verdict = verifier.check(code.strip(), at=at)
    answer: dict[str, object] = {
        "status": verdict.status,
        "reason": verdict.reason.value,
        "detail": verdict.detail,
        "entries_left": verdict.entries_left,
    }
    if verdict.claims is not None:
        claims = verdict.claims
        products = {int(p["id"]): p["slug"] for p in bundle["products"]["items"]}
        entered = verifier.entries.get(claims.serial, {})
        answer["ticket"] = {
            "serial": format_serial(claims.serial),
            "generation": claims.generation,
            "key_id": claims.key_id,
            "product": products.get(claims.product_id, claims.product_id),
            "tier": claims.tier_name,
            "max_sites": claims.max_sites,
            "sites_used": sorted(entered),
            "valid_from": datetime.fromtimestamp(claims.valid_from, at.tzinfo).isoformat(),
            "valid_until": datetime.fromtimestamp(claims.valid_until, at.tzinfo).isoformat(),
            "hours_after_first_use": claims.use_window_minutes // 60 or None,
        }
    click.echo(json.dumps(answer, ensure_ascii=False, indent=2))
    if not verdict.ok:
        raise SystemExit(1)


@tickets_cli.command("offline-files")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--site", help="Only this site's entries (a gate's own); default: every site.")
def offline_files(folder: Path, site: str | None) -> None:
    """Write what a scanner downloads (keys, products, revocations, recent entries) as the API
    gives it, for `flask tickets verify --files` on a machine with no signal."""
    revocations: list[Any] = []
    cursor, more = 0, True
    while more:
        rows, cursor = services.list_revocations(since=cursor, limit=5000)
        revocations += [presenters.revocation_view(row) for row in rows]
        more = len(rows) == 5000
    entries: list[Any] = []
    after, more = 0, True
    while more:
        items, after = checkin.recent_entries(site=site, after=after, limit=5000)
        entries += items
        more = len(items) == 5000
    lang = current_app.config["SOURCE_LANGUAGE"]
    documents = {
        "keys": schemas.KeyListSchema().dump(
            {
                "format": FORMAT_VERSION,
                "keys": [presenters.key_view(k) for k in services.list_keys()],
            }
        ),
        "products": schemas.ProductListSchema().dump(
            {"items": [presenters.product_view(p, lang) for p in services.list_products()]}
        ),
        "revocations": schemas.RevocationPageSchema().dump(
            {"items": revocations, "cursor": cursor, "more": False}
        ),
        "entries": schemas.EntryPageSchema().dump(
            {"items": entries, "cursor": after, "more": False}
        ),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        (folder / f"{name}.json").write_text(
            json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    click.echo(
        f"wrote {folder}: {len(documents['keys']['keys'])} keys, {len(revocations)} revocations, "
        f"{len(entries)} entries"
    )


@tickets_cli.command("expire-orders")
def expire_orders() -> None:
    """Expire pending orders whose time to pay ran out (frees their places)."""
    orders = services.expire_orders()
    db.session.commit()
    click.echo(f"{len(orders)} orders expired")


@tickets_cli.command("write-vectors")
@click.option(
    "--out",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=vectors.VECTORS_FILE,
    show_default=True,
)
def write_vectors(path: Path) -> None:
    """Rewrite the published test vectors (they only change when the format does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(vectors.render(), encoding="utf-8")
    click.echo(f"wrote {path}")
