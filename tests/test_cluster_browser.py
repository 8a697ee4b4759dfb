"""Cluster mode in the browser: the teacher's page on one server process, a student's on
another, sharing a real redis-server (tests/helpers/cluster.py); the figures are read off
both pages."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers.cluster import cluster
from tests.helpers.page import PageRun

STATE = "window.backpropLab.store.state"


def test_a_student_on_another_machine_follows_each_step_and_sees_redis_come_and_go(browser):
    with cluster(2) as (redis_server, (a, b)):
        teacher = PageRun(browser, a.url)
        try:
            teacher.page.click("#btn-room")
            code = teacher.page.get_by_test_id("room-code").inner_text().strip()
            student = PageRun(browser, b.url, f"join={code}")
            try:
                student.page.wait_for_function(f"() => {STATE}.role === 'follower'")
                expect(teacher.page.get_by_test_id("room-button")).to_contain_text(f"{code} · 1")
                for n in range(1, 4):
                    teacher.page.click("#btn-step")
                    teacher.wait_steps(n)
                    student.wait_steps(n)
                for testid in ("loss-train", "loss-test", "accuracy-train", "accuracy-test"):
                    assert student.text(testid) == teacher.text(testid)
                bar = student.page.get_by_test_id("room-bar")
                expect(bar).to_contain_text("appear here live")
                redis_server.stop()
                expect(bar).to_contain_text("reconnecting to the room", timeout=15_000)
                student.shot("cluster-follower-reconnecting-1280x720")
                redis_server.start()
                expect(bar).to_contain_text("appear here live", timeout=20_000)
                teacher.page.click("#btn-step")
                teacher.wait_steps(4)
                student.wait_steps(4)
                assert student.text("loss-train") == teacher.text("loss-train")
                assert not student.errors and not teacher.errors, (student.errors, teacher.errors)
            finally:
                student.close()
        finally:
            teacher.close()
