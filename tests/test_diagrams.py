"""Tests of dlgtut.diagrams: what the threat-model diagrams say and highlight, not their pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from dlgtut.diagrams import (  # noqa: E402
    ATTACK_FAMILIES,
    COLOURS,
    draw_attack,
    draw_federation,
)
from dlgtut.errors import ConfigError, WrongTypeError  # noqa: E402

RED = COLOURS["attacker"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def _all_text(fig: Figure) -> str:
    return " ".join(_texts(fig))


def _red_boxes(fig: Figure) -> list[FancyBboxPatch]:
    return [p for p in fig.findobj(FancyBboxPatch) if to_hex(p.get_edgecolor()) == RED]


def _red_texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if to_hex(t.get_color()) == RED]


def test_centralised_federation_with_a_curious_server():
    fig = draw_federation("centralised", attacker="server", n_participants=4)
    assert isinstance(fig, Figure)
    texts = _texts(fig)
    for k in range(1, 5):
        assert f"participant {k}" in texts
        assert f"private data D{'₁₂₃₄'[k - 1]}" in texts
        assert f"∇W{'₁₂₃₄'[k - 1]}" in texts
    assert texts.count("W") == 4  # the global model goes down to every participant
    assert any("parameter server" in t for t in texts)
    # The attacker is the server, drawn in red and labelled; nobody else is red.
    assert "honest-but-curious server" in _red_texts(fig)
    red = _red_boxes(fig)
    assert [p.get_gid() for p in red] == ["attacker"]
    assert not fig.findobj(lambda o: o.get_gid() == "server")
    assert len(fig.findobj(lambda o: isinstance(o, FancyArrowPatch))) == 8


def test_centralised_federation_without_attacker_has_no_red():
    fig = draw_federation("centralised", attacker=None, n_participants=3)
    assert not _red_boxes(fig) and not _red_texts(fig)
    assert "curious" not in _all_text(fig)
    assert fig.findobj(lambda o: o.get_gid() == "server")
    assert {f"participant {k}" for k in (1, 2, 3)} <= set(_texts(fig))


def test_a_curious_participant_is_highlighted_and_sees_the_global_model():
    fig = draw_federation("centralised", attacker="participant")
    red = _red_boxes(fig)
    assert [p.get_gid() for p in red] == ["attacker"]
    assert "participant 1" in _red_texts(fig)
    assert any("curious participant" in t for t in _red_texts(fig))
    (model_arrow,) = fig.findobj(lambda o: o.get_gid() == "model-1")
    assert to_hex(model_arrow.get_edgecolor()) == RED


def test_decentralised_federation_with_a_curious_neighbour():
    fig = draw_federation("decentralised", attacker="neighbour", n_participants=5)
    texts = _texts(fig)
    assert "parameter server" not in " ".join(texts)
    assert not fig.findobj(lambda o: o.get_gid() in ("server", "update-1", "model-1"))
    assert {f"participant {k}" for k in range(1, 6)} <= set(texts)
    links = fig.findobj(lambda o: str(o.get_gid()).startswith("link-"))
    assert sorted(a.get_gid() for a in links) == ["link-1-2", "link-2-3", "link-3-4",
                                                   "link-4-5", "link-5-1"]
    # The neighbour's two links are red, the others blue, and it is named as the attacker.
    red_links = sorted(a.get_gid() for a in links if to_hex(a.get_edgecolor()) == RED)
    assert red_links == ["link-1-2", "link-5-1"]
    assert [p.get_gid() for p in _red_boxes(fig)] == ["attacker"]
    assert any(t.startswith("curious neighbour") and "W₂" in t and "W₅" in t
               for t in _red_texts(fig))
    assert texts.count("W, ΔW") == 5


def test_decentralised_without_attacker():
    fig = draw_federation("decentralised", n_participants=8)
    assert not _red_boxes(fig) and not _red_texts(fig)
    assert "participant 8" in _texts(fig)


@pytest.mark.parametrize(
    "family,needs,gets",
    [
        ("leakage", ["shared gradient", "public model"], "private images"),
        ("membership", ["candidate record", "global"], "member or\nnon-member?"),
        ("property", ["updates observed", "with and\nwithout the property"], "property?"),
        ("inversion", ["white box", "discriminator"], "representative"),
    ],
)
def test_attack_diagrams_say_what_the_attacker_needs_and_gets(family, needs, gets):
    fig = draw_attack(family)
    assert isinstance(fig, Figure)
    text = _all_text(fig)
    for phrase in ["the attacker needs", "computes", "and gets", *needs]:
        assert phrase in text, phrase
    (output,) = fig.findobj(lambda o: o.get_gid() == "output")
    assert to_hex(output.get_edgecolor()) == COLOURS["private"]
    assert gets in text
    (computation,) = fig.findobj(lambda o: o.get_gid() == "attacker")
    assert to_hex(computation.get_edgecolor()) == RED


def test_attack_inputs_are_coloured_by_who_provides_them():
    fig = draw_attack("membership")
    inputs = sorted(fig.findobj(lambda o: str(o.get_gid()).startswith("input-") and
                                isinstance(o, FancyBboxPatch)), key=lambda p: p.get_gid())
    colours = [to_hex(p.get_edgecolor()) for p in inputs]
    assert colours == [RED, COLOURS["shared"], RED]  # record, model(s), shadow models


def test_every_family_draws_into_a_given_axes():
    fig, axes = plt.subplots(2, 3, figsize=(18, 6))
    for ax, family in zip(axes.flat[: len(ATTACK_FAMILIES)], ATTACK_FAMILIES, strict=True):
        assert draw_attack(family, ax=ax) is fig
    assert draw_federation("decentralised", ax=axes[0, 0]) is fig


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: draw_attack("poisoning"), "unknown attack family"),
        (lambda: draw_federation("hierarchical"), "unknown topology"),
        (lambda: draw_federation("centralised", attacker="neighbour"), "attacker"),
        (lambda: draw_federation("decentralised", attacker="server"), "attacker"),
        (lambda: draw_federation("centralised", n_participants=1), "n_participants"),
        (lambda: draw_federation("centralised", n_participants=7), "n_participants"),
        (lambda: draw_federation("decentralised", n_participants=2), "n_participants"),
    ],
)
def test_bad_names_raise(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


@pytest.mark.parametrize("call,error,fragment", [
    (lambda: draw_attack({"leakage": 1}), ConfigError, "unknown attack family"),
    (lambda: draw_attack(["leakage"]), ConfigError, "unknown attack family"),
    (lambda: draw_federation(["centralised"]), ConfigError, "unknown topology"),
    (lambda: draw_federation("centralised", attacker=["server"]), ConfigError, "attacker"),
    (lambda: draw_federation("centralised", n_participants=3.0), ConfigError, "n_participants"),
    (lambda: draw_attack("leakage", ax="left"), WrongTypeError,
     "ax must be a matplotlib Axes or None, got str"),
    (lambda: draw_federation(ax=plt.figure()), WrongTypeError,
     "ax must be a matplotlib Axes or None, got Figure"),
])
def test_bad_arguments_raise_one_line(refused, call, error, fragment):
    refused(error, fragment, call)
    plt.close("all")
