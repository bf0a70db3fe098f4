"""Extensions, created unbound here and bound to the app in create_app()."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy

from app.db import Base
from app.schemas import ErrorSchema


class HoianApi(Api):
    """flask-smorest Api whose documented error shape carries our stable `reason`."""

    ERROR_SCHEMA = ErrorSchema


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = HoianApi()
