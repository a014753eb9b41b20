"""Scellé's Chalice application. Thin on purpose: every route lives in chalicelib.api."""

from chalice import Chalice

from chalicelib.api import register
from chalicelib.handlers import register_handlers

app = Chalice(app_name="scelle")
register(app)
register_handlers(app)
