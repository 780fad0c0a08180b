"""API routers, one module per resource, mounted under ``/api/v1`` by ``sightline.api.app``."""
