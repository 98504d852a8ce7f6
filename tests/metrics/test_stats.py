import math

import numpy as np
import pytest
from scipy.stats import beta, binomtest

from reassess.metrics import Proportion, clopper_pearson


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (36366, 50000), (1, 1)])
def test_clopper_pearson_matches_beta_quantiles_and_scipy(k, n):
    lo, hi = clopper_pearson(k, n)
    expected_lo = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    expected_hi = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    assert lo == pytest.approx(expected_lo, abs=1e-12)
    assert hi == pytest.approx(expected_hi, abs=1e-12)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_clopper_pearson_edge_cases():
    assert all(math.isnan(x) for x in clopper_pearson(0, 0))
    with pytest.raises(ValueError):
        clopper_pearson(5, 3)


def test_proportion_from_hits():
    p = Proportion.from_hits(np.array([True, False, True, True]))
    assert p.value == 0.75 and p.n == 4 and p.count == 3
    assert p.ci95[0] < 0.75 < p.ci95[1]
    assert p.to_dict() == {"value": 0.75, "n": 4, "ci95": list(p.ci95)}
