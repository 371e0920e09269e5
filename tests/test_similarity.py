"""Cosine similarity against its definition."""

from __future__ import annotations

import pytest
import torch

from embedlib.similarity import cosine_matrix, cosine_similarity, normalize_rows


def test_cosine_matches_the_definition_in_float64():
    a, b = torch.randn(7, 5, dtype=torch.float64), torch.randn(7, 5, dtype=torch.float64)
    expected = torch.tensor([float(x @ y / (x.norm() * y.norm())) for x, y in zip(a, b)], dtype=torch.float64)
    torch.testing.assert_close(cosine_similarity(a, b), expected)


def test_cosine_matrix_is_symmetric_with_unit_diagonal():
    x = torch.randn(6, 4)
    matrix = cosine_matrix(x)
    torch.testing.assert_close(matrix, matrix.T)
    torch.testing.assert_close(matrix.diagonal(), torch.ones(6))


def test_zero_rows_stay_zero():
    assert normalize_rows(torch.zeros(2, 3)).abs().sum() == 0


@pytest.mark.parametrize("x, y", [(torch.ones(2, 3), torch.ones(2, 4)), (torch.ones(3), torch.ones(3))])
def test_bad_shapes_are_named(x, y):
    with pytest.raises(ValueError, match="width|matrices"):
        cosine_matrix(x, y) if x.ndim == 1 else cosine_similarity(x, y)
