"""Ask the class on the real page (issue 27): a presenter's page and a follower's (a phone)
do it end to end by clicking. Oracles: the presenter page's own exact weights before and
after the update the question was about, and what each page shows."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers.page import SCREENSHOTS, PageRun

STATE = "window.backpropLab.store.state"


def present(teacher: PageRun) -> str:
    teacher.page.click("#btn-room")
    code = teacher.page.get_by_test_id("room-code").inner_text().strip()
    teacher.page.click(".room-actions >> text=Hide")
    return code


def exact_weight(page) -> float:
    """w[1][2] of weight layer 0, from the exact (float64) weights of a fresh `state`."""
    page.evaluate("() => window.backpropLab.conn.send({type: 'view'})")
    page.wait_for_function(f"() => {STATE}.paramsStep === {STATE}.counters.step")
    return page.evaluate(f"() => {STATE}.params.weights[0][1][2]")


def test_a_question_asked_answered_and_revealed_by_clicking(run):
    teacher = run("dataset=xor&hidden=4", size=(1280, 720))
    code = present(teacher)
    student = run(f"join={code}", size=(390, 844))
    student.page.wait_for_function(f"() => {STATE}.role === 'follower'")
    card = teacher.page.get_by_test_id("question-card")
    expect(card).to_be_visible()
    expect(student.page.get_by_test_id("question-card")).to_be_hidden()
    # the presenter selects a link and asks about its next update
    teacher.page.evaluate(
        "() => window.backpropLab.store.dispatch({type: 'select', selection: "
        "{kind: 'link', layer: 0, i: 1, j: 2}})"
    )
    before = exact_weight(teacher.page)
    teacher.page.get_by_test_id("ask-update-sign").click()
    expect(student.page.get_by_test_id("question-prompt")).to_contain_text("go up or down")
    expect(teacher.page.get_by_test_id("question-count")).to_contain_text("0 answered · 1 joined")
    # the follower answers "up", then changes its mind: still one answer
    student.page.get_by_test_id("answer-up").click()
    expect(student.page.get_by_test_id("question-mine")).to_contain_text("goes up")
    expect(teacher.page.get_by_test_id("question-count")).to_contain_text("1 answered")
    student.page.get_by_test_id("answer-down").click()
    expect(student.page.get_by_test_id("answer-down")).to_have_attribute("aria-pressed", "true")
    bars = teacher.page.get_by_test_id("question-bars")
    expect(bars.locator(".q-row").nth(1)).to_have_attribute("data-count", "1")
    expect(bars.locator(".q-row").nth(0)).to_have_attribute("data-count", "0")
    expect(teacher.page.get_by_test_id("question-count")).to_contain_text("1 answered · 1 joined")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    teacher.page.screenshot(path=str(SCREENSHOTS / "question-presenter-1280x720.png"))
    student.page.screenshot(path=str(SCREENSHOTS / "question-follower-390x844.png"))
    # the update is made, then revealed: the engine's sign is the real weight's change
    teacher.page.click("#btn-step")
    teacher.wait_steps(1)
    after = exact_weight(teacher.page)
    sign = "goes up" if after > before else "goes down"
    teacher.page.get_by_test_id("question-reveal").click()
    for page in (teacher.page, student.page):
        expect(page.get_by_test_id("question-truth-value")).to_contain_text(sign)
        right = page.get_by_test_id("question-bars").locator(".q-row.q-is-right")
        expect(right).to_have_count(1)
        expect(right).to_contain_text(sign)
    expect(student.page.get_by_test_id("question-verdict")).to_have_text(
        "You were right." if sign == "goes down" else "You said goes down ↓."
    )
    # where the number came from: the inspector opens on that link, on both pages
    for page in (teacher.page, student.page):
        page.wait_for_function(
            f"() => {{ const s = {STATE}.ui.selection; return s && s.kind === 'link' "
            "&& s.layer === 0 && s.i === 1 && s.j === 2; }"
        )
    teacher.page.screenshot(path=str(SCREENSHOTS / "question-reveal-presenter-1280x720.png"))
    student.page.screenshot(path=str(SCREENSHOTS / "question-reveal-follower-390x844.png"))
    # no answer buttons after the reveal
    expect(student.page.get_by_test_id("answer-up")).to_have_count(0)
    assert not teacher.errors and not student.errors, (teacher.errors, student.errors)


def test_a_numeric_answer_and_a_point_clicked_on_the_plot(run):
    teacher = run("dataset=xor&hidden=4", size=(1920, 1080))
    code = present(teacher)
    student = run(f"join={code}", size=(390, 844))
    student.page.wait_for_function(f"() => {STATE}.role === 'follower'")
    teacher.page.evaluate(
        "() => window.backpropLab.store.dispatch({type: 'select', selection: "
        "{kind: 'neuron', layer: 1, j: 0}})"
    )
    teacher.page.get_by_test_id("ask-delta").click()
    expect(student.page.get_by_test_id("question-prompt")).to_contain_text("δ = ∂ℓ/∂z")
    student.page.get_by_test_id("answer-number").fill("0.1")
    student.page.get_by_test_id("answer-send").click()
    expect(student.page.get_by_test_id("question-mine")).to_contain_text("0.1")
    expect(teacher.page.get_by_test_id("question-count")).to_contain_text("1 answered")
    teacher.page.get_by_test_id("question-reveal").click()
    expect(student.page.get_by_test_id("question-truth")).to_be_visible()
    truth = student.page.evaluate(f"() => {STATE}.question.reveal.truth")
    # the inspector on the presenter's page shows the same δ once the update is made
    teacher.page.click("#btn-step")
    teacher.wait_steps(1)
    teacher.page.wait_for_function(f"() => {STATE}.inspect && {STATE}.inspect.step === 1")
    shown = teacher.page.evaluate(f"() => {STATE}.inspect.neuron.delta")
    assert abs(shown - truth) < 1e-12
    # the inspector's walk for that neuron, as the page draws it (it once printed
    # "[object HTMLParagraphElement],,," for a neuron instead of its step and example)
    inspector = teacher.page.locator("#inspector")
    expect(inspector).to_contain_text("traced example")
    assert "[object" not in inspector.inner_text()
    # a point clicked on the Output plot: which class?
    teacher.page.get_by_test_id("ask-point").click()
    box = teacher.page.locator("#boundary").bounding_box()
    teacher.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(student.page.get_by_test_id("question-prompt")).to_contain_text("Which class")
    expect(student.page.get_by_test_id("answer-0")).to_be_visible()
    teacher.page.screenshot(path=str(SCREENSHOTS / "question-point-1920x1080.png"))
    assert not teacher.errors and not student.errors, (teacher.errors, student.errors)


def test_the_divergence_lesson_asks_whether_the_loss_goes_up(run):
    teacher = run("lesson=diverge", size=(1280, 720))
    ask = teacher.page.get_by_test_id("lesson-ask")
    expect(ask).to_be_disabled()  # a question is for a room's class
    code = present(teacher)
    student = run(f"join={code}", size=(390, 844))
    student.page.wait_for_function(f"() => {STATE}.role === 'follower'")
    expect(ask).to_be_enabled()
    expect(student.page.get_by_test_id("lesson-ask")).to_be_hidden()
    before = teacher.page.evaluate(f"() => {STATE}.metrics.loss.train")
    ask.click()
    expect(student.page.get_by_test_id("question-prompt")).to_contain_text("training loss")
    student.page.get_by_test_id("answer-down").click()
    expect(teacher.page.get_by_test_id("question-count")).to_contain_text("1 answered")
    teacher.page.click("#btn-step")
    teacher.wait_steps(1)
    after = teacher.page.evaluate(f"() => {STATE}.metrics.loss.train")
    assert after > before  # the oracle: the page's own loss, before and after the update
    teacher.page.get_by_test_id("question-reveal").click()
    expect(student.page.get_by_test_id("question-truth-value")).to_contain_text("goes up")
    expect(student.page.get_by_test_id("question-verdict")).to_contain_text("You said goes down")
    assert not teacher.errors and not student.errors, (teacher.errors, student.errors)
