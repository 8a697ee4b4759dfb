"""Your own data: a CSV file of points read into a data set, and points written back as one.

A file has two feature columns and a label, and optionally a fourth column `split` (train or
test, as an export writes it). A header row is optional (a first row with a feature field
that is neither a number nor empty is one); fields are separated by commas, semicolons or
tabs (the first data row decides), may be double-quoted, and numbers use a decimal point.
Blank lines and lines starting with `#` are skipped, except `# classes: a,b,"c, d"`, which
fixes the order of the class names (an export writes it, so names keep their colours
through export and import).

The label decides the task:
* names (anything that is not a number): up to MAX_CLASSES classes, numbered in order of
  appearance; two classes are a binary set, three to five a K-class one;
* integers 0..K−1 with K ≤ MAX_CLASSES: the same, numbered as written. Integers from 0 that
  reach 5..9 are refused as a sixth class rather than read as a regression target;
* any other number: a regression target, scaled from its range onto [−1, 1].

Each feature is scaled from its range onto FEATURE_SPAN (inside the plot's ±6, so no point
sits on its edge), and `axes()` says how, so the plot can label its axes in the file's units.
Every refusal is a CsvError whose message names the line ("line 7: 'abc' is not a number").
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from dataclasses import dataclass

import numpy as np

from .config import MAX_CLASSES, task_of
from .errors import TrainerError

MAX_ROWS = 5000
MAX_CSV_CHARS = 1_000_000  # ~200 characters a row at MAX_ROWS; the server's cap follows
MAX_NAME_CHARS = 120
MAX_FIELD_CHARS = 100  # a column name, a class name or a number
MAX_LINE_CHARS = 1000  # four fields and their quotes fit many times over
FEATURE_SPAN = (-5.0, 5.0)
TARGET_SPAN = (-1.0, 1.0)
SPLITS = ("train", "test")
# the data set an import becomes, by its task (engine/config.py lists them)
IMPORTED_DATASETS = {
    "binary": "your_data",
    "multiclass": "your_data_classes",
    "regression": "your_data_regression",
}
assert all(task_of(d) == task for task, d in IMPORTED_DATASETS.items())
DEFAULT_COLUMNS = ("x1", "x2", "label")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CLASSES_COMMENT = re.compile(r"#\s*classes\s*:(.*)", re.IGNORECASE)
_NOT_FINITE = {"nan", "inf", "infinity"}
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


class CsvError(TrainerError):
    """A file refused: `line` is the 1-based line it was found on (None for the whole file)."""

    def __init__(self, line: int | None, message: str):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class Scale:
    """A column's range in the file's units and the span it is mapped onto."""

    column: str
    lo: float
    hi: float
    to: tuple[float, float]

    def forward(self, v: np.ndarray) -> np.ndarray:
        """File units → plot units (a constant column maps to the span's middle)."""
        a, b = self.to
        if self.hi == self.lo:
            return np.full(np.shape(v), (a + b) / 2)
        return a + (np.asarray(v, dtype=np.float64) - self.lo) * ((b - a) / (self.hi - self.lo))

    def inverse(self, s: np.ndarray) -> np.ndarray:
        """Plot units → file units."""
        a, b = self.to
        if self.hi == self.lo:
            return np.full(np.shape(s), self.lo)
        return self.lo + (np.asarray(s, dtype=np.float64) - a) * ((self.hi - self.lo) / (b - a))

    def to_json(self) -> dict:
        return {"column": self.column, "lo": self.lo, "hi": self.hi, "to": list(self.to)}


@dataclass(frozen=True, eq=False)
class ImportedData:
    """A parsed file. X (n, 2) and `values` (n,) are in the file's units: `values` are class
    numbers (int64) or regression targets (float64); `is_train` (n,) bool is the file's own
    split, or None to split by the config's seed and train share."""

    name: str
    columns: tuple[str, str, str]
    task: str
    class_names: tuple[str, ...]
    X: np.ndarray
    values: np.ndarray
    is_train: np.ndarray | None
    delimiter: str
    header: bool

    @property
    def dataset(self) -> str:
        return IMPORTED_DATASETS[self.task]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def scales(self) -> tuple[Scale, ...]:
        """x₁ and x₂ onto FEATURE_SPAN, then (regression) the target onto TARGET_SPAN."""
        out = [Scale(self.columns[j], *_range(self.X[:, j]), FEATURE_SPAN) for j in range(2)]
        if self.task == "regression":
            out.append(Scale(self.columns[2], *_range(self.values), TARGET_SPAN))
        return tuple(out)

    def scaled(self) -> tuple[np.ndarray, np.ndarray]:
        """X (n, 2) in plot units and y (n,): class numbers or targets in [−1, 1]."""
        s = self.scales
        X = np.column_stack([s[0].forward(self.X[:, 0]), s[1].forward(self.X[:, 1])])
        y = s[2].forward(self.values) if self.task == "regression" else self.values
        return X, y

    @property
    def digest(self) -> str:
        return hashlib.blake2b(self.to_csv().encode(), digest_size=12).hexdigest()

    def axes(self) -> dict:
        """How the plot reads in the file's units: the name, the columns' scales, the classes."""
        return {
            "name": self.name,
            "task": self.task,
            "scales": [s.to_json() for s in self.scales],
            "class_names": list(self.class_names),
        }

    def preview(self) -> dict:
        """What the page shows before an import changes anything."""
        counts = (
            np.bincount(self.values, minlength=self.n_classes).tolist()
            if self.task != "regression"
            else []
        )
        n_train = None if self.is_train is None else int(self.is_train.sum())
        return {
            **self.axes(),
            "rows": len(self.X),
            "columns": list(self.columns),
            "dataset": self.dataset,
            "header": self.header,
            "delimiter": {",": "comma", ";": "semicolon", "\t": "tab"}[self.delimiter],
            "class_counts": counts,
            "split": None if n_train is None else {"train": n_train, "test": len(self.X) - n_train},
        }

    def to_csv(self) -> str:
        """The file as `points_csv` writes it (parse(to_csv()) reads the same data)."""
        split = None if self.is_train is None else np.where(self.is_train, "train", "test")
        return points_csv(self.columns, self.class_names, self.task, self.X, self.values, split)


def _range(v: np.ndarray) -> tuple[float, float]:
    return float(v.min()), float(v.max())


def points_csv(
    columns, class_names, task: str, X: np.ndarray, values: np.ndarray, split=None, exact=True
):
    """CSV text: a header, `# classes:` for named classes, then `x1,x2,label[,split]` rows.
    Numbers are written `exact`ly (repr round-trips a float64) or to 15 digits (a value
    mapped back from the plot reads 3.148, not 3.1479999999999997)."""

    def _fmt(x: float) -> str:
        return repr(float(x)) if exact else f"{float(x):.15g}"

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    names_used = task != "regression" and list(class_names) != [
        str(k) for k in range(len(class_names))
    ]
    if names_used:  # the names as one CSV row (a name may hold a comma or a quote)
        out.write("# classes: ")
        csv.writer(out, lineterminator="\n").writerow(class_names)
    w.writerow([*columns, "split"] if split is not None else list(columns))
    for k in range(len(X)):
        label = (
            _fmt(values[k])
            if task == "regression"
            else (class_names[int(values[k])] if names_used else str(int(values[k])))
        )
        row = [_fmt(X[k, 0]), _fmt(X[k, 1]), label]
        w.writerow(row if split is None else [*row, split[k]])
    return out.getvalue()


def export(points, config, imported: ImportedData | None) -> str:
    """`points` (data.Points: train then test) as CSV with a split column, in `imported`'s
    units and with its column and class names, or as they are for a generated set."""
    X = np.vstack([points.X_train, points.X_test])
    values = np.concatenate([points.y_train, points.y_test])
    split = ["train"] * len(points.X_train) + ["test"] * len(points.X_test)
    task = config.task
    if imported is None:
        k = {"binary": 2, "multiclass": config.n_classes, "regression": 0}[task]
        columns, class_names = DEFAULT_COLUMNS, tuple(str(c) for c in range(k))
    else:
        scales = imported.scales
        X = np.column_stack([scales[0].inverse(X[:, 0]), scales[1].inverse(X[:, 1])])
        if task == "regression":
            values = scales[2].inverse(values)
        columns, class_names = imported.columns, imported.class_names
    return points_csv(columns, class_names, task, X, values, split, exact=imported is None)


def _number(field: str) -> float | None:
    f = field.strip()
    if not _NUMBER.fullmatch(f):
        return None
    return float(f)


def _check_text(text: str) -> str:
    if len(text) > MAX_CSV_CHARS:
        raise CsvError(None, f"the file is over {MAX_CSV_CHARS:,} characters")
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = _BINARY.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise CsvError(line, "this is a binary file, not a text CSV")
    if not text.strip():
        raise CsvError(1, "the file is empty")
    return text


def _delimiter(line: str) -> str:
    return "\t" if "\t" in line else ";" if ";" in line else ","


def parse(text: str, name: str = "data.csv") -> ImportedData:
    """The file `text` (already decoded) as ImportedData; raises CsvError naming the line."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise CsvError(None, f"a file name of 1 to {MAX_NAME_CHARS} characters is needed")
    # one line break, so that the csv module's line numbers and `lines` agree
    text = _check_text(text).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.rstrip("\n").split("\n")
    for k, ln in enumerate(lines):
        if len(ln) > MAX_LINE_CHARS:
            raise CsvError(k + 1, f"a line of {len(ln):,} characters (at most {MAX_LINE_CHARS:,})")
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), None)
    if first is None:
        raise CsvError(len(lines), "the file has no rows, only comments")
    delim = _delimiter(first)
    named_order: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    columns: tuple[str, str, str] | None = None
    width = 0
    rows: list[tuple[int, float, float, str, str | None]] = []
    header = False
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if fields[0].lstrip().startswith("#"):
                m = _CLASSES_COMMENT.fullmatch(lines[line - 1].strip())
                if m and not rows:
                    names = next(csv.reader([m.group(1)], skipinitialspace=True), [])
                    named_order = list(dict.fromkeys(c.strip() for c in names if c.strip()))
                    if len(named_order) > MAX_CLASSES:
                        raise CsvError(line, f"more than {MAX_CLASSES} classes named")
                continue
            fields = [f.strip() for f in fields]
            if len(fields) > 4:
                raise CsvError(
                    line, f"{len(fields)} columns; a file has x₁, x₂, a label and maybe a split"
                )
            if any(len(f) > MAX_FIELD_CHARS for f in fields):
                raise CsvError(line, f"a field is over {MAX_FIELD_CHARS} characters")
            if not width:
                if len(fields) < 3:
                    raise CsvError(
                        line, f"{len(fields)} column(s); a file needs x₁, x₂ and a label"
                    )
                width = len(fields)
                if any(f and _number(f) is None for f in fields[:2]):
                    header = True
                    if width == 4 and fields[3].lower() != "split":
                        raise CsvError(line, f"a fourth column must be 'split', not {fields[3]!r}")
                    columns = (fields[0] or "x1", fields[1] or "x2", fields[2] or "label")
                    continue
                columns = DEFAULT_COLUMNS
            if len(fields) != width:
                raise CsvError(line, f"{len(fields)} columns where the file has {width}")
            for j in (0, 1):
                if not fields[j]:
                    raise CsvError(line, f"column {j + 1} ({columns[j]}) is empty")
            x1, x2 = _number(fields[0]), _number(fields[1])
            for j, v in ((0, x1), (1, x2)):
                if v is None:
                    raise CsvError(line, f"{fields[j]!r} in column {j + 1} is not a number")
                if not math.isfinite(v):
                    raise CsvError(line, f"{fields[j]!r} in column {j + 1} is too large")
            if not fields[2]:
                raise CsvError(line, f"column 3 ({columns[2]}) is empty")
            split = None
            if width == 4:
                split = fields[3].lower()
                if split not in SPLITS:
                    raise CsvError(line, f"the split must be train or test, not {fields[3]!r}")
            if len(rows) == MAX_ROWS:
                raise CsvError(line, f"more than {MAX_ROWS:,} rows")
            rows.append((line, x1, x2, fields[2], split))
    except csv.Error as e:
        raise CsvError(reader.line_num, f"unreadable quoting ({e})") from None
    if not rows:
        raise CsvError(len(lines), "no data rows" + (" after the header" if header else ""))
    task, class_names, values = _labels(rows, named_order)
    X = np.array([[r[1], r[2]] for r in rows], dtype=np.float64)
    is_train = None if width == 3 else np.array([r[4] == "train" for r in rows])
    for a in (X, values) + (() if is_train is None else (is_train,)):
        a.setflags(write=False)
    return ImportedData(
        name=name.strip(),
        columns=columns,
        task=task,
        class_names=class_names,
        X=X,
        values=values,
        is_train=is_train,
        delimiter=delim,
        header=header,
    )


def _labels(rows, named_order: list[str]) -> tuple[str, tuple[str, ...], np.ndarray]:
    """The task, the class names and the labels (class numbers or targets) of `rows`."""
    raw = [r[3] for r in rows]
    numbers = [_number(v) for v in raw]
    if not named_order and all(v is not None for v in numbers):
        for (line, *_), v, r in zip(rows, numbers, raw):
            if not math.isfinite(v):
                raise CsvError(line, f"the label {r!r} is too large")
        ints = all(float(v).is_integer() and v >= 0 for v in numbers)
        if ints and min(numbers) == 0 and max(numbers) < 10:
            for (line, *_), v in zip(rows, numbers):
                if v >= MAX_CLASSES:
                    raise CsvError(
                        line,
                        f"label {int(v)} makes more than {MAX_CLASSES} classes (0 to "
                        f"{MAX_CLASSES - 1})",
                    )
            k = max(int(max(numbers)) + 1, 2)
            return (
                _class_task(k),
                tuple(str(c) for c in range(k)),
                np.array(numbers, dtype=np.int64),
            )
        return "regression", (), np.array(numbers, dtype=np.float64)
    names = list(named_order)
    labels = []
    for (line, *_), v in zip(rows, raw):
        if v.lower().lstrip("+-") in _NOT_FINITE:
            raise CsvError(line, f"the label {v!r} is not a finite number")
        if v not in names:
            if len(names) == MAX_CLASSES:
                raise CsvError(
                    line, f"{v!r} would be a class beyond {MAX_CLASSES} ({', '.join(names)})"
                )
            names.append(v)
        labels.append(names.index(v))
    if len(names) < 2:
        names.append("other")  # one class read: a binary set whose second class is empty
    return _class_task(len(names)), tuple(names), np.array(labels, dtype=np.int64)


def _class_task(k: int) -> str:
    return "binary" if k == 2 else "multiclass"


__all__ = [
    "FEATURE_SPAN",
    "IMPORTED_DATASETS",
    "MAX_ROWS",
    "CsvError",
    "ImportedData",
    "Scale",
    "export",
    "parse",
    "points_csv",
]
