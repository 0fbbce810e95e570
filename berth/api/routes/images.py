"""Routes: images (to be written)."""

from berth.api.router import RouteSpec

ROUTES: list[RouteSpec] = []
