"""Labelling stored articles with the region classifier: the start-up backfill of rows stored
without labels, and `brief reclassify`, which re-labels every row (after a new model)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from knowledge.embedder import from_blobs
from knowledge.regions import RegionModel
from knowledge.store.protocols import StoreBackend

log = logging.getLogger(__name__)

BATCH = 1000  # articles per read and per write transaction


class RegionLabeller:
    """Writes the classifier's labels onto stored articles."""

    def __init__(self, store: StoreBackend, model: RegionModel) -> None:
        self.store = store
        self.model = model

    def backfill(self) -> int:
        """Label the articles stored without labels; returns how many."""
        return self._label(everything=False)

    def reclassify(self, progress: Callable[[int], None] | None = None) -> int:
        """Re-label every stored article with this model; returns how many."""
        return self._label(everything=True, progress=progress)

    def _label(self, *, everything: bool, progress: Callable[[int], None] | None = None) -> int:
        done = 0
        for batch in self.store.regions.batches(BATCH, everything=everything):
            labels = self.model.classify(
                [row.title for row in batch],
                [row.text for row in batch],
                from_blobs([row.embedding for row in batch]),
            )
            self.store.regions.save(
                [(row.id, lab) for row, lab in zip(batch, labels, strict=True)],
                self.model.signature,
            )
            done += len(batch)
            if progress is not None:
                progress(done)
        if done:
            log.info("region labels: %d articles labelled (model %s)", done, self.model.signature)
        return done
