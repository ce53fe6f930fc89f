"""The knowledge core: ingestion, summaries, embeddings, store, search. No Telegram here."""
