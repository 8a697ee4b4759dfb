"""The CSV parser on crafted files, the scaling against its formula, and a trainer on a file:
import, export, snapshot and variant give the same points."""

from __future__ import annotations

import numpy as np
import pytest

from engine import csv_points
from engine.config import ConfigError
from engine.csv_points import MAX_ROWS, CsvError, parse
from engine.trainer import Trainer

IRIS_LIKE = "length (cm),width (cm),species\n" + "".join(
    f"{10 + 2 * i},{(i * 7) % 13 - 3.5},{('setosa', 'versicolor', 'virginica')[i % 3]}\n"
    for i in range(150)
)


def refused(text: str) -> CsvError:
    with pytest.raises(CsvError) as e:
        parse(text, "bad.csv")
    return e.value


def test_names_map_in_order_of_appearance_and_the_header_names_the_columns():
    d = parse("a;b;kind\n1;2;dog\n3;4;cat\n5;6;dog\n7;8;eel\n", "pets.csv")
    assert d.columns == ("a", "b", "kind") and d.header and d.delimiter == ";"
    assert d.class_names == ("dog", "cat", "eel") and d.task == "multiclass"
    assert d.values.tolist() == [0, 1, 0, 2]
    assert d.dataset == "your_data_classes" and d.n_classes == 3


def test_integer_labels_without_a_header_and_tabs():
    d = parse("1.5\t2\t1\n-3\t4e1\t0\n", "t.tsv")
    assert not d.header and d.columns == ("x1", "x2", "label") and d.delimiter == "\t"
    assert d.task == "binary" and d.class_names == ("0", "1") and d.values.tolist() == [1, 0]
    np.testing.assert_array_equal(d.X, [[1.5, 2.0], [-3.0, 40.0]])


def test_other_numbers_are_a_regression_target():
    d = parse("x,y,t\n0,0,0.5\n1,1,-2\n2,2,7\n", "r.csv")
    assert d.task == "regression" and d.class_names == () and d.dataset == "your_data_regression"
    _, y = d.scaled()
    np.testing.assert_allclose(y, [-1 + 2 * (0.5 + 2) / 9, -1.0, 1.0], rtol=0, atol=1e-15)


def test_scaling_maps_each_range_onto_the_span_by_the_formula():
    d = parse(IRIS_LIKE, "iris.csv")
    X, _ = d.scaled()
    lo, hi = 10.0, 10 + 2 * 149
    np.testing.assert_allclose(X[:, 0], -5 + (d.X[:, 0] - lo) * 10 / (hi - lo), atol=1e-13)
    assert X[:, 1].min() == -5.0 and X[:, 1].max() == 5.0
    s = d.scales[0]
    assert (s.column, s.lo, s.hi, s.to) == ("length (cm)", lo, hi, (-5.0, 5.0))
    np.testing.assert_allclose(s.inverse(s.forward(d.X[:, 0])), d.X[:, 0], rtol=1e-15)


def test_a_constant_column_sits_in_the_middle():
    X, _ = parse("1,5,0\n2,5,1\n", "c.csv").scaled()
    assert X[:, 1].tolist() == [0.0, 0.0]


def test_bom_crlf_quotes_comments_and_blank_lines():
    text = (
        '\ufeff# measured on Monday\r\n"x, one","x2","label"\r\n\r\n'
        '"1.0",2,"big cat"\r\n3,4,dog\r\n'
    )
    d = parse(text, "q.csv")
    assert d.columns == ("x, one", "x2", "label")
    assert d.class_names == ("big cat", "dog") and len(d.X) == 2


def test_class_names_with_commas_and_quotes_keep_their_order_through_export():
    text = 'x,y,kind\n1,2,"big, cat"\n3,4,dog\n5,6,"say ""hi"""\n0,0,dog\n'
    t = Trainer({"hidden": [2]})
    t.import_points(parse(text, "odd.csv"))
    out = t.points_csv()
    assert out.startswith('# classes: "big, cat",dog,"say ""hi"""\n')
    d = parse(out, "again.csv")
    assert d.class_names == ("big, cat", "dog", 'say "hi"')
    u = Trainer({"hidden": [2]})
    u.import_points(d)
    assert u.y_train.tolist() == t.y_train.tolist() and u.y_test.tolist() == t.y_test.tolist()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_break_counts_lines_alike(newline):
    text = newline.join(["# classes: b, a", "x,y,k", "1,2,a", "3,4,\u2028b", "5,x,a", ""])
    e = refused(text)
    assert e.line == 5 and "'x' in column 2" in str(e)
    d = parse(newline.join(["# classes: b, a", "x,y,k", "1,2,a", "3,4,b"]), "ok.csv")
    assert d.class_names == ("b", "a") and d.values.tolist() == [1, 0]


def test_a_split_column_is_kept():
    d = parse("x1,x2,label,split\n1,2,0,test\n3,4,1,train\n5,6,1,TRAIN\n", "s.csv")
    assert d.is_train.tolist() == [False, True, True]
    t = Trainer({"hidden": [2]})
    t.import_points(d)
    assert len(t.X_train) == 2 and len(t.X_test) == 1


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("", 1, "empty"),
        ("  \n\n", 1, "empty"),
        ("x1,x2,label\n", 1, "no data rows after the header"),
        ("1,2,0\n3,abc,1\n", 2, "'abc' in column 2 is not a number"),
        ("1,2,0\nnan,2,1\n", 2, "'nan' in column 1 is not a number"),
        ("1,2,0\ninf,2,1\n", 2, "'inf' in column 1 is not a number"),
        ("1,2,0\n1e999,2,1\n", 2, "too large"),
        ("1,2,0.5\n1,2,nan\n", 2, "not a finite number"),
        ("1,2,0\n1,2,1\n3,4\n", 3, "2 columns where the file has 3"),
        ("1,2,0\n1,2,1,9\n", 2, "4 columns where the file has 3"),
        ("1,2\n", 1, "needs x₁, x₂ and a label"),
        ("1,,0\n", 1, "column 2 (x2) is empty"),
        ("1,2,\n", 1, "column 3 (label) is empty"),
        ("1,2,0,1,2\n", 1, "5 columns"),
        ("1,2,0\n1,2,1\n1,2,2\n1,2,3\n1,2,4\n1,2,5\n", 6, "more than 5 classes"),
        ("1,2,a\n1,2,b\n1,2,c\n1,2,d\n1,2,e\n\n1,2,f\n", 7, "'f' would be a class beyond 5"),
        ("1,2,0\n1,2,1\x00\x01\n", 2, "binary file"),
        ("\x89PNG\r\n\x1a\n\x00\x00", 1, "binary file"),
        ("1,2,0\n1,2,\ufffd\n", 2, "binary file"),
        ('1,2,0\n"1,2,0\n', 2, "quoting"),
        ("x1,x2,label,fold\n1,2,0,1\n", 1, "fourth column must be 'split'"),
        ("x1,x2,label,split\n1,2,0,maybe\n", 2, "train or test"),
        ("1,2,0\n1_0,2,0\n", 2, "not a number"),
        ("1,2,0\n1,2;5,0\n", 2, "not a number"),
        ("1,2,0\n#" + "x" * 200_000 + "\n", 2, "a line of 200,001 characters (at most 1,000)"),
        ('1,2,0\n"' + "x" * 1200 + '",2,0\n', 2, "a line of 1,206 characters"),
    ],
)
def test_a_bad_file_is_refused_naming_its_line(text, line, words):
    e = refused(text)
    assert e.line == line and words in str(e), str(e)
    assert str(e).startswith(f"line {line}: ")


def test_more_than_max_rows_is_refused_at_the_first_row_over():
    text = "x1,x2,label\n" + "1,2,0\n" * MAX_ROWS
    assert len(parse(text, "ok.csv").X) == MAX_ROWS
    e = refused(text + "3,4,1\n")
    assert e.line == MAX_ROWS + 2 and "more than 5,000 rows" in str(e)


def test_a_huge_file_is_refused_before_it_is_read():
    e = refused("1,2,0\n" * 200_000)
    assert e.line is None and "over 1,000,000 characters" in str(e)


def test_a_file_needs_a_name():
    with pytest.raises(CsvError, match="file name"):
        parse("1,2,0\n", "")


def test_a_trainer_trains_on_a_file_and_export_then_import_gives_the_same_points():
    t = Trainer({"hidden": [4], "seed": 3})
    t.import_points(parse(IRIS_LIKE, "iris.csv"))
    c = t.config
    assert (c.dataset, c.n_classes, c.output_activation) == ("your_data_classes", 3, "softmax")
    assert len(t.X_train) + len(t.X_test) == 150
    assert sorted(set(t.y_train.tolist()) | set(t.y_test.tolist())) == [0, 1, 2]
    loss0 = t.metrics()["loss"]["train"]
    t.run(300)
    assert t.metrics()["loss"]["train"] < loss0
    text = t.points_csv()
    assert text.startswith("# classes: setosa,versicolor,virginica\n")
    assert text.splitlines()[1] == "length (cm),width (cm),species,split"
    u = Trainer({"hidden": [4], "seed": 99, "train_fraction": 0.9})
    u.import_points(parse(text, "export.csv"))
    for a, b in ((t.X_train, u.X_train), (t.X_test, u.X_test)):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)
    assert t.y_train.tolist() == u.y_train.tolist() and t.y_test.tolist() == u.y_test.tolist()
    assert u.points()["source"]["name"] == "export.csv"


def test_a_regression_file_round_trips_in_its_units():
    text = "h,w,price\n" + "".join(f"{i},{i % 7},{100 + 3.5 * i}\n" for i in range(40))
    t = Trainer({"hidden": [3]})
    t.import_points(parse(text, "p.csv"))
    assert t.config.task == "regression" and t.config.dataset == "your_data_regression"
    assert t.y_train.min() >= -1 and t.y_train.max() <= 1
    rows = [r.split(",") for r in t.points_csv().splitlines()[1:]]
    assert sorted(float(r[2]) for r in rows) == [100 + 3.5 * i for i in range(40)]


def test_snapshot_variant_and_reset_carry_the_file():
    t = Trainer({"hidden": [4]})
    t.import_points(parse(IRIS_LIKE, "iris.csv"))
    t.add_point(0.5, 0.5, 2)
    t.run(20)
    u = Trainer.from_snapshot(t.snapshot())
    assert u.imported.name == "iris.csv" and u.points() == t.points()
    np.testing.assert_array_equal(u.net.params, t.net.params)
    v = t.variant({"hidden": [2]})
    assert v.points() == t.points()
    t.reset(data=True)
    assert len(t.X_train) + len(t.X_test) == 150


def test_a_snapshot_with_a_bad_file_is_refused():
    t = Trainer({"hidden": [4]})
    t.import_points(parse(IRIS_LIKE, "iris.csv"))
    snap = t.snapshot()
    snap["imported"]["csv"] = "1,2,0\n1,zz,1\n"
    with pytest.raises(Exception, match="imported.csv: line 2"):
        Trainer.from_snapshot(snap)


def test_your_data_needs_its_file_and_keeps_its_classes():
    t = Trainer({"hidden": [4]})
    with pytest.raises(ConfigError, match="import one first"):
        t.configure({"dataset": "your_data"})
    t.import_points(parse(IRIS_LIKE, "iris.csv"))
    with pytest.raises(ConfigError, match="3 classes"):
        t.configure({"n_classes": 4})
    t.configure({"dataset": "circle"})
    t.configure({"dataset": "your_data_classes"})  # the file is kept while another set shows
    assert t.points()["source"]["name"] == "iris.csv"
    assert csv_points.IMPORTED_DATASETS["binary"] == "your_data"
