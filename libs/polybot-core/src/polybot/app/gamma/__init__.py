"""The Gamma pipeline: keyset listings → parse → select → enrich from the CLOB → upsert → publish."""
