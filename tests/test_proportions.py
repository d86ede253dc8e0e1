import numpy as np
import pytest

from toolkit.pose import BodyProportions


def test_defaults_sum_to_unit_height():
    assert BodyProportions().total_height == pytest.approx(1.0)


def test_sampling_is_seeded_normalised_and_round_trips():
    a = BodyProportions.sample(np.random.default_rng(3))
    assert a == BodyProportions.sample(np.random.default_rng(3))
    assert a != BodyProportions.sample(np.random.default_rng(4))
    assert a.total_height == pytest.approx(1.0, abs=1e-5)
    assert BodyProportions.from_dict(a.to_dict()) == a
    assert all(isinstance(v, float) for v in a.to_dict().values())


def test_invalid_values_are_named():
    with pytest.raises(ValueError, match="thigh must be a positive number"):
        BodyProportions(thigh=0.0)
    with pytest.raises(ValueError, match="unknown body proportion"):
        BodyProportions.from_dict({"tail": 0.1})
