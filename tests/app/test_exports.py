"""Slides: one plot or the whole panel at 2× its size on screen, with a caption; bad paths refused."""
from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QImage

from core.scenarios import load_scenario

from app.exports import SLIDE_SCALE, slide_caption


def dark_pixels(image: QImage, top: int) -> int:
    return sum(1 for y in range(top, image.height(), 2) for x in range(0, image.width(), 2)
               if QColor(image.pixel(x, y)).lightness() < 128)


def test_slide_of_the_panel_is_twice_its_size_with_a_caption(make_window, small_config, qtbot, tmp_path):
    w = make_window(small_config)
    w.resize(1280, 720)
    qtbot.wait(50)
    out = tmp_path / "slide.png"
    assert w.export_slide(str(out)), w.message_label.text()
    image = QImage(str(out))
    viewport = w.plots.viewport()
    assert image.width() == SLIDE_SCALE * viewport.width()
    assert image.height() > SLIDE_SCALE * viewport.height()   # + the caption's band
    assert dark_pixels(image, SLIDE_SCALE * viewport.height() + 2) > 50   # the caption's text
    caption = w.slide_caption()
    assert f"depth={small_config.depth}" in caption and f"step {w.latest.step}" in caption


def test_slide_of_one_plot(make_window, small_config, qtbot, tmp_path):
    w = make_window(small_config)
    w.resize(1280, 720)
    qtbot.wait(50)
    view = w.plots.gradients
    rect = w.plots.viewportTransform().mapRect(view.plot.sceneBoundingRect())   # on screen, px
    out = tmp_path / "gradients.png"
    assert w.export_slide(str(out), view=view)
    image = QImage(str(out))
    assert image.width() == round(SLIDE_SCALE * rect.width())
    assert image.height() > round(SLIDE_SCALE * rect.height())   # + the caption's band


def test_caption_names_the_scenario_config_and_step():
    scenario = load_scenario("large_init_tanh_saturation")
    text = slide_caption(scenario.config, 7, scenario.title)
    assert text.startswith(scenario.title)
    assert f"activation={scenario.config.activation}" in text and text.endswith("step 7")
    assert "clip_mode" not in text   # (named only when clipping)


@pytest.mark.parametrize("name", ["slide.svg", "missing/slide.png"])
def test_bad_slide_path_leaves_nothing(make_window, small_config, fake_dialogs, tmp_path, name):
    w = make_window(small_config)
    w.dialogs = fake_dialogs()
    assert not w.export_slide(str(tmp_path / name))
    assert len(w.dialogs.errors) == 1
    assert list(tmp_path.iterdir()) == []
