"""The chat's durable edges: the inbox of updates, the outbox of messages, the budget."""
