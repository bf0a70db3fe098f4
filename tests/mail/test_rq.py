"""With Redis, mail goes through RQ: the job queued after the commit is run by an RQ worker
(`worker.run_job`), which sends it to the SMTP server."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from rq import Queue, SimpleWorker

from app.extensions import db
from mail import services as mail
from tests.conftest import REDIS_URL, make_app, migrate_and_seed, service_or_skip
from tests.mail.conftest import Inbox, _free_port
from tests.payments.conftest import prepare_shop
from ticketing import services as tickets

pytestmark = pytest.mark.redis


def test_a_paid_order_is_mailed_by_an_rq_worker(tmp_path: Path) -> None:
    url = service_or_skip("Redis", REDIS_URL, 6379)
    queue_name = f"tasks-test-{secrets.token_hex(4)}"
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app = make_app(
        f"sqlite:///{tmp_path / 'rq.db'}",
        REDIS_URL=url,
        TASK_RUNNER="rq",
        TASKS_QUEUE=queue_name,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=controller.port,
        SMTP_TLS="none",
    )
    migrate_and_seed(app)
    connection = redis.Redis.from_url(url)
    try:
        with app.app_context():
            prepare_shop(app, tmp_path / "keys")
            created = tickets.create_order(
                items=[{"product": "old-town-pass", "tier": "foreign", "quantity": 1}],
                email="rq@example.com",
                payment_method="cash",
                language="en",
                idempotency_key=None,
            )
            tickets.pay_cash(code=created.order.code, amount_received=120_000)
            queue = Queue(queue_name, connection=connection)
            assert queue.count == 0  # nothing before the commit
            db.session.commit()
            assert queue.count == 1
            SimpleWorker([queue], connection=connection).work(burst=True)
            (message,) = mail.messages_of(created.order.id)
            assert (message.state, message.transport) == ("sent", "smtp")
        (received,) = inbox.received
        assert received["To"] == "rq@example.com"
    finally:
        controller.stop()
        connection.delete(f"rq:queue:{queue_name}")
