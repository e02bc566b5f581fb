"""The scorecards' small rules: what counts as the same category and the same place."""

from __future__ import annotations

from domain.site_visit import location_key
from projections.scorecards import category_key


def test_a_category_is_the_kind_and_the_description_without_spacing_or_punctuation() -> None:
    a = category_key("hazard", "电缆吊挂不规范，有落地现象。")
    assert a == category_key("hazard", " 电缆吊挂不规范 有落地现象 ")
    assert a == category_key("hazard", "电缆吊挂不规范,有落地现象")  # full- and half-width
    assert a != category_key("violation", "电缆吊挂不规范，有落地现象")
    assert a != category_key("hazard", "电缆吊挂不规范")
    assert category_key("hazard", "Belt  DRIFT") == category_key("hazard", "belt drift!")


def test_places_compare_ignoring_case_and_spaces() -> None:
    assert location_key("1301 回风顺槽  K12") == location_key(" 1301回风顺槽 k12 ")
    assert location_key("1301回风顺槽") != location_key("1302回风顺槽")
