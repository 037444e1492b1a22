"""The bus validator: offline checks, a durable journal, and a sync loop to Redis."""
