"""A Pact Broker anyone can run: HAL JSON API, SQLAlchemy storage, can-i-deploy."""
