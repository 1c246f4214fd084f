"""Application pipelines shared by the services and the CLI (gamma refresh, book ingestion, replay…).

They combine venue clients, the store and the bus around the pure domain. Services are thin shells that
run them; the CLI runs the same code for one-off operator commands.
"""
