"""What fairmtl knows about each bundled dataset: files, columns, target, groups, text.

Plain, immutable data; the loaders in :mod:`fairmtl.datasets._loaders` read it. Row
counts are the ones the original sources document, and the loaders check them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DatasetSpec", "DATASETS"]


@dataclass(frozen=True)
class DatasetSpec:
    """Description of one bundled dataset.

    Attributes
    ----------
    name : str
        The name ``load_dataset`` accepts.
    title : str
        A human-readable title.
    files : dict of str to str
        Split name -> bundled file name (``"all"`` for single-file datasets).
    rows : dict of str to int
        Split name -> documented row count.
    columns : tuple of str
        The columns of the bundled file, in file order.
    numeric : frozenset of str
        Columns read as float; every other column is read as ``category``.
    target : str
        The column of the file that holds the label.
    positive : str
        The value of ``target`` (as text) that maps to 1.
    target_name : str
        The name of the 0/1 target Series.
    default_groups : tuple of str
        The default group columns.
    exclude : tuple of str
        Columns kept in ``frame`` but left out of ``data`` (leakage, scores, weights).
    weight : str or None
        A sampling-weight column returned as ``Bunch.sample_weight``.
    description : str
        One line for :func:`list_datasets`.
    descr : str
        The long description returned as ``Bunch.DESCR``.
    """

    name: str
    title: str
    files: dict[str, str]
    rows: dict[str, int]
    columns: tuple[str, ...]
    numeric: frozenset[str]
    target: str
    positive: str
    target_name: str
    default_groups: tuple[str, ...]
    exclude: tuple[str, ...]
    weight: str | None
    description: str
    descr: str

    @property
    def n_rows(self) -> int:
        """Total number of rows over all splits."""
        return sum(self.rows.values())

    @property
    def n_features(self) -> int:
        """Number of columns of ``data`` with the default groups."""
        dropped = {self.target, *self.default_groups, *self.exclude}
        if self.weight is not None:
            dropped.add(self.weight)
        return len([c for c in self.columns if c not in dropped])


_ADULT_COLUMNS = (
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
)

_COMPAS_COLUMNS = (
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
)

_GERMAN_COLUMNS = (
    "checking_account",
    "duration_months",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment_since",
    "installment_rate",
    "personal_status",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
    "credit_risk",
    "sex",
)

_KDD_COLUMNS = tuple(
    """age class_of_worker detailed_industry_recode detailed_occupation_recode education
    wage_per_hour enroll_in_edu_inst_last_wk marital_stat major_industry_code
    major_occupation_code race hispanic_origin sex member_of_a_labor_union
    reason_for_unemployment full_or_part_time_employment_stat capital_gains capital_losses
    dividends_from_stocks tax_filer_stat region_of_previous_residence
    state_of_previous_residence detailed_household_and_family_stat
    detailed_household_summary_in_household instance_weight migration_code_change_in_msa
    migration_code_change_in_reg migration_code_move_within_reg live_in_this_house_1_year_ago
    migration_prev_res_in_sunbelt num_persons_worked_for_employer family_members_under_18
    country_of_birth_father country_of_birth_mother country_of_birth_self citizenship
    own_business_or_self_employed fill_inc_questionnaire_for_veterans_admin veterans_benefits
    weeks_worked_in_year year income""".split()
)

_MISSING_NOTE = "Missing values ('?' in the source) are NaN; no row was dropped."

_ADULT_DESCR = f"""UCI Adult (Census Income), 1994 Census extract
===============================================

Source: UCI Machine Learning Repository (Becker & Kohavi, 1996), licence CC BY 4.0.
Rows: 32,561 (train) + 16,281 (test) = 48,842; 14 attribute columns.
Target ``income_over_50k``: 1 if income is '>50K', else 0 (about 24% positive).
Default groups: race x sex (10 groups, labels such as 'White|Male', 'Black|Female').
Other natural groups: race, sex, native_country.
``fnlwgt`` is a census weight, kept as a feature as is customary. {_MISSING_NOTE}
"""

_COMPAS_DESCR = f"""ProPublica COMPAS two-year recidivism (Broward County, Florida)
===============================================================

Source: ProPublica compas-analysis data (Angwin et al., 2016); names, ids and dates
were removed, only modelling columns kept.
Rows: 7,214; 13 attribute columns.
Target ``two_year_recid``: 1 if the person re-offended within two years, else 0.
Default groups: race (6 groups: African-American, Caucasian, Hispanic, Other, Asian,
Native American). Other natural groups: sex, age_cat.
``data`` leaves out ``is_recid`` (it leaks the target) and ``decile_score`` and
``score_text`` (the COMPAS tool's own risk score); all three stay in ``frame`` for
audits of the tool. {_MISSING_NOTE}
"""

_GERMAN_DESCR = f"""UCI Statlog German Credit
=========================

Source: UCI Machine Learning Repository (Hofmann, 1994), licence CC BY 4.0.
Rows: 1,000; 20 attribute columns with readable names (categorical ones keep the
original A-codes, e.g. checking_account 'A11'), plus ``sex`` derived from
``personal_status``: A91, A93, A94 -> 'male'; A92, A95 -> 'female'.
Target ``bad_credit``: 1 = BAD credit risk (source label 2), 0 = good (label 1);
30% positive. The positive class is the adverse outcome.
Default groups: sex. ``personal_status`` stays in ``data`` and still encodes sex;
drop it yourself for a model blind to sex. {_MISSING_NOTE}
"""

_KDD_DESCR = f"""UCI Census-Income (KDD), 1994-95 Current Population Survey
=========================================================

Source: UCI Machine Learning Repository (Lane & Kohavi, 2000), licence CC BY 4.0.
Rows: 199,523 (train) + 99,762 (test) = 299,285; 41 attribute columns.
Target ``income_over_50k``: 1 if income is '50000+', else 0 (about 6% positive).
Default groups: race x sex (10 groups, e.g. 'White|Female').
Other natural groups: region_of_previous_residence, major_industry_code, ...
``instance_weight`` is a survey sampling weight, not a feature: it is left out of
``data`` and returned as ``sample_weight``. Code columns (industry and occupation
recodes, year, ...) are categorical. {_MISSING_NOTE}
"""

DATASETS: dict[str, DatasetSpec] = {
    "adult": DatasetSpec(
        name="adult",
        title="UCI Adult",
        files={"train": "adult_train.csv.gz", "test": "adult_test.csv.gz"},
        rows={"train": 32_561, "test": 16_281},
        columns=_ADULT_COLUMNS,
        numeric=frozenset(
            {"age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"}
        ),
        target="income",
        positive=">50K",
        target_name="income_over_50k",
        default_groups=("race", "sex"),
        exclude=(),
        weight=None,
        description="1994 US Census extract; income above $50K",
        descr=_ADULT_DESCR,
    ),
    "compas": DatasetSpec(
        name="compas",
        title="ProPublica COMPAS",
        files={"all": "compas.csv.gz"},
        rows={"all": 7_214},
        columns=_COMPAS_COLUMNS,
        numeric=frozenset(
            {
                "age",
                "juv_fel_count",
                "juv_misd_count",
                "juv_other_count",
                "priors_count",
                "days_b_screening_arrest",
                "is_recid",
                "decile_score",
            }
        ),
        target="two_year_recid",
        positive="1",
        target_name="two_year_recid",
        default_groups=("race",),
        exclude=("is_recid", "decile_score", "score_text"),
        weight=None,
        description="Broward County defendants; re-offence within two years",
        descr=_COMPAS_DESCR,
    ),
    "german": DatasetSpec(
        name="german",
        title="UCI Statlog German Credit",
        files={"all": "german.csv.gz"},
        rows={"all": 1_000},
        columns=_GERMAN_COLUMNS,
        numeric=frozenset(
            {
                "duration_months",
                "credit_amount",
                "installment_rate",
                "residence_since",
                "age",
                "existing_credits",
                "people_liable",
            }
        ),
        target="credit_risk",
        positive="bad",
        target_name="bad_credit",
        default_groups=("sex",),
        exclude=(),
        weight=None,
        description="German bank loan applicants; 1 = bad credit risk",
        descr=_GERMAN_DESCR,
    ),
    "census_kdd": DatasetSpec(
        name="census_kdd",
        title="UCI Census-Income (KDD)",
        files={"train": "census_kdd_train.csv.gz", "test": "census_kdd_test.csv.gz"},
        rows={"train": 199_523, "test": 99_762},
        columns=_KDD_COLUMNS,
        numeric=frozenset(
            {
                "age",
                "wage_per_hour",
                "capital_gains",
                "capital_losses",
                "dividends_from_stocks",
                "instance_weight",
                "num_persons_worked_for_employer",
                "weeks_worked_in_year",
            }
        ),
        target="income",
        positive="50000+",
        target_name="income_over_50k",
        default_groups=("race", "sex"),
        exclude=(),
        weight="instance_weight",
        description="1994-95 Current Population Survey; income above $50K",
        descr=_KDD_DESCR,
    ),
}
