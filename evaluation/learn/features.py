"""Many examples at once as one sparse matrix, with the router's own feature function (so
what is trained is exactly what is served)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from llmrouter.router.learned import FeatureSpec, featurize

__all__ = ["feature_matrix"]


def feature_matrix(
    spec: FeatureSpec, texts: Sequence[dict[str, str]], tasks: Sequence[str | None]
) -> sparse.csr_matrix:
    """Row i is `featurize(spec, texts[i], tasks[i])`."""
    rows = [featurize(spec, text, task) for text, task in zip(texts, tasks, strict=True)]
    indptr = np.cumsum([0, *(len(index) for index, _ in rows)])
    indices = np.concatenate([index for index, _ in rows]) if rows else np.zeros(0, np.int64)
    values = np.concatenate([value for _, value in rows]) if rows else np.zeros(0)
    matrix = sparse.csr_matrix(
        (values.astype(np.float64), indices, indptr), shape=(len(rows), spec.dimension)
    )
    matrix.sum_duplicates()
    return matrix
