"""Binning survives the columns real data throws at it, and WOE points the risky way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from puhui.models.binning import WoeBinning
from puhui.models.scorecard import Scorecard


@pytest.fixture
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 1200
    leverage = rng.normal(size=n)
    y = (leverage + rng.normal(scale=0.8, size=n) > 0.8).astype(int)
    data = pd.DataFrame(
        {
            "leverage": leverage,
            "all_missing": np.full(n, np.nan),
            "single_value": np.full(n, 3.0),
            "with_outliers": np.where(
                rng.random(n) < 0.01, 1e12, leverage * 2 + rng.normal(size=n)
            ),
            "with_infinity": np.where(rng.random(n) < 0.02, np.inf, leverage),
            "industry": rng.choice(["C13", "C34", "F51"], n),
            "coded": np.where(rng.random(n) < 0.1, -999.0, leverage),
        }
    )
    return data, y


def test_an_all_missing_column_gets_one_missing_bin_and_no_evidence(frame) -> None:
    data, y = frame
    bins = WoeBinning(special_codes=[-999]).fit(data, y).bins_["all_missing"]

    assert bins.counts[-1] == len(data)
    assert bins.iv == pytest.approx(0.0, abs=1e-9)


def test_a_single_valued_column_has_no_splits_and_no_evidence(frame) -> None:
    data, y = frame
    bins = WoeBinning().fit(data, y).bins_["single_value"]

    assert bins.splits == []
    assert bins.iv == pytest.approx(0.0, abs=1e-6)


def test_extreme_outliers_and_infinity_fall_in_the_end_bin(frame) -> None:
    data, y = frame
    binning = WoeBinning().fit(data, y)
    indices = binning.bin_indices(data)

    outlier_bin = indices["with_outliers"][data["with_outliers"].to_numpy() == 1e12]
    assert set(outlier_bin) == {binning.bins_["with_outliers"].n_regular - 1}
    infinite_bin = indices["with_infinity"][np.isinf(data["with_infinity"].to_numpy())]
    assert set(infinite_bin) == {binning.bins_["with_infinity"].n_regular - 1}


def test_special_codes_are_binned_apart_from_regular_values(frame) -> None:
    data, y = frame
    binning = WoeBinning(special_codes=[-999]).fit(data, y)
    bins = binning.bins_["coded"]

    special = binning.bin_indices(data)["coded"][data["coded"].to_numpy() == -999]
    assert set(special) == {bins.n_regular}
    assert bins.counts[bins.n_regular] == len(special)


def test_woe_rises_with_the_bad_rate(frame) -> None:
    data, y = frame
    bins = WoeBinning().fit(data, y).bins_["leverage"]
    regular = slice(0, bins.n_regular)
    rates = np.asarray(bins.bads[regular]) / np.asarray(bins.counts[regular])

    assert bins.n_regular >= 3
    assert np.all(np.diff(rates) > 0) and np.all(np.diff(bins.woe[regular]) > 0)


def test_an_unseen_category_scores_as_missing(frame) -> None:
    data, y = frame
    binning = WoeBinning().fit(data, y)
    bins = binning.bins_["industry"]

    index = bins.bin_index(pd.Series(["Z99", None, "C13"]))
    assert list(index[:2]) == [bins.n_regular + 1, bins.n_regular + 1]
    assert index[2] < bins.n_regular


def test_a_scorecard_trains_on_the_awkward_columns_and_scores_every_row(frame) -> None:
    data, y = frame
    card = Scorecard(special_codes=[-999]).fit(data, y)

    scores = card.score(data)
    assert np.isfinite(scores).all()
    assert (
        "all_missing" not in card.characteristics_ and "single_value" not in card.characteristics_
    )
