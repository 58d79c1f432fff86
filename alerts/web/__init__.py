"""The FastAPI app: webhooks, public routes, health and metrics."""
