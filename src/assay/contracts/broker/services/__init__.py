"""What the broker does, independent of HTTP: one module per concept (pacticipants, environments,
publishing, pacts, verifications, deployments), plus its errors and value rules.

Every public function takes an open `Session` inside a transaction owned by the caller (the API
opens one per request), so a failed publish leaves nothing behind. Errors are `BrokerError`s
(services.errors) carrying the Pact Broker's status and shape.
"""
