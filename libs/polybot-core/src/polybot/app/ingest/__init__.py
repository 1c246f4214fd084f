"""The ingestion pipeline: market websocket → parse → verify → apply → publish → persist (``pipeline``)."""
