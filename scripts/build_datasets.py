"""Convert the raw public datasets into fairmtl's bundled gzip CSV files.

A one-off, re-runnable converter. It checks every raw file against the folder's
``SHA256SUMS``, then writes one gzip CSV with a header row per dataset and split into
``datasets/`` (repository root), and rewrites ``datasets/README.md`` with the row and
column counts and the SHA-256 of each bundled file.

Conversion rules, the same for every file: every row is kept; surrounding whitespace is
stripped from every field; ``"?"`` becomes an empty field (a missing value); gzip is
written with ``mtime=0`` and no file name, so rebuilding gives identical bytes.

Usage (from the repository root)::

    python scripts/build_datasets.py                  # raw folder ../shared/data
    python scripts/build_datasets.py /path/to/raw --out datasets

Only the standard library is used.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fairmtl.data import atomic_target, atomic_write_text

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RAW = REPO_ROOT / ".." / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "datasets"

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]

# UCI Statlog German Credit, attributes 1-20 in order (see the dataset's german.doc),
# then the target (1 good, 2 bad).
GERMAN_COLUMNS = [
    "checking_account",  # A11-A14: status of existing checking account
    "duration_months",
    "credit_history",  # A30-A34
    "purpose",  # A40-A410
    "credit_amount",
    "savings",  # A61-A65: savings account / bonds
    "employment_since",  # A71-A75: present employment since
    "installment_rate",  # % of disposable income
    "personal_status",  # A91-A95: personal status and sex
    "other_debtors",  # A101-A103: other debtors / guarantors
    "residence_since",
    "property",  # A121-A124
    "age",
    "other_installment_plans",  # A141-A143
    "housing",  # A151-A153
    "existing_credits",  # number of existing credits at this bank
    "job",  # A171-A174
    "people_liable",  # number of people liable to provide maintenance for
    "telephone",  # A191-A192
    "foreign_worker",  # A201-A202
    "credit_risk",
]
GERMAN_SEX = {"A91": "male", "A93": "male", "A94": "male", "A92": "female", "A95": "female"}
GERMAN_RISK = {"1": "good", "2": "bad"}

KDD_COLUMNS = """age, class_of_worker, detailed_industry_recode, detailed_occupation_recode,
education, wage_per_hour, enroll_in_edu_inst_last_wk, marital_stat, major_industry_code,
major_occupation_code, race, hispanic_origin, sex, member_of_a_labor_union,
reason_for_unemployment, full_or_part_time_employment_stat, capital_gains, capital_losses,
dividends_from_stocks, tax_filer_stat, region_of_previous_residence,
state_of_previous_residence, detailed_household_and_family_stat,
detailed_household_summary_in_household, instance_weight, migration_code_change_in_msa,
migration_code_change_in_reg, migration_code_move_within_reg, live_in_this_house_1_year_ago,
migration_prev_res_in_sunbelt, num_persons_worked_for_employer, family_members_under_18,
country_of_birth_father, country_of_birth_mother, country_of_birth_self, citizenship,
own_business_or_self_employed, fill_inc_questionnaire_for_veterans_admin, veterans_benefits,
weeks_worked_in_year, year, income"""
KDD_COLUMNS_LIST = [c.strip() for c in KDD_COLUMNS.replace("\n", " ").split(",")]
KDD_INCOME = {"- 50000.": "-50000", "50000+.": "50000+"}


class BuildError(RuntimeError):
    """A raw file is missing, altered, or not in the expected format."""


@dataclass(frozen=True)
class Output:
    """One bundled file: its name, the raw file it comes from, and how to read it."""

    name: str
    raw: str
    expected_rows: int
    header: list[str]
    rows: Callable[[Path], Iterable[list[str]]]


def _clean(value: str) -> str:
    value = value.strip()
    return "" if value == "?" else value


def _lines(path: Path) -> Iterator[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.strip():
                yield line


def _split_rows(
    path: Path, sep: str, n_fields: int, *, skip_first: bool = False
) -> Iterator[list[str]]:
    lines = _lines(path)
    if skip_first:
        first = next(lines)
        if not first.startswith("|"):
            raise BuildError(f"{path.name}: expected a '|' comment first line, got {first!r}")
    for i, line in enumerate(lines, start=1):
        fields = [_clean(v) for v in line.split(sep)]
        if len(fields) != n_fields:
            raise BuildError(f"{path.name}: line {i} has {len(fields)} fields, expected {n_fields}")
        yield fields


def _adult_rows(path: Path, *, test: bool) -> Iterator[list[str]]:
    for fields in _split_rows(path, ",", len(ADULT_COLUMNS), skip_first=test):
        label = fields[-1].removesuffix(".") if test else fields[-1]
        if label not in {"<=50K", ">50K"}:
            raise BuildError(f"{path.name}: unexpected income label {fields[-1]!r}")
        fields[-1] = label
        yield fields


def _german_rows(path: Path) -> Iterator[list[str]]:
    for fields in _split_rows_whitespace(path, len(GERMAN_COLUMNS)):
        try:
            sex = GERMAN_SEX[fields[8]]
            fields[-1] = GERMAN_RISK[fields[-1]]
        except KeyError as e:
            raise BuildError(f"{path.name}: unexpected code {e.args[0]!r}") from e
        yield [*fields, sex]


def _split_rows_whitespace(path: Path, n_fields: int) -> Iterator[list[str]]:
    for i, line in enumerate(_lines(path), start=1):
        fields = [_clean(v) for v in line.split()]
        if len(fields) != n_fields:
            raise BuildError(f"{path.name}: line {i} has {len(fields)} fields, expected {n_fields}")
        yield fields


def _compas_rows(path: Path) -> Iterator[list[str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        if header != COMPAS_COLUMNS:
            raise BuildError(f"{path.name}: unexpected header {header}")
        for row in reader:
            if row:
                yield [_clean(v) for v in row]


def _kdd_rows(path: Path) -> Iterator[list[str]]:
    for fields in _split_rows(path, ",", len(KDD_COLUMNS_LIST)):
        raw_label = fields[-1]
        try:
            fields[-1] = KDD_INCOME[raw_label]
        except KeyError as e:
            raise BuildError(f"{path.name}: unexpected income label {raw_label!r}") from e
        yield fields


COMPAS_COLUMNS = [
    "sex",
    "age",
    "age_cat",
    "race",
    "juv_fel_count",
    "juv_misd_count",
    "juv_other_count",
    "priors_count",
    "days_b_screening_arrest",
    "c_charge_degree",
    "is_recid",
    "decile_score",
    "score_text",
    "two_year_recid",
]

OUTPUTS = [
    Output(
        "adult_train.csv.gz",
        "adult.data.gz",
        32_561,
        ADULT_COLUMNS,
        lambda p: _adult_rows(p, test=False),
    ),
    Output(
        "adult_test.csv.gz",
        "adult.test.gz",
        16_281,
        ADULT_COLUMNS,
        lambda p: _adult_rows(p, test=True),
    ),
    Output("compas.csv.gz", "compas-two-years.csv.gz", 7_214, COMPAS_COLUMNS, _compas_rows),
    Output("german.csv.gz", "german.data.gz", 1_000, [*GERMAN_COLUMNS, "sex"], _german_rows),
    Output(
        "census_kdd_train.csv.gz",
        "census-income-kdd.train.csv.gz",
        199_523,
        KDD_COLUMNS_LIST,
        _kdd_rows,
    ),
    Output(
        "census_kdd_test.csv.gz",
        "census-income-kdd.test.csv.gz",
        99_762,
        KDD_COLUMNS_LIST,
        _kdd_rows,
    ),
]


def sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_sums(raw_dir: Path) -> None:
    """Check every raw file named in ``raw_dir/SHA256SUMS``; raise on any mismatch."""
    sums_file = raw_dir / "SHA256SUMS"
    if not sums_file.is_file():
        raise BuildError(f"{sums_file} not found: is {raw_dir} the raw data folder?")
    expected = {}
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            expected[name.strip().lstrip("*")] = digest
    for out in OUTPUTS:
        if out.raw not in expected:
            raise BuildError(f"{out.raw} is not listed in {sums_file}")
        got = sha256(raw_dir / out.raw)
        if got != expected[out.raw]:
            raise BuildError(f"{out.raw}: SHA-256 {got} does not match {expected[out.raw]}")


def write_gzip_csv(path: Path, header: list[str], rows: Iterable[list[str]]) -> int:
    """Write a deterministic gzip CSV (mtime=0, no file name); return the row count."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        if len(row) != len(header):
            raise BuildError(f"{path.name}: row {n + 1} has {len(row)} fields, not {len(header)}")
        writer.writerow(row)
        n += 1
    data = buf.getvalue().encode("utf-8")
    with (
        atomic_target(path, force=True) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
    ):
        gz.write(data)
    return n


def build(raw_dir: Path, out_dir: Path) -> list[dict[str, object]]:
    """Check the raw files, write every bundled file and return one summary per file."""
    check_sums(raw_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = []
    for out in OUTPUTS:
        target = out_dir / out.name
        n = write_gzip_csv(target, out.header, out.rows(raw_dir / out.raw))
        if n != out.expected_rows:
            raise BuildError(
                f"{out.name}: wrote {n} rows, the source documents {out.expected_rows}"
            )
        summary.append(
            {
                "file": out.name,
                "raw": out.raw,
                "rows": n,
                "columns": len(out.header),
                "bytes": target.stat().st_size,
                "sha256": sha256(target),
            }
        )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "raw_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_RAW,
        help="folder with the raw files and SHA256SUMS (default: ../shared/data beside the repo)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument(
        "--no-readme", action="store_true", help="do not rewrite the README's file table"
    )
    args = parser.parse_args(argv)
    try:
        summary = build(args.raw_dir, args.out)
    except (BuildError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for s in summary:
        print(
            f"{s['file']:<26} {s['rows']:>7} rows {s['columns']:>3} cols {s['bytes']:>9} B  {s['sha256']}"
        )
    if not args.no_readme:
        readme = args.out / "README.md"
        _update_readme(readme, summary)
        print(f"updated {readme}")
    return 0


TABLE_START = "<!-- files:start (written by scripts/build_datasets.py) -->"
TABLE_END = "<!-- files:end -->"


def _update_readme(readme: Path, summary: list[dict[str, object]]) -> None:
    lines = [
        TABLE_START,
        "| file | raw source file | rows | columns | size (bytes) | SHA-256 |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for s in summary:
        lines.append(
            f"| {s['file']} | {s['raw']} | {s['rows']} | {s['columns']} | {s['bytes']} | {s['sha256']} |"
        )
    lines.append(TABLE_END)
    block = "\n".join(lines)
    text = (
        readme.read_text()
        if readme.exists()
        else f"# Bundled datasets\n\n{TABLE_START}\n{TABLE_END}\n"
    )
    if TABLE_START not in text or TABLE_END not in text:
        raise BuildError(f"{readme} lacks the markers {TABLE_START!r} ... {TABLE_END!r}")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    atomic_write_text(readme, head + block + tail, force=True)


if __name__ == "__main__":
    sys.exit(main())
