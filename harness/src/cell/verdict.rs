//! How a cell ended, decided in the cell: the verdict against the table
//! for a cell that judged, the error for one that stopped, or why it was
//! not run. The report stores what this returns and decides nothing.

use crate::expect::{self, Expectation, Observation};
use crate::report::{CellResult, Checks, Status};
use crate::vocab::{Cell, Judgement};

/// What the table expects of `cell`, or its opposite when `opposite`
/// (E2E_CONTROL=opposite: the cell must fail).
pub(super) fn expectation(cell: Cell, opposite: bool) -> Expectation {
    let e = expect::expected(cell.variant, cell.disruption, cell.provider);
    if opposite { e.opposite() } else { e }
}

/// The result of a cell that judged: passed when what it saw is what the
/// table expects and the check `beside` it held, failed with the mismatch
/// (or the check's failure) otherwise; `prometheus` and `grafana` are the
/// judgements the observation rests on.
pub fn judged(
    cell: Cell,
    opposite: bool,
    k8s_version: Option<&str>,
    observation: Observation,
    prometheus: Option<&Judgement>,
    grafana: Option<&Judgement>,
    beside: std::result::Result<(), String>,
) -> CellResult {
    let expected = expectation(cell, opposite);
    let status = match (expect::matches(&expected, &observation), beside) {
        (Ok(()), Ok(())) => Status::Passed,
        (Err(m), Ok(())) => Status::Failed {
            failure: m.to_string(),
        },
        (Ok(()), Err(b)) => Status::Failed { failure: b },
        (Err(m), Err(b)) => Status::Failed {
            failure: format!("{m}; and {b}"),
        },
    };
    let checks = Checks {
        prometheus: prometheus.map(Into::into),
        grafana: grafana.map(Into::into),
    };
    CellResult::new(cell, k8s_version, expected, status).with_observation(observation, checks)
}

/// The result of a cell that could not run to its judgement (setup,
/// disruption or a wait failed, or the backstop cut it off).
pub fn failed(cell: Cell, k8s_version: Option<&str>, err: impl std::fmt::Display) -> CellResult {
    let status = Status::Failed {
        failure: format!("cell {cell} failed before it could be judged: {err:#}"),
    };
    CellResult::new(cell, k8s_version, expectation(cell, false), status)
}

/// The result of a cell not run because the run failed before it (`why`
/// says how): neither passed nor judged.
pub fn not_run(cell: Cell, why: impl Into<String>) -> CellResult {
    let status = Status::NotRun { why: why.into() };
    CellResult::new(cell, None, expectation(cell, false), status)
}
