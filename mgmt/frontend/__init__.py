"""API frontend: the FastAPI app (health, readiness, metrics, agent callbacks; the resource
API joins it later). Stateless: any number run behind a load balancer."""

from mgmt.frontend.app import FrontendContext, create_app

__all__ = ["FrontendContext", "create_app"]
