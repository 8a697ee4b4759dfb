"""Your own data on the real page: a CSV file in through the Data panel's file input (or
dropped on the output plot), its preview, Cancel, training on it, bad files refused with
their line named, and the points exported and read back. Values are read off the page (its
canvas pixels, its text) and checked against the file the test wrote."""

from __future__ import annotations

import json

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.helpers.page import SCREENSHOTS

CLASS_RGB = [(0xE6, 0x9F, 0x00), (0x00, 0x72, 0xB2), (0x00, 0x9E, 0x73)]  # colors.js
SPECIES = ("setosa", "versicolor", "virginica")


def iris_like(n=150, seed=0) -> str:
    """150 rows in centimetres spread over the plane, a header and named classes: the class
    is the third of x1 + 8·x2 a point falls in (so a small network separates them)."""
    rng = np.random.default_rng(seed)
    rows = ["petal length (cm),petal width (cm),species"]
    for i in range(n):
        x1, x2 = rng.uniform(0, 250), rng.uniform(0, 30)
        k = i % 3  # 50 of each: redraw until the point falls in class k's band
        while int((x1 + 8 * x2) / (490 / 3)) != k:
            x1, x2 = rng.uniform(0, 250), rng.uniform(0, 30)
        rows.append(f"{x1:.2f},{x2:.2f},{SPECIES[k]}")
    return "\n".join(rows) + "\n"


def regression_csv() -> str:
    rows = ["area;rooms;price"]
    rows += [f"{30 + 4 * i};{1 + i % 5};{50 + 2.5 * i + (i % 5) * 10}" for i in range(60)]
    return "\n".join(rows) + "\n"


MALFORMED = {  # the six: a file, the line its refusal names, the words it uses
    "non-number.csv": ("x1,x2,label\n1,2,0\n3,four,1\n", 3, "'four' in column 2 is not a number"),
    "missing-column.csv": ("x1,x2,label\n1,2,0\n3,4,1\n5,6\n", 4, "2 columns where the file has 3"),
    "six-classes.csv": (
        "a,b,kind\n" + "".join(f"{i},{i},{c}\n" for i, c in enumerate("pqrstu")),
        7,
        "'u' would be a class beyond 5",
    ),
    "too-many-rows.csv": ("x1,x2,label\n" + "1,2,0\n" * 5001, 5002, "more than 5,000 rows"),
    "empty.csv": ("", 1, "the file is empty"),
    "image.png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", 1, "binary file"),
}


def upload(run_, name: str, content, size=None):
    data = content.encode() if isinstance(content, str) else content
    run_.page.get_by_test_id("csv-input").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": data}
    )


def points(run_):
    return run_.state("JSON.stringify(s.points)")


def colours_at_points(run_) -> list[tuple[int, int, int, int]]:
    """The boundary canvas's pixel at each point's centre (train, then test) and its label."""
    return run_.page.evaluate(
        """() => {
            const lab = window.backpropLab, s = lab.store.state, v = lab.boundary;
            const c = v.canvas, ctx = c.getContext("2d"), dpr = v.surface.dpr;
            const { train, test } = s.points;
            return train.x.concat(test.x).map((x, i) => {
                const q = v.toPx(x[0], x[1]);
                const d = ctx.getImageData(Math.round(q.x * dpr), Math.round(q.y * dpr), 1, 1).data;
                return [d[0], d[1], d[2], train.y.concat(test.y)[i]];
            });
        }"""
    )


def test_a_150_row_3_class_file_is_previewed_then_trained_on(run):
    r = run("", size=(1280, 720))
    before = points(r)
    upload(r, "iris.csv", iris_like())
    preview = r.page.get_by_test_id("csv-preview")
    expect(preview).to_be_visible()
    expect(r.page.get_by_test_id("csv-rows")).to_contain_text("150 rows read")
    expect(preview).to_contain_text("setosa → class 0 (50 rows)")
    expect(preview).to_contain_text("virginica → class 2 (50 rows)")
    expect(preview).to_contain_text("x₁ petal length (cm): ")
    assert points(r) == before  # a preview changes nothing
    r.page.get_by_test_id("csv-apply").click()
    expect(preview).to_be_hidden()
    r.page.wait_for_function(
        "() => { const p = window.backpropLab.store.state.points;"
        " return p && p.source && p.train.x.length + p.test.x.length === 150; }"
    )
    r.wait_ready()
    assert r.state("s.config.dataset") == "your_data_classes"
    assert r.state("s.config.n_classes") == 3
    tile = r.page.locator('.dataset[data-dataset="your_data_classes"]')
    expect(tile).to_be_visible()
    expect(tile).to_contain_text("your data")
    expect(r.page.get_by_test_id("dataset-file")).to_have_text("iris.csv")
    expect(r.page.get_by_test_id("data-source")).to_contain_text("petal width (cm)")
    # all 150 on the plot (train and test), in the three classes' colours
    r.page.locator("#show-test").check()
    r.settle()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    r.page.screenshot(path=str(SCREENSHOTS / "csv-imported-1280x720.png"))
    shown = colours_at_points(r)  # overlapping points hide a few centres
    own = sum(tuple(px[:3]) == CLASS_RGB[px[3]] for px in shown)
    assert len(shown) == 150 and own >= 0.85 * 150, own
    assert {tuple(px[:3]) for px in shown} & set(CLASS_RGB) == set(CLASS_RGB)
    labels = r.state("s.points.train.y.concat(s.points.test.y)")
    assert sorted(labels) == [0] * 50 + [1] * 50 + [2] * 50
    # the axes read in centimetres: the bottom ticks are round file values, not −6…6
    ticks = r.page.evaluate(
        "async () => { const { fileTicks } = await import('/static/js/boundary_view.js');"
        " const s = window.backpropLab.store.state;"
        " return fileTicks(s.points.source.scales[0], 4); }"
    )
    assert [t["text"] for t in ticks][:2] != ["−6", "−3"]
    scale = r.state("s.points.source.scales[0]")
    for t in ticks:  # each tick sits where the file's value maps
        f = float(t["text"].replace("−", "-"))
        want = -5 + (f - scale["lo"]) * 10 / (scale["hi"] - scale["lo"])
        assert abs(t["at"] - want) < 1e-9
    # it trains on them
    loss0 = r.number("loss-train")
    r.page.locator("#step-unit").select_option("epoch")
    for n in range(1, 6):
        r.page.locator("#btn-step").click()
        r.page.wait_for_function(f"() => window.backpropLab.store.state.counters.epoch >= {n}")
    r.settle()
    assert r.number("loss-train") < loss0
    n_train = r.state("s.points.train.x.length")
    assert r.steps() == 5 * int(np.ceil(n_train / r.state("s.config.batch_size")))
    assert not r.errors


def test_cancel_changes_nothing_and_a_drop_on_the_plot_previews(run):
    r = run()
    before, config = points(r), r.state("JSON.stringify(s.config)")
    r.page.evaluate(
        """(text) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], "dropped.csv", { type: "text/csv" }));
            const el = document.getElementById("boundaries");
            const ev = { dataTransfer: dt, bubbles: true, cancelable: true };
            el.dispatchEvent(new DragEvent("dragover", ev));
            el.dispatchEvent(new DragEvent("drop", ev));
        }""",
        iris_like(),
    )
    expect(r.page.get_by_test_id("csv-rows")).to_contain_text("150 rows read")
    expect(r.page.get_by_test_id("csv-preview")).to_contain_text("Import dropped.csv?")
    r.page.get_by_test_id("csv-cancel").click()
    expect(r.page.get_by_test_id("csv-preview")).to_be_hidden()
    r.page.evaluate("() => window.backpropLab.conn.send({type: 'view'})")
    r.page.wait_for_timeout(300)
    assert points(r) == before and r.state("JSON.stringify(s.config)") == config


def test_a_regression_file(run):
    r = run(size=(1920, 1080))
    upload(r, "houses.csv", regression_csv())
    expect(r.page.get_by_test_id("csv-preview")).to_contain_text("A regression target")
    expect(r.page.get_by_test_id("csv-preview")).to_contain_text("y price: ")
    r.page.get_by_test_id("csv-apply").click()
    r.page.wait_for_function(
        "() => { const p = window.backpropLab.store.state.points;"
        " return p && p.source && p.source.name === 'houses.csv'; }"
    )
    r.wait_ready()
    assert r.state("s.config.dataset") == "your_data_regression"
    ys = r.state("s.points.train.y.concat(s.points.test.y)")
    assert len(ys) == 60 and min(ys) == -1 and max(ys) == 1
    loss0 = r.number("loss-train")
    r.page.locator("#step-unit").select_option("epoch")
    r.page.locator("#btn-step").click()
    r.page.wait_for_function("() => window.backpropLab.store.state.counters.epoch >= 1")
    r.settle()
    assert r.number("loss-train") != loss0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    r.page.screenshot(path=str(SCREENSHOTS / "csv-regression-1920x1080.png"))
    assert not r.errors


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_file_is_refused_naming_its_line_and_nothing_changes(run, name):
    r = run()
    before, config = points(r), r.state("JSON.stringify(s.config)")
    content, line, words = MALFORMED[name]
    upload(r, name, content)
    error = r.page.get_by_test_id("csv-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(f"line {line}: ")
    expect(error).to_contain_text(words)
    assert r.page.get_by_test_id("csv-apply").count() == 0
    r.page.get_by_test_id("csv-cancel").click()
    expect(r.page.get_by_test_id("csv-preview")).to_be_hidden()
    r.page.evaluate("() => window.backpropLab.conn.send({type: 'view'})")
    r.page.wait_for_timeout(200)
    assert points(r) == before and r.state("JSON.stringify(s.config)") == config


def test_export_then_import_gives_the_same_points(run, tmp_path):
    r = run()
    upload(r, "iris.csv", iris_like(seed=4))
    r.page.get_by_test_id("csv-apply").click()
    r.page.wait_for_function(
        "() => { const p = window.backpropLab.store.state.points; return p && p.source; }"
    )
    r.wait_ready()
    first = json.loads(points(r))
    with r.page.expect_download() as d:
        r.page.get_by_test_id("csv-export").click()
    download = d.value
    assert download.suggested_filename == "iris-points.csv"
    path = tmp_path / "iris-points.csv"
    download.save_as(path)
    text = path.read_text()
    assert text.startswith("# classes: setosa,versicolor,virginica\n")
    # another split and seed: the file's split column must win
    r.page.evaluate("() => window.backpropLab.conn.send({type: 'configure', config: {seed: 7}})")
    r.page.wait_for_function("() => window.backpropLab.store.state.config.seed === 7")
    upload(r, "iris-points.csv", text)
    expect(r.page.get_by_test_id("csv-preview")).to_contain_text("Split from the file")
    r.page.get_by_test_id("csv-apply").click()
    r.page.wait_for_function(
        "() => window.backpropLab.store.state.points.source.name === 'iris-points.csv'"
    )
    second = json.loads(points(r))
    for split in ("train", "test"):
        assert second[split]["y"] == first[split]["y"]
        np.testing.assert_allclose(second[split]["x"], first[split]["x"], rtol=0, atol=1e-12)
    assert not r.errors


@pytest.mark.parametrize(
    "size, projector", [((1280, 720), True), ((1920, 1080), False), ((390, 844), False)]
)
def test_screenshots_of_the_data_panel_and_the_preview(run, size, projector):
    r = run("p=1" if projector else "", size=size)
    if projector:
        r.page.keyboard.press("p")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tag = f"{size[0]}x{size[1]}{'-projector' if projector else ''}"
    upload(r, "iris.csv", iris_like())
    expect(r.page.get_by_test_id("csv-rows")).to_contain_text("150 rows read")
    r.page.screenshot(path=str(SCREENSHOTS / f"csv-preview-{tag}.png"))
    box = r.page.get_by_test_id("csv-preview").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= size[0]
    r.page.get_by_test_id("csv-apply").click()
    r.page.wait_for_function(
        "() => { const p = window.backpropLab.store.state.points; return p && p.source; }"
    )
    r.wait_ready()
    r.page.get_by_test_id("data-source").scroll_into_view_if_needed()
    r.page.screenshot(path=str(SCREENSHOTS / f"csv-data-panel-{tag}.png"))
    upload(r, "empty.csv", "")
    expect(r.page.get_by_test_id("csv-error")).to_be_visible()
    r.page.screenshot(path=str(SCREENSHOTS / f"csv-refused-{tag}.png"))
    assert not r.errors
